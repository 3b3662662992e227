/* send.h - the parts of tcpmon-send: options (send.c), the request (url.c,
 * request.c, soap.c, a raw one checked in rawreq.c), one connection's exchange (exchange.c), a run that
 * shows its answers (output.c), repeated requests (repeat.c), re-sending a
 * capture (replay.c) and --pretty (pretty.c). */
#ifndef TCPMON_SEND_H
#define TCPMON_SEND_H

#include <stddef.h>
#include <stdint.h>

#include "http.h"
#include "loop.h"
#include "net.h"

#define SEND_MAX_INPUT	(64u * 1024 * 1024)	/* a body, a raw request or
						   a replayed stream */
#define SEND_KEEP_BODY	(16u * 1024 * 1024)	/* answer body kept for the
						   Fault check and --pretty */
#define SEND_BUF	(64 * 1024)		/* one read */
#define SEND_MAX_HEADERS 64			/* -H */
#define SEND_MAX_REDIRECTS 10
#define SEND_MAX_COUNT	1000000			/* -n */
#define SEND_MAX_CONC	1000			/* -c */
#define SEND_WAIT100_MS	1000			/* Expect: 100-continue */

enum show_mode { SHOW_TEXT, SHOW_RECORDS, SHOW_NONE };

/* assert.c: what an answer must be (--assert-*). */
#define ASSERT_MAX	16
enum { ASSERT_STATUS = 1024, ASSERT_XPATH, ASSERT_JSON, ASSERT_TIME,
	ASSERT_NO_FAULT, ASSERT_NS };

struct asserts {
	int		 any;		/* an --assert-* was given */
	int		 status;	/* 0: not asserted */
	int64_t		 time_ms;	/* -1: not asserted */
	int		 no_fault;
	const char	*xpath[ASSERT_MAX];
	int		 nxpath;
	const char	*json_path[ASSERT_MAX], *json_value[ASSERT_MAX];
	int		 njson;
	const char	*ns_prefix[ASSERT_MAX], *ns_uri[ASSERT_MAX];
	int		 nns;
};

/* Takes an option ASSERT_*, its argument cut in place: -1 with msg. */
int	 assert_opt(struct asserts *, int opt, char *arg, char *msg,
	    size_t msglen);
/* Compiles the XPath expressions: -1 with msg naming a bad one. */
int	 assert_setup(struct asserts *, char *msg, size_t msglen);
/* Checks an answer (its body, whole or cut at SEND_KEEP_BODY; fault the
 * SOAP Fault's text when a fault fails it: --assert-no-fault, or a SOAP
 * request without an --assert-status of 400 or more; else NULL); each
 * failure is a line on stderr.  Returns how many failed. */
int	 assert_check(const struct asserts *, int status,
	    const unsigned char *, size_t, int whole, const char *fault,
	    int64_t elapsed_us);

struct opts {
	const char	*url;		/* URL, or HOST:PORT with --raw */
	const char	*file;		/* body or raw request; "-": stdin */
	const char	*method;
	const char	*header[SEND_MAX_HEADERS];
	int		 nheader;
	const char	*soap_action;
	int		 soap12;
	int		 no_check;
	int		 raw, fix_length, as_is;
	int		 as_came;	/* answers shown as their bytes came:
					   --raw without --pretty */
	int		 follow, no_fail, pretty, verbose;
	int		 text, records;	/* forced output form */
	const char	*out;		/* -o: the answer body alone */
	const char	*replay;
	uint64_t	 conn;
	int		 have_conn;
	uint64_t	 exchange;	/* --exchange K, 1-based; 0: all */
	const char	*src;
	const char	*target;	/* -t */
	int		 pace;
	uint64_t	 count, conc;	/* -n, -c */
	int		 repeat;	/* -n or -c given */
	uint64_t	 timeout_ms;	/* 0: none */
	uint64_t	 connect_ms;
	const char	*cacert;	/* --cacert */
	int		 insecure;	/* -k */
	const char	*cert, *key;	/* --cert, --key */
	struct asserts	 as;
	int		 replay_all;	/* --replay without --conn */
	uint64_t	 replay_conc;	/* ... -c N: N at a time */
	uint64_t	 id_base;	/* records: numbers go on from here */
	int		 no_stream;	/* records: the stream record was
					   written by an earlier run */
};

/* A piece of what one connection sends. */
struct chunk {
	const unsigned char *p;
	size_t		 len;
	int64_t		 at_us;		/* since the first chunk, for --pace */
	int		 wait100;	/* a body held for 100 Continue */
};

/* What one connection sends, and where. */
struct plan {
	struct addr	 addr;
	int		 tls;		/* https://, or -t tls: */
	struct sockaddr_any sa;
	char		 what[2048];	/* a URL or an address, for messages */
	struct chunk	*chunk;
	int		 nchunk;
	int		 pace;
	int64_t		 t_start, t_lookup;	/* monotonic us */
};

