/* preq.h - the request head of --proxy (preq.c): where it ends, what it
 * asks for, and the origin-form head that goes on to the server.  Pure
 * functions over bytes, apart from the event loop, so that they can be
 * fuzzed. */
#ifndef TCPMON_PREQ_H
#define TCPMON_PREQ_H

#include <stddef.h>

#include "http.h"

#define PREQ_MAX_CONNTOK 16	/* headers a Connection header may name */
/* Header lines in a head: its rewrite, with Host, Via and Connection
 * added, must stay within what http.c frames, or the proxy would lose
 * track of where the request and its answer end. */
#define PREQ_MAX_FIELDS	(HTTP_MAX_HEADERS - 3)

/* A parsed request head: pointers into the bytes given to preq_parse. */
struct preq {
	const char	*method, *uri, *path;
	size_t		 mlen, ulen, plen;
	const char	*auth;		/* host[:port] as in the URI */
	size_t		 alen;
	int		 minor;
	int		 connect;
	int		 keep;
	const char	*lines;		/* the header lines */
	size_t		 lineslen;
	struct { const char *p; size_t n; } ctok[PREQ_MAX_CONNTOK];
	int		 nctok;
	char		 host[256], port[8];
	int		 status;	/* refused: 400, or 431 */
};

/* The length of the head at b: up to an empty line, ended by CRLF or a
 * bare LF (which preq_parse refuses, with a reason); 0 if not yet. */
size_t	 preq_head_end(const unsigned char *b, size_t n);
/* Parses the head s[0..n), as preq_head_end found it, into q.  Returns
 * NULL, or a reason for the answer in q->status. */
const char *preq_parse(const char *s, size_t n, struct preq *q);
/* Whether a Via header of q holds token. */
int	 preq_via_has(const struct preq *q, const char *token);
/* Writes the origin-form head for q into o, with a Via header naming
 * token when it is not NULL; its length, or -1 when it does not fit in
 * room bytes. */
int	 preq_build(const struct preq *q, const char *token, char *o,
	    size_t room, size_t *len);

#endif
