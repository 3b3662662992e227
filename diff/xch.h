/* xch.h - the HTTP exchanges of a capture, in the order tcpmon-diff pairs
 * them: connections in the order they opened, each connection's exchanges
 * in the order they were sent. */
#ifndef TCPMON_XCH_H
#define TCPMON_XCH_H

#include <stddef.h>
#include <stdint.h>

struct dhdr {
	char		*name, *value;
};

/* One message: its start line's parts, its headers, its body (de-chunked
 * and decoded). */
struct dmsg {
	int		 have;
	char		*method, *target;	/* a request */
	int		 status;		/* a response */
	char		*reason;
	struct dhdr	*h;
	int		 nh;
	unsigned char	*body;
	size_t		 blen, bcap;
	char		*ctype, *cenc;
};

struct dxch {
	uint64_t	 conn;
	char		 src[64];
	int		 seq;		/* 0 for a connection's first */
	uint64_t	 order;		/* the connection's place in the capture */
	struct dmsg	 req, resp;
	/* UTC us of the records that ended the request and began the
	 * answer (the server's think time between), or -1. */
	int64_t		 t_req_end, t_resp;
	int		 used;		/* paired */
};

struct capture {
	const char	*name;
	struct dxch	**x;
	size_t		 n, cap;
};

/* Reading a capture's exchanges as they become known: an exchange comes
 * out once its connection has ended and every connection opened before it
 * has, so that memory holds what is open, not the capture. */
struct creader;
struct creader *cr_open(const char *path, char *msg, size_t msglen);
/* The next exchange (yours to dxch_free), or NULL at the end; then
 * cr_error says whether the input was bad. */
struct dxch *cr_next(struct creader *);
const char *cr_error(const struct creader *);
void	 cr_close(struct creader *);
void	 dxch_free(struct dxch *);

/* Reads every exchange of the capture at path ("-": stdin).  0, or -1
 * with a message (the capture's problem) in msg. */
int	 cap_read(struct capture *, const char *path, char *msg, size_t msglen);
void	 cap_free(struct capture *);
/* The value of a header of m (the first of that name), or NULL. */
const char *dmsg_header(const struct dmsg *, const char *name);

#endif