/* url.c */
struct url {
	char		 host[256];	/* without brackets */
	char		 port[8];
	char		 hostport[272];	/* for Host: as in the URL */
	char		*path;		/* path and query, "/" at least */
	int		 tls;		/* https:// */
	char		 text[2048];	/* the URL, for messages */
};

int	 url_parse(const char *, struct url *, char *err, size_t);
/* A redirect's Location against the URL it came from. */
int	 url_follow(const struct url *, const char *loc, struct url *,
	    char *err, size_t);
void	 url_free(struct url *);
/* The URL's host and port as an address to connect to. */
int	 url_addr(const struct url *, struct addr *, char *err, size_t);

/* request.c */
struct request {
	unsigned char	*buf;		/* head then body */
	size_t		 len, head_len;
	int		 expect100;
	struct chunk	 chunk[2];
	int		 nchunk;
};

/* Reads a file or "-" whole, up to SEND_MAX_INPUT; exits 2 on failure. */
void	 read_input(const char *path, unsigned char **, size_t *);
/* Checks the body (XML, SOAP version) and builds the request for u; exits
 * 2 on bad input. */
void	 req_build(const struct opts *, const struct url *, const char *method,
	    const unsigned char *body, size_t blen, int has_body,
	    struct request *);
/* A raw request checked (exits 2 when its framing is wrong), corrected
 * with --fix-length, or as it is with --as-is. */
void	 req_raw(const struct opts *, unsigned char *, size_t,
	    struct request *);
void	 req_free(struct request *);

/* rawreq.c: a raw request file checked before it is sent, and corrected
 * for --fix-length; a client's bytes cut into requests for --exchange. */
struct rawreq {
	size_t		 head_len;	/* through its empty line */
	size_t		 body_len;	/* all that follows */
	int		 bare_lf;	/* a line of the head ends in LF alone */
	int		 chunked;
	int		 several;	/* more than one request */
};

/* NULL when p holds one request that ends with its framing (Content-Length
 * or chunks) at the end of p, or with line ends alone after a request
 * without a body; otherwise what is wrong, in msg. */
const char *rawreq_check(const unsigned char *p, size_t n, struct rawreq *,
    char *msg, size_t);
/* The request with the lines of its head ended in CRLF, an empty line
 * after it, and one Content-Length, the body's length, in place of any
 * (none when chunked, nor for a body of line ends alone).  malloc'ed;
 * NULL when out of memory. */
unsigned char *rawreq_fix(const unsigned char *p, size_t n, size_t *outlen);
/* Where request k (1-based) of a client's bytes starts and ends; -1 with
 * why in msg when there is no such request. */
int	 rawreq_find(const unsigned char *p, size_t n, uint64_t k,
	    size_t *start, size_t *end, char *msg, size_t);

/* soap.c */
#define SOAP_NONE	0
#define SOAP_11		11
#define SOAP_12		12
/* 0 when well-formed (*version: the envelope's SOAP version, or
 * SOAP_NONE), -1 with libxml2's message in msg. */
int	 xml_check(const unsigned char *, size_t, int *version, char *msg,
	    size_t);
/* 1 when the body is a SOAP Fault, with its code and text in msg. */
int	 soap_fault(const unsigned char *, size_t, char *msg, size_t);
void	 xml_done(void);

/* exchange.c: one connection sending a plan and reading its answers. */
struct xchg;
struct xchg_ops {
	void	(*opened)(void *, struct xchg *);	/* connect started */
	void	(*sent)(void *, struct xchg *, const unsigned char *, size_t);
	void	(*rcvd)(void *, struct xchg *, const unsigned char *, size_t);
	/* The parser's callbacks for the answers: they must not end x. */
	void	(*head)(void *, struct xchg *, const struct http_head *);
	void	(*body)(void *, struct xchg *, const unsigned char *, size_t);
	void	(*end)(void *, struct xchg *, const struct http_head *,
		    enum http_end);
	/* Everything was sent and every request has its final answer:
	 * send more (xchg_resend) or end x (xchg_close). */
	void	(*idle)(void *, struct xchg *);
	/* x ended (reason and error set); the last call for this
	 * connection. */
	void	(*closed)(void *, struct xchg *);
};

