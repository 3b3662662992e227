/* view.h - tcpmon-view, TCPMon's window in a terminal: the index of what
 * was read (connections and HTTP exchanges, with where their records lie
 * in the store), the detail of one exchange, and the screen.
 *
 * Memory holds only the index; payloads stay in the store (the capture file
 * itself, or the spool that a live input is written to) and are read again
 * when an exchange is shown, saved or filtered. */
#ifndef TCPMON_VIEW_H
#define TCPMON_VIEW_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ctab.h"
#include "record.h"

/* Where records lie: the capture read in place, or a spool file that the
 * view writes whole records to (a live input, several or gzip'd files,
 * and the resends). */
struct store {
	int		 fd;		/* read and, for a spool, append */
	char		*path;
	uint64_t	 size;		/* bytes of whole records in it */
	int		 spool;		/* written by us */
	int		 temp;		/* removed at exit */
};

enum vstate { VS_ACTIVE, VS_DONE, VS_RESET, VS_REFUSED, VS_TIMEOUT,
	VS_TLS, VS_ERROR, VS_STOPPED, VS_CUT, VS_NSTATE };

#define VC_MARKED	0x01	/* space */
#define VC_DELETED	0x02	/* d: no row */
#define VC_PICKED	0x04	/* chosen by the filter */
#define VC_RESEND	0x08	/* made by r or e */
#define VC_HTTP		0x10	/* a request head was seen */
#define VC_CLOSED	0x20

/* One connection.  Strings are offsets into the index's arena. */
struct vconn {
	uint64_t	 conn;
	uint64_t	 first, end;	/* its records: [first, end) of the store */
	uint64_t	 up, down;	/* bytes each way */
	int64_t		 start, last;	/* times of its first and last record */
	uint32_t	 src;		/* arena: the source tag */
	uint32_t	 client, target; /* arena */
	uint32_t	 label;		/* arena: first bytes, for non-HTTP */
	uint32_t	 resend_of;	/* arena: "SRC#N" of the original, or 0 */
	uint32_t	 x0;		/* its first exchange */
	uint32_t	 nx;		/* its exchanges */
	uint32_t	 xresp;		/* exchanges answered so far */
	uint8_t		 store;		/* 0 main, 1 own */
	uint8_t		 state;		/* enum vstate */
	uint8_t		 flags;		/* VC_* */
	uint8_t		 tls;		/* 1: client side, 2: server side */
	struct ixconn	*ix;		/* while open: the HTTP parser */
};

/* One HTTP request and its answer; a connection that carries no HTTP has
 * one, for its row. */
struct vxch {
	uint32_t	 c;		/* its connection, in the index */
	uint32_t	 seq;		/* 0 for the first of its connection */
	int64_t		 start, end;	/* request's first, answer's last byte */
	uint64_t	 up, down;
	uint32_t	 label;		/* arena: method and target */
	uint16_t	 status;	/* 0: no answer yet */
	uint8_t		 flags;
};

#define VX_ENDED	0x01	/* the answer ended */
#define VX_DELETED	0x02	/* d: no row */

struct index {
	struct store	 st[2];		/* main, own */
	struct vconn	*c;
	size_t		 nc, capc;
	struct vxch	*x;
	size_t		 nx, capx;
	char		*arena;		/* NUL-terminated strings */
	size_t		 narena, caparena;
	struct ctab	 byid;		/* (src, conn) -> index in c + 1 */
	uint64_t	 gen;		/* bumped by every change */
	uint64_t	 nrec;
	uint64_t	 own_next;	/* the next connection number of ours */
	/* Called with each record taken in (the live filter). */
	void		(*feed)(void *, const struct rec *, const unsigned char *,
			    size_t);
	void		*feed_arg;
	int64_t		 now;		/* time of the record being indexed */
	char		 err[512];	/* the input's problem, if any */
};

void	 ix_init(struct index *);
void	 ix_free(struct index *);
/* A string of the arena. */
const char *ix_str(const struct index *, uint32_t);
/* A spool for store s: a temporary file, or path (created 0600).  0, or
 * -1 with errno. */
int	 ix_spool(struct index *, int s, const char *path);
/* The store of the view's own records (the resends): a temporary file,
 * made on first use. */
int	 ix_spool_own(struct index *);
/* Uses the file at path (already open as fd) as the main store. */
void	 ix_inplace(struct index *, int fd, const char *path);
/* A record read from an input, raw its bytes: written to the store's
 * spool when it has one, and indexed. -1 when the spool cannot be
 * written (err set). */
int	 ix_take(struct index *, int s, const struct rec *,
	    const unsigned char *raw, size_t rawlen);
/* The input ended: connections still open are left active. */
void	 ix_end(struct index *);

/* Reading a connection's records back: fn is called with each. */
typedef int ix_rec_fn(void *, const struct rec *, const unsigned char *raw,
    size_t rawlen);
/* Reads the records of connection ci (all records when ci is -1) in
 * order; stops early when fn returns non-zero.  Returns 0, or -1 with a
 * message in msg. */
int	 ix_scan(struct index *, long ci, ix_rec_fn *, void *, char *msg,
	    size_t msglen);

const char *vstate_name(enum vstate);

/* One side of an exchange, as the panes show it. */
struct side {
	unsigned char	*raw;		/* its bytes on the wire */
	size_t		 rawlen, rawcap;
	unsigned char	*head;		/* start line and headers, as text */
	size_t		 headlen, headcap;
	unsigned char	*body;		/* de-chunked, decoded */
	size_t		 bodylen, bodycap;
	char		 ctype[128];
	int		 have;		/* a message (or bytes) came */
	int		 http;
	int		 nheader;
	char		 decoded[64];	/* "gzip decoded", or a problem */
};

/* A pane's text, made of lines safe for a terminal. */
struct pane {
	char		*text;
	size_t		 len, cap;
	size_t		*line;		/* offsets of line starts */
	size_t		 nline, capline;
	size_t		 top;		/* first line shown */
	const char	*note;		/* "XML formatted", ... */
};

struct detail {
	long		 x;		/* the exchange, or -1 */
	uint64_t	 gen;		/* the index's, when made */
	int		 fmt, hex, heads; /* the toggles it was made with */
	struct side	 s[2];		/* request, response */
	struct pane	 p[2];
	char		 err[256];
};

void	 det_init(struct detail *);
void	 det_free(struct detail *);
/* Builds the panes of exchange x. */
void	 det_make(struct detail *, struct index *, long x, int fmt, int hex,
	    int heads);

#endif
