/* http.h - HTTP/1.x message reassembly over the bytes of one connection, fed
 * in whatever pieces the records carry.  Shared by the viewers, the
 * formatters and tcpmon-send.
 *
 * Both directions of a connection go through one struct http_conn, because
 * a response's framing depends on its request (HEAD, CONNECT).  Every byte
 * fed comes back through the raw callback, in order: the bytes of a message
 * are all reported before its end callback, the next message's after it.
 * A direction that does not look like HTTP, or breaks its rules, turns raw:
 * from then on its bytes are only reported through raw. */
#ifndef TCPMON_HTTP_H
#define TCPMON_HTTP_H

#include <stddef.h>
#include <stdint.h>

#define HTTP_MAX_HEAD		(64 * 1024)	/* start line and headers */
#define HTTP_MAX_HEADERS	128
#define HTTP_PENDING		64	/* requests awaiting a response */

enum http_dir { HTTP_REQ = 0, HTTP_RESP = 1 };

enum http_body {
	HTTP_BODY_NONE,
	HTTP_BODY_LENGTH,	/* Content-Length */
	HTTP_BODY_CHUNKED,	/* Transfer-Encoding: chunked */
	HTTP_BODY_EOF,		/* a response that ends with the connection */
	HTTP_BODY_TUNNEL	/* after CONNECT or 101: no longer HTTP */
};

enum http_end {
	HTTP_END_OK,		/* framed by length or chunks, or no body */
	HTTP_END_EOF,		/* the body ended with the connection */
	HTTP_END_TRUNCATED	/* the connection ended inside the message */
};

struct http_header {
	const char	*name;
	const char	*value;
};

struct http_head {
	enum http_dir	 dir;
	const char	*method;	/* requests */
	const char	*target;
	int		 status;	/* responses */
	const char	*reason;
	int		 major, minor;
	int		 nheader;
	struct http_header *header;	/* the parser's, HTTP_MAX_HEADERS */
	enum http_body	 body;
	uint64_t	 length;	/* HTTP_BODY_LENGTH */
	size_t		 rawlen;	/* the head's bytes on the wire */
	int		 ntrailer;	/* chunked: trailer fields (at the end) */
};

struct http_callbacks {
	void	(*raw)(void *, enum http_dir, const unsigned char *, size_t);
	void	(*head)(void *, const struct http_head *);
	/* Body bytes with the chunked framing taken off. */
	void	(*body)(void *, enum http_dir, const unsigned char *, size_t);
	/* head is NULL when the connection ended inside a head. */
	void	(*end)(void *, enum http_dir, const struct http_head *,
		    enum http_end);
	/* The direction turned raw; why is a short phrase. */
	void	(*notraw)(void *, enum http_dir, const char *why);
};

struct http_parser {
	enum http_dir	 dir;
	int		 state;
	char		*buf;		/* the head being read, then its strings */
	size_t		 len, cap;
	char		 line[64];	/* a chunk-size line */
	size_t		 linelen;
	uint64_t	 remain;	/* body or chunk bytes still to come */
	int		 in_msg;	/* bytes of a message seen, not ended */
	/* Set by the user: chunked framing only as RFC 9112 writes it, no
	 * bare LF, nothing but extensions after a chunk size (a proxy
	 * frames requests so).  Off: read as leniently as receivers do. */
	int		 strict;
	int		 prevcr;	/* strict: a line's last byte was CR */
	struct http_head head;
	/* Allocated with the first head: a connection that never carries
	 * HTTP, or rests between messages (http_conn_trim), costs only the
	 * structure. */
	struct http_header *hdr;
};

struct http_conn {
	struct http_parser p[2];
	const struct http_callbacks *cb;
	void		*arg;
	/* Methods of requests whose responses have not come yet, as far as
	 * framing goes: HEAD, CONNECT or another (http.c). */
	unsigned char	 pending[HTTP_PENDING];
	int		 npending, first;
};

void	 http_conn_init(struct http_conn *, const struct http_callbacks *,
	    void *arg);
void	 http_conn_free(struct http_conn *);
void	 http_conn_feed(struct http_conn *, enum http_dir,
	    const unsigned char *, size_t);
/* That direction was closed (or the stream ended). */
void	 http_conn_eof(struct http_conn *, enum http_dir);
/* Whether that direction turned raw. */
int	 http_conn_is_raw(const struct http_conn *, enum http_dir);
/* Gives back the memory of the last heads of the directions that are
 * between messages; the strings of those heads are gone after it.  For
 * readers that follow many connections at once. */
void	 http_conn_trim(struct http_conn *);
/* Whether no message is under way either way and no response is awaited:
 * freeing hc and initializing it again would change nothing. */
int	 http_conn_idle(const struct http_conn *);

/* Whether c may stand in a token (RFC 9110 tchar: a method, a header's
 * name); and whether s[0..n) is one, not empty. */
int	 http_tchar(int c);
int	 http_token(const char *s, size_t n);

/* The first header of that name (case-insensitive), or NULL. */
const char *http_header(const struct http_head *, const char *name);
/* Whether a comma-separated header holds token (case-insensitive). */
int	 http_header_has(const struct http_head *, const char *name,
	    const char *token);

#endif
