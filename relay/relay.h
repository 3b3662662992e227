/* relay.h - the parts of tcpmon-relay: options and listeners (relay.c) and
 * the connection state machine (conn.c). */
#ifndef TCPMON_RELAY_H
#define TCPMON_RELAY_H

#include <stdint.h>

#include "loop.h"
#include "net.h"
#include "record.h"

#define RELAY_BUF	(64 * 1024)	/* bytes in flight per direction */
#define MAX_LISTENERS	64

struct listener {
	int		 fd;
	struct addr	 target;	/* as given */
	struct sockaddr_any taddr;	/* resolved once, at start */
	char		 text[ADDR_TEXT + 256];	/* the bound address */
	int		 paused;
	struct relay	*r;
};

/* One direction of a connection: bytes read from one socket that the other
 * has not taken yet.  The buffer exists only while bytes wait in it, so an
 * idle connection costs no buffer memory. */
struct half {
	unsigned char	*buf;
	size_t		 off, len;
	int		 eof;		/* the sender half-closed */
	int		 shut;		/* and we passed the FIN on */
	uint64_t	 total;
};

struct conn {
	uint64_t	 id;
	int		 cfd, sfd;
	int		 connecting;
	struct listener	*l;
	struct half	 c2s, s2c;
	int64_t		 started;	/* monotonic ms */
	int64_t		 active;	/* last byte moved, monotonic ms */
	unsigned	 cev, sev;	/* events we watch on cfd and sfd */
	struct relay	*r;
	struct conn	*prev, *next;
};

struct relay {
	struct loop	*loop;
	struct rec_writer out;
	const char	*outname;
	char		 src[64];
	struct listener	 l[MAX_LISTENERS];
	int		 nl;
	uint64_t	 next_id;
	struct conn	*conns;
	uint64_t	 nconns;
	uint64_t	 max_conns;
	uint64_t	 connect_ms;	/* 0: no limit */
	uint64_t	 idle_ms;	/* 0: no limit */
	int		 verbose;
	int		 quiet;
	unsigned char	*scratch;	/* RELAY_BUF, shared by every read */
};

void	 conn_accept(struct relay *, struct listener *, int cfd);
void	 conn_sweep(struct relay *);
void	 conn_stop_all(struct relay *);
/* Writes a record; a closed output ends the relay quietly, as `| head`
 * expects. */
void	 relay_put(struct relay *, struct rec *, const void *, size_t);
void	 relay_resume_listeners(struct relay *);

#endif