struct xchg {
	struct loop	*loop;
	const struct xchg_ops *ops;
	void		*arg;
	const struct plan *plan;
	uint64_t	 id;
	int		 fd;
	int		 state;
	int		 ci;		/* chunk being sent */
	size_t		 coff;
	int		 go100;		/* the held body may go */
	int64_t		 wait_until;	/* monotonic us: pace or 100 */
	int64_t		 wake;		/* the loop's timer for it, or -1 */
	int64_t		 deadline;	/* monotonic us, 0: none */
	uint64_t	 timeout_ms, connect_ms;
	struct http_conn hc;
	int		 nreq, nfinal;
	int		 keepalive;	/* the last answer lets us go on */
	int		 skipped;	/* a body never sent after a final
					   answer to Expect */
	const char	*resp_raw;	/* why the answers are not HTTP */
	uint64_t	 c2s, s2c;
	/* Monotonic us: start, lookup done, connected, all sent, first
	 * byte, end. */
	int64_t		 t0, t_lookup, t_conn, t_sent, t_first, t_end;
	int64_t		 t_req;		/* the current request started */
	const char	*reason;	/* close: eof, timeout, refused ... */
	int		 error;		/* errno, or 0 */
	const char	*errtext;	/* or a phrase */
	char		 local[ADDR_TEXT + 16];
	unsigned char	*buf;		/* SEND_BUF */
	struct ssl_st	*ssl;		/* TLS (tls.c), or NULL */
	unsigned	 tlswant;	/* the handshake waits for */
	char		 tlswhy[300];	/* why TLS failed */
};

/* tls.c: https:// (curl's --cacert, -k, --cert, --key) */
/* Makes the context from the options; exits 2 naming a file it cannot
 * use. */
void	 stls_init(const struct opts *);
void	 stls_done(void);
/* TLS on x's connected socket, for the plan's host: -1 with x->tlswhy. */
int	 stls_start(struct xchg *);
/* 1 done, 0 waiting for x->tlswant, -1 failed with x->tlswhy. */
int	 stls_handshake(struct xchg *);
/* As recv(2) and send(2): -1 with errno EAGAIN when it must wait. */
ssize_t	 stls_recv(struct xchg *, void *, size_t);
ssize_t	 stls_send(struct xchg *, const void *, size_t);
/* close_notify: no more from us. */
void	 stls_shut(struct xchg *);
void	 stls_free(struct xchg *);

/* Starts connecting; failures come back through closed. */
void	 xchg_start(struct xchg *, struct loop *, const struct plan *,
	    uint64_t timeout_ms, uint64_t connect_ms,
	    const struct xchg_ops *, void *arg);
/* Sends the plan again on the same connection (keep-alive). */
void	 xchg_resend(struct xchg *);
void	 xchg_close(struct xchg *, const char *reason, int error,
	    const char *text);
/* Timeouts, the held body, --pace: called every tick. */
void	 xchg_tick(struct xchg *);
/* The parsing side of an exchange, apart from the socket, for the loop
 * above and for tests/fuzz/fuzz_sendresp.c.  xchg_reset: all of
 * xchg_start but the connect.  xchg_sent: n bytes of the current chunk
 * went out.  xchg_rcvd: p came from the server; 1 when xchg_answered.
 * xchg_answered: every request sent has its final answer, nothing is
 * left to send and no answer is half read. */
void	 xchg_reset(struct xchg *, const struct plan *, uint64_t timeout_ms,
	    uint64_t connect_ms, const struct xchg_ops *, void *arg);
void	 xchg_sent(struct xchg *, size_t n);
int	 xchg_rcvd(struct xchg *, const unsigned char *p, size_t n);
int	 xchg_answered(const struct xchg *);
void	 xchg_free(struct xchg *);
/* "Connection refused", "timed out" ...: what ended x, for a person. */
const char *xchg_why(const struct xchg *);

/* output.c: one run that shows its answers.  Returns the exit status. */
int	 run_show(const struct opts *, struct plan *, const struct url *,
	    const struct request *);

/* output.c: --replay -c N: the runs of n plans, conc at once, as records
 * on stdout.  Returns the worst exit status. */
int	 run_many(const struct opts *, struct plan **, size_t n, size_t conc);

/* repeat.c: -n and -c.  Returns the exit status. */
int	 run_repeat(const struct opts *, struct plan *);

/* replay.c */
struct replay {
	unsigned char	*buf;
	size_t		 len;
	struct chunk	*chunk;
	int		 nchunk;
	char		 target[ADDR_TEXT + 256];	/* from the open record */
	char		 src[256];
};

/* Loads what the client of a connection sent; exits 2 on bad input. */
void	 replay_load(const struct opts *, struct replay *);
void	 replay_free(struct replay *);
/* --replay without --conn: the connections of the capture whose client
 * sent something, in the order they opened (malloc'd, *n of them; their
 * sources in src, SEND_SRC_MAX bytes each). Exits 2 on bad input. */
#define SEND_SRC_MAX	256
uint64_t *replay_list(const struct opts *, char **src, size_t *n);

/* send.c: resolves the plan's address, timing it; -1 with a reason. */
int	 plan_resolve(struct plan *, char *err, size_t);

#endif
