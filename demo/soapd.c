/* soapd.c - tcpmon-demo-soapd: a small SOAP 1.1/1.2 endpoint over HTTP/1.1,
 * the real backend that `make demo` and the tests put behind the relay. */
#include <sys/socket.h>
#include <sys/uio.h>

#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>

#include "net.h"
#include "util.h"

#define PROG		"tcpmon-demo-soapd"

#define HDR_MAX		(64 * 1024)	/* request line, headers, trailers */
#define BODY_MAX	(8 * 1024 * 1024)
#define CHUNK_LINE_MAX	1024
#define IDLE_MS		10000	/* silence allowed between requests */
#define REQ_MS		10000	/* from a request's first byte to its last */
#define SEND_MS		10000	/* to write one response */
#define DRAIN_MS	2000	/* reading what is left before an error close */

#define NS_SOAP11	"http://schemas.xmlsoap.org/soap/envelope/"
#define NS_SOAP12	"http://www.w3.org/2003/05/soap-envelope"
#define NS_DEMO		"urn:tcpmon:demo"
#define CT_SOAP11	"text/xml; charset=utf-8"
#define CT_SOAP12	"application/soap+xml; charset=utf-8"

#define ABOUT \
	PROG ": a SOAP 1.1 and 1.2 demo endpoint.\n" \
	"POST a SOAP envelope to any path.  Operations, namespace " \
	NS_DEMO ":\n" \
	"  Add(a, b)   -> AddResponse/result   (64-bit integers)\n" \
	"  Echo(text)  -> EchoResponse/text\n"

/* Outcomes of waiting, reading and writing. */
enum io { IO_OK, IO_EOF, IO_TIMEOUT, IO_ERR, IO_QUIT, IO_LONG };

struct opts {
	const char	*listen;
};

/*
 * One client connection.  in[] holds bytes read but not used yet: the rest
 * of the current request or, when the client pipelines, the next one.  Its
 * size is the header cap, so that one header line always fits.
 */
struct conn {
	int		 fd;
	char		 in[HDR_MAX];
	size_t		 pos, end;
};

struct req {
	char		 method[16];
	char		 target[256];	/* only "/" is told apart */
	int		 minor;		/* HTTP/1.minor */
	int		 keepalive;
	int		 chunked;
	int		 has_len;
	uint64_t	 clen;
	int		 expect_continue;
	char		 ctype[128];
	size_t		 hdrbytes;	/* counted against HDR_MAX */
	char		*body;
	size_t		 blen, bcap;
};

enum fault { FAULT_NONE, FAULT_CLIENT, FAULT_SERVER, FAULT_VERSION,
	FAULT_MUST };

/* What the SOAP layer answers: a response element or a fault. */
struct answer {
	int		 v12;
	enum fault	 fault;
	char		 why[512];
	const char	*op;		/* "AddResponse" */
	const char	*field;		/* its one child */
	xmlChar		*value;
};

static volatile sig_atomic_t quit;
/* The signal mask while waiting: SIGINT and SIGTERM are blocked at all
 * other times, so a signal lands in ppoll and can never be lost between
 * a check of `quit` and a blocking call. */
static sigset_t waitmask;

static struct conn conn;	/* one connection at a time */

static void
on_signal(int sig)
{
	(void)sig;
	quit = 1;
}

static void
usage(FILE *f)
{
	fprintf(f, "usage: %s [-l [ADDR:]PORT]\n", PROG);
}

static void
parse_opts(int argc, char *argv[], struct opts *o)
{
	static const struct option longopts[] = {
		{ "help",	no_argument,		NULL,	'h' },
		{ "listen",	required_argument,	NULL,	'l' },
		{ NULL,		0,			NULL,	0 }
	};
	int ch;

	o->listen = "0";
	/* getopt's own messages name argv[0], not the program: ours do. */
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":hl:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			usage(stdout);
			exit(TM_EXIT_OK);
		case 'l':
			o->listen = optarg;
			break;
		case ':':
			warnx("%s: needs an argument", argv[optind - 1]);
			usage(stderr);
			exit(TM_EXIT_USAGE);
		default:
			if (optopt != 0)
				warnx("-%c: unknown option", optopt);
			else
				warnx("%s: unknown option", argv[optind - 1]);
			usage(stderr);
			exit(TM_EXIT_USAGE);
		}
	}
	if (optind != argc) {
		warnx("%s: unexpected argument", argv[optind]);
		usage(stderr);
		exit(TM_EXIT_USAGE);
	}
}

/* --- waiting, reading and writing with deadlines ------------------- */

/* Waits for events on fd until deadline (monotonic ms; -1: none). */
static enum io
wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd pfd;
	struct timespec ts, *tsp = NULL;
	int64_t left;

	for (;;) {
		if (quit)
			return IO_QUIT;
		if (deadline >= 0) {
			if ((left = deadline - tm_mono_ms()) <= 0)
				return IO_TIMEOUT;
			ts.tv_sec = (time_t)(left / 1000);
			ts.tv_nsec = (long)(left % 1000) * 1000000;
			tsp = &ts;
		}
		pfd.fd = fd;
		pfd.events = events;
		pfd.revents = 0;
		switch (ppoll(&pfd, 1, tsp, &waitmask)) {
		case -1:
			if (errno != EINTR)
				return IO_ERR;
			break;
		case 0:
			break;
		default:
			/* Errors and hang-ups surface in the next read or
			 * write, with their errno. */
			return IO_OK;
		}
	}
}

/* Reads more into c->in, after moving what is unread to its start. */
static enum io
fill(struct conn *c, int64_t deadline)
{
	ssize_t n;
	enum io rc;

	if (c->pos > 0) {
		memmove(c->in, c->in + c->pos, c->end - c->pos);
		c->end -= c->pos;
		c->pos = 0;
	}
	if (c->end == sizeof(c->in))
		return IO_LONG;
	for (;;) {
		n = recv(c->fd, c->in + c->end, sizeof(c->in) - c->end, 0);
		if (n > 0) {
			c->end += (size_t)n;
			return IO_OK;
		}
		if (n == 0)
			return IO_EOF;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return IO_ERR;
		if ((rc = wait_fd(c->fd, POLLIN, deadline)) != IO_OK)
			return rc;
	}
}

/*
 * Returns the next line, at most max bytes with its end, NUL-terminated
 * and without its CRLF (or bare LF); *raw is the length as received.  The
 * line lives in c->in until the next read.
 */
static enum io
get_line(struct conn *c, int64_t deadline, size_t max, char **line,
    size_t *len, size_t *raw)
{
	char *s, *nl;
	size_t n;
	enum io rc;

	for (;;) {
		s = c->in + c->pos;
		if ((nl = memchr(s, '\n', c->end - c->pos)) != NULL) {
			n = (size_t)(nl - s) + 1;
			if (n > max)
				return IO_LONG;
			c->pos += n;
			*raw = n;
			n--;
			if (n > 0 && s[n - 1] == '\r')
				n--;
			s[n] = '\0';
			*line = s;
			*len = n;
			return IO_OK;
		}
		if (c->end - c->pos >= max)
			return IO_LONG;
		if ((rc = fill(c, deadline)) != IO_OK)
			return rc;
	}
}

static enum io
get_bytes(struct conn *c, int64_t deadline, char *dst, size_t n)
{
	size_t k;
	enum io rc;

	while (n > 0) {
		if (c->pos == c->end) {
			c->pos = c->end = 0;
			if ((rc = fill(c, deadline)) != IO_OK)
				return rc;
		}
		k = c->end - c->pos < n ? c->end - c->pos : n;
		memcpy(dst, c->in + c->pos, k);
		c->pos += k;
		dst += k;
		n -= k;
	}
	return IO_OK;
}

/* Writes all of iov; one sendmsg for the head and body avoids a Nagle
 * stall between two small writes. */
static enum io
send_iov(struct conn *c, struct iovec *iov, int n)
{
	struct msghdr m;
	int64_t deadline = tm_mono_ms() + SEND_MS;
	ssize_t w;
	enum io rc;

	while (n > 0) {
		if (iov->iov_len == 0) {
			iov++;
			n--;
			continue;
		}
		memset(&m, 0, sizeof(m));
		m.msg_iov = iov;
		m.msg_iovlen = (size_t)n;
		if ((w = sendmsg(c->fd, &m, MSG_NOSIGNAL)) == -1) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				return IO_ERR;
			if ((rc = wait_fd(c->fd, POLLOUT, deadline)) != IO_OK)
				return rc;
			continue;
		}
		while (w > 0) {
			if ((size_t)w >= iov->iov_len) {
				w -= (ssize_t)iov->iov_len;
				iov++;
				n--;
			} else {
				iov->iov_base = (char *)iov->iov_base + w;
				iov->iov_len -= (size_t)w;
				w = 0;
			}
		}
	}
	return IO_OK;
}

/*
 * Closes after an error answer.  The client may still be sending a body we
 * refused; closing with unread data makes the kernel send an RST, which can
 * destroy the answer before the client reads it.  So: half-close, read and
 * drop for a moment, then close.
 */
static void
close_lingering(struct conn *c)
{
	int64_t deadline = tm_mono_ms() + DRAIN_MS;
	size_t dropped = 0;

	shutdown(c->fd, SHUT_WR);
	c->pos = c->end = 0;
	while (dropped < BODY_MAX && fill(c, deadline) == IO_OK) {
		dropped += c->end;
		c->pos = c->end = 0;
	}
	close(c->fd);
}

/* --- HTTP ----------------------------------------------------------- */

static const char *
reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 413: return "Content Too Large";
	case 417: return "Expectation Failed";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 505: return "HTTP Version Not Supported";
	default: return "Unknown";
	}
}

static void
http_date(char *buf, size_t n)
{
	time_t t = time(NULL);
	struct tm tm;

	/* No setlocale(3) anywhere: %a and %b are the English names HTTP
	 * wants. */
	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, n, "%a, %d %b %Y %H:%M:%S GMT", &tm) == 0)
		snprintf(buf, n, "Thu, 01 Jan 1970 00:00:00 GMT");
}

/*
 * Sends one response.  conn_hdr is a whole "Connection: ..." line or "";
 * extra, more header lines or "".  A HEAD answer has the length of the
 * body it does not carry.
 */
static enum io
respond(struct conn *c, int status, const char *ctype, const void *body,
    size_t blen, int head, const char *conn_hdr, const char *extra)
{
	char hdr[512], date[64];
	struct iovec iov[2];
	int n;

	http_date(date, sizeof(date));
	n = snprintf(hdr, sizeof(hdr),
	    "HTTP/1.1 %d %s\r\n"
	    "Date: %s\r\n"
	    "Server: " PROG "/" TCPMON_VERSION "\r\n"
	    "Content-Type: %s\r\n"
	    "Content-Length: %zu\r\n"
	    "%s%s\r\n",
	    status, reason(status), date, ctype, blen, extra, conn_hdr);
	if (n < 0 || (size_t)n >= sizeof(hdr))
		return IO_ERR;
	iov[0].iov_base = hdr;
	iov[0].iov_len = (size_t)n;
	iov[1].iov_base = (void *)(uintptr_t)body;
	iov[1].iov_len = head ? 0 : blen;
	return send_iov(c, iov, 2);
}

/* An error answer after which the connection closes. */
static void
respond_error(struct conn *c, int status)
{
	char body[64];
	int n;

	n = snprintf(body, sizeof(body), "%d %s\n", status, reason(status));
	respond(c, status, "text/plain; charset=utf-8", body, (size_t)n, 0,
	    "Connection: close\r\n", "");
	close_lingering(c);
}

static int
is_tchar(int ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	    (ch >= '0' && ch <= '9') || strchr("!#$%&'*+-.^_`|~", ch) != NULL;
}

static int
is_token(const char *s, size_t n)
{
	size_t i;

	if (n == 0)
		return 0;
	for (i = 0; i < n; i++)
		if (s[i] == '\0' || !is_tchar((unsigned char)s[i]))
			return 0;
	return 1;
}

/* Copies s into dst, cut to fit. */
static void
copy_cut(char *dst, size_t n, const char *s)
{
	snprintf(dst, n, "%s", s);
}

/* METHOD SP TARGET SP HTTP/1.x */
static int
parse_request_line(char *line, size_t len, struct req *r)
{
	char *sp1, *sp2, *ver;

	if (memchr(line, '\0', len) != NULL || strchr(line, '\r') != NULL)
		return 400;
	if ((sp1 = strchr(line, ' ')) == NULL ||
	    (sp2 = strchr(sp1 + 1, ' ')) == NULL || sp2 == sp1 + 1 ||
	    strchr(sp2 + 1, ' ') != NULL)
		return 400;
	if (!is_token(line, (size_t)(sp1 - line)) ||
	    (size_t)(sp1 - line) >= sizeof(r->method))
		return 400;
	*sp1 = *sp2 = '\0';
	copy_cut(r->method, sizeof(r->method), line);
	copy_cut(r->target, sizeof(r->target), sp1 + 1);
	ver = sp2 + 1;
	if (strncmp(ver, "HTTP/", 5) != 0 || ver[5] < '0' || ver[5] > '9' ||
	    ver[6] != '.' || ver[7] < '0' || ver[7] > '9' || ver[8] != '\0')
		return 400;
	if (ver[5] != '1')
		return 505;
	r->minor = ver[7] - '0';
	return 0;
}

/* Trims optional white space (SP, HTAB) at both ends, in place. */
static char *
trim_ows(char *s)
{
	size_t n;

	while (*s == ' ' || *s == '\t')
		s++;
	n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = '\0';
	return s;
}

/* Does the comma-separated list v hold token tok (case-insensitive)? */
static int
list_has(const char *v, const char *tok)
{
	size_t tl = strlen(tok), n;
	const char *p = v, *e;

	while (*p != '\0') {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if ((e = strchr(p, ',')) == NULL)
			e = p + strlen(p);
		n = (size_t)(e - p);
		while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		if (n == tl && strncasecmp(p, tok, tl) == 0)
			return 1;
		p = e;
	}
	return 0;
}

/* Header state that only matters while reading the header block. */
struct hdrs {
	int	 host;
	int	 conn_close, conn_keepalive;
	int	 te, te_other;
	int	 expect_other;
};

static int
parse_header(char *line, size_t len, struct req *r, struct hdrs *h)
{
	char *colon, *v;
	uint64_t n;
	const char *errstr;

	if (memchr(line, '\0', len) != NULL || strchr(line, '\r') != NULL)
		return 400;
	/* Obsolete line folding: RFC 9112 lets a server refuse it. */
	if (line[0] == ' ' || line[0] == '\t')
		return 400;
	if ((colon = strchr(line, ':')) == NULL ||
	    !is_token(line, (size_t)(colon - line)))
		return 400;
	*colon = '\0';
	v = trim_ows(colon + 1);
	if (strcasecmp(line, "content-length") == 0) {
		if (v[0] == '\0' || strspn(v, "0123456789") != strlen(v))
			return 400;
		/* num_parse takes k/m/g suffixes: the check above keeps
		 * them out of a Content-Length. */
		if (num_parse(v, 0, BODY_MAX, &n, &errstr) == -1)
			return strcmp(errstr, "too large") == 0 ? 413 : 400;
		if (r->has_len && n != r->clen)
			return 400;
		r->has_len = 1;
		r->clen = n;
	} else if (strcasecmp(line, "transfer-encoding") == 0) {
		h->te = 1;
		if (strcasecmp(v, "chunked") == 0)
			r->chunked = 1;
		else
			h->te_other = 1;
	} else if (strcasecmp(line, "connection") == 0) {
		h->conn_close |= list_has(v, "close");
		h->conn_keepalive |= list_has(v, "keep-alive");
	} else if (strcasecmp(line, "host") == 0) {
		if (h->host++)
			return 400;
	} else if (strcasecmp(line, "content-type") == 0) {
		copy_cut(r->ctype, sizeof(r->ctype), v);
	} else if (strcasecmp(line, "expect") == 0) {
		if (strcasecmp(v, "100-continue") == 0)
			r->expect_continue = 1;
		else
			h->expect_other = 1;
	}
	return 0;
}

static int
body_grow(struct req *r, size_t need)
{
	size_t cap;
	char *p;

	if (need <= r->bcap)
		return 0;
	cap = r->bcap ? r->bcap : 64 * 1024;
	while (cap < need)
		cap *= 2;
	if (cap > BODY_MAX)
		cap = BODY_MAX;
	if ((p = realloc(r->body, cap)) == NULL)
		return -1;
	r->body = p;
	r->bcap = cap;
	return 0;
}

/* What a failed read inside a request becomes: a 408 on a timeout, or a
 * close without an answer (the peer left, or we are told to stop). */
static int
io_fail(enum io rc)
{
	return rc == IO_TIMEOUT ? 408 : -1;
}

static int
hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

static int
read_chunked(struct conn *c, struct req *r, int64_t deadline)
{
	char *line, *p;
	size_t len, raw;
	uint64_t size;
	enum io rc;
	int d;

	for (;;) {
		rc = get_line(c, deadline, CHUNK_LINE_MAX, &line, &len, &raw);
		if (rc == IO_LONG)
			return 400;
		if (rc != IO_OK)
			return io_fail(rc);
		size = 0;
		for (p = line; (d = hexval((unsigned char)*p)) != -1; p++)
			if ((size = size * 16 + (uint64_t)d) > BODY_MAX)
				return 413;
		if (p == line)
			return 400;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p != '\0' && *p != ';')	/* chunk extensions: ignored */
			return 400;
		if (size == 0)
			break;
		if (size > BODY_MAX - r->blen)
			return 413;
		if (body_grow(r, r->blen + size) == -1)
			return 500;
		if ((rc = get_bytes(c, deadline, r->body + r->blen,
		    (size_t)size)) != IO_OK)
			return io_fail(rc);
		r->blen += size;
		rc = get_line(c, deadline, 2, &line, &len, &raw);
		if (rc == IO_LONG || (rc == IO_OK && len != 0))
			return 400;
		if (rc != IO_OK)
			return io_fail(rc);
	}
	/* Trailer fields: read against the header cap, and dropped. */
	for (;;) {
		rc = get_line(c, deadline, HDR_MAX - r->hdrbytes, &line, &len,
		    &raw);
		if (rc == IO_LONG)
			return 431;
		if (rc != IO_OK)
			return io_fail(rc);
		r->hdrbytes += raw;
		if (len == 0)
			return 0;
	}
}

/*
 * Reads one request with its body.  Returns 0, an HTTP status to answer
 * with before closing, or -1 to close without a word.
 */
static int
read_request(struct conn *c, struct req *r)
{
	struct hdrs h;
	char *line;
	size_t len, raw;
	int64_t deadline;
	int status, first = 1;
	enum io rc;

	memset(&h, 0, sizeof(h));
	/* A kept-alive connection may stay silent for IDLE_MS; once a
	 * request begins, all of it must come within REQ_MS, so that a
	 * client trickling bytes cannot hold the server. */
	if (c->pos == c->end) {
		c->pos = c->end = 0;
		if (fill(c, tm_mono_ms() + IDLE_MS) != IO_OK)
			return -1;
	}
	deadline = tm_mono_ms() + REQ_MS;
	for (;;) {
		rc = get_line(c, deadline, HDR_MAX - r->hdrbytes, &line, &len,
		    &raw);
		if (rc == IO_LONG)
			return 431;
		if (rc != IO_OK)
			return io_fail(rc);
		r->hdrbytes += raw;
		if (first) {
			if (len == 0)	/* RFC 9112: skip CRLFs before it */
				continue;
			if ((status = parse_request_line(line, len, r)) != 0)
				return status;
			first = 0;
			continue;
		}
		if (len == 0)
			break;
		if ((status = parse_header(line, len, r, &h)) != 0)
			return status;
	}
	if (r->minor >= 1 && h.host != 1)
		return 400;
	if (r->minor >= 1)
		r->keepalive = !h.conn_close;
	else
		r->keepalive = h.conn_keepalive && !h.conn_close;
	if (h.te_other)
		return 501;
	/* Both framings at once is how requests get smuggled: the chunked
	 * one wins and the connection ends after the answer. */
	if (h.te && r->has_len)
		r->keepalive = 0;
	if (h.expect_other)
		return 417;
	if (r->expect_continue && r->minor >= 1 &&
	    (r->chunked || r->clen > 0)) {
		static char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
		struct iovec iov = { cont, sizeof(cont) - 1 };

		if (send_iov(c, &iov, 1) != IO_OK)
			return -1;
	}
	if (r->chunked)
		return read_chunked(c, r, deadline);
	if (r->clen > 0) {
		if (body_grow(r, (size_t)r->clen) == -1)
			return 500;
		if ((rc = get_bytes(c, deadline, r->body, (size_t)r->clen)) !=
		    IO_OK)
			return io_fail(rc);
		r->blen = (size_t)r->clen;
	}
	return 0;
}

/* --- SOAP ----------------------------------------------------------- */

/*
 * Cuts s (of length n) before an incomplete UTF-8 sequence at its end,
 * as snprintf may leave when it truncates: the text goes into XML.
 */
static void
utf8_trim(char *s, size_t n)
{
	size_t i = n, need;
	unsigned char lead;

	while (i > 0 && n - i < 4 && ((unsigned char)s[i - 1] & 0xc0) == 0x80)
		i--;
	if (i == 0 || (lead = (unsigned char)s[i - 1]) < 0x80)
		return;
	need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2;
	if (n - (i - 1) < need)
		s[i - 1] = '\0';
}

static void __attribute__((format(printf, 3, 4)))
set_fault(struct answer *a, enum fault f, const char *fmt, ...)
{
	va_list ap;
	int n;

	a->fault = f;
	va_start(ap, fmt);
	n = vsnprintf(a->why, sizeof(a->why), fmt, ap);
	va_end(ap);
	if (n >= (int)sizeof(a->why))
		utf8_trim(a->why, strlen(a->why));
}

static int
is_el(const xmlNode *n, const char *ns, const char *name)
{
	if (n == NULL || n->type != XML_ELEMENT_NODE ||
	    !xmlStrEqual(n->name, BAD_CAST name))
		return 0;
	if (ns == NULL)
		return n->ns == NULL;
	return n->ns != NULL && xmlStrEqual(n->ns->href, BAD_CAST ns);
}

/* A parameter of an operation: qualified or not, as clients differ. */
static xmlNode *
param(xmlNode *op, const char *name)
{
	xmlNode *n;

	for (n = xmlFirstElementChild(op); n != NULL;
	    n = xmlNextElementSibling(n))
		if (is_el(n, NS_DEMO, name) || is_el(n, NULL, name))
			return n;
	return NULL;
}

static int
is_xml_space(int ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r';
}

/* An xsd:integer that fits in 64 bits, white space collapsed. */
static int
parse_int(const xmlChar *xs, long long *out)
{
	const char *s = (const char *)xs, *e, *p;
	char *ep;
	long long v;

	while (is_xml_space((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && is_xml_space((unsigned char)e[-1]))
		e--;
	p = s;
	if (p < e && (*p == '+' || *p == '-'))
		p++;
	if (p == e)
		return -1;
	for (; p < e; p++)
		if (*p < '0' || *p > '9')
			return -1;
	errno = 0;
	v = strtoll(s, &ep, 10);
	if (errno == ERANGE || ep != e)
		return -1;
	*out = v;
	return 0;
}

static void
op_add(xmlNode *op, struct answer *a)
{
	const char *names[2] = { "a", "b" };
	long long v[2], sum;
	char buf[32];
	xmlNode *n;
	xmlChar *s;
	int i, bad;

	for (i = 0; i < 2; i++) {
		if ((n = param(op, names[i])) == NULL) {
			set_fault(a, FAULT_CLIENT, "Add: no element %s",
			    names[i]);
			return;
		}
		if ((s = xmlNodeGetContent(n)) == NULL) {
			set_fault(a, FAULT_SERVER, "out of memory");
			return;
		}
		bad = parse_int(s, &v[i]) == -1;
		xmlFree(s);
		if (bad) {
			set_fault(a, FAULT_CLIENT,
			    "Add: %s is not a 64-bit integer", names[i]);
			return;
		}
	}
	if (__builtin_add_overflow(v[0], v[1], &sum)) {
		set_fault(a, FAULT_CLIENT, "Add: the sum is out of range");
		return;
	}
	snprintf(buf, sizeof(buf), "%lld", sum);
	if ((a->value = xmlStrdup(BAD_CAST buf)) == NULL) {
		set_fault(a, FAULT_SERVER, "out of memory");
		return;
	}
	a->op = "AddResponse";
	a->field = "result";
}

static void
op_echo(xmlNode *op, struct answer *a)
{
	xmlNode *n;

	if ((n = param(op, "text")) == NULL) {
		set_fault(a, FAULT_CLIENT, "Echo: no element text");
		return;
	}
	if ((a->value = xmlNodeGetContent(n)) == NULL) {
		set_fault(a, FAULT_SERVER, "out of memory");
		return;
	}
	a->op = "EchoResponse";
	a->field = "text";
}

/*
 * Header blocks: this node understands none, so one that is meant for it
 * (no actor/role, or "next", or "ultimateReceiver") and must be
 * understood is a MustUnderstand fault, as SOAP requires.
 */
static int
check_headers(xmlNode *hdr, struct answer *a)
{
	const char *ns = a->v12 ? NS_SOAP12 : NS_SOAP11;
	xmlNode *h;
	xmlChar *mu, *role;
	int must, mine;

	for (h = xmlFirstElementChild(hdr); h != NULL;
	    h = xmlNextElementSibling(h)) {
		mu = xmlGetNsProp(h, BAD_CAST "mustUnderstand", BAD_CAST ns);
		role = xmlGetNsProp(h, BAD_CAST (a->v12 ? "role" : "actor"),
		    BAD_CAST ns);
		must = mu != NULL && (xmlStrEqual(mu, BAD_CAST "1") ||
		    xmlStrEqual(mu, BAD_CAST "true"));
		mine = role == NULL ||
		    xmlStrEqual(role, BAD_CAST
		    "http://schemas.xmlsoap.org/soap/actor/next") ||
		    xmlStrEqual(role, BAD_CAST NS_SOAP12 "/role/next") ||
		    xmlStrEqual(role, BAD_CAST NS_SOAP12 "/role/ultimateReceiver");
		xmlFree(mu);
		xmlFree(role);
		if (must && mine) {
			set_fault(a, FAULT_MUST, "header block not understood: "
			    "{%s}%s", h->ns != NULL ? (const char *)h->ns->href :
			    "", (const char *)h->name);
			return -1;
		}
	}
	return 0;
}

static void
dispatch(xmlDoc *doc, struct answer *a)
{
	xmlNode *root, *n, *op;
	const char *ns;

	root = xmlDocGetRootElement(doc);
	if (is_el(root, NS_SOAP11, "Envelope"))
		a->v12 = 0;
	else if (is_el(root, NS_SOAP12, "Envelope"))
		a->v12 = 1;
	else {
		set_fault(a, FAULT_VERSION,
		    "the root is not a SOAP 1.1 or 1.2 Envelope");
		return;
	}
	ns = a->v12 ? NS_SOAP12 : NS_SOAP11;
	n = xmlFirstElementChild(root);
	if (is_el(n, ns, "Header")) {
		if (check_headers(n, a) == -1)
			return;
		n = xmlNextElementSibling(n);
	}
	if (!is_el(n, ns, "Body")) {
		set_fault(a, FAULT_CLIENT, "the Envelope has no Body");
		return;
	}
	if ((op = xmlFirstElementChild(n)) == NULL) {
		set_fault(a, FAULT_CLIENT, "the Body is empty");
		return;
	}
	if (is_el(op, NS_DEMO, "Add"))
		op_add(op, a);
	else if (is_el(op, NS_DEMO, "Echo"))
		op_echo(op, a);
	else
		set_fault(a, FAULT_CLIENT, "unknown operation {%s}%s",
		    op->ns != NULL ? (const char *)op->ns->href : "",
		    (const char *)op->name);
}

/* SAX hook: SOAP forbids a DTD in a message, and refusing it here, before
 * any declaration is read, leaves no entity to expand. */
static void
refuse_dtd(void *ctx, const xmlChar *name, const xmlChar *eid,
    const xmlChar *sid)
{
	xmlParserCtxt *p = ctx;

	(void)name;
	(void)eid;
	(void)sid;
	*(int *)p->_private = 1;
	xmlStopParser(p);
}

/* libxml2 reports to stderr by default; its errors become faults here.
 * (2.12 made the error const.) */
#if LIBXML_VERSION >= 21200
static void
xml_quiet(void *ctx, const xmlError *e)
#else
static void
xml_quiet(void *ctx, xmlError *e)
#endif
{
	(void)ctx;
	(void)e;
}

/* Copies a libxml2 message as printable ASCII: it may quote raw input. */
static void
copy_ascii(char *dst, size_t n, const char *s)
{
	size_t i;

	for (i = 0; i + 1 < n && s[i] != '\0'; i++)
		dst[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : ' ';
	dst[i] = '\0';
	while (i > 0 && dst[i - 1] == ' ')
		dst[--i] = '\0';
}

static void
soap_call(const struct req *r, struct answer *a)
{
	xmlParserCtxt *ctxt;
	const xmlError *e;
	xmlDoc *doc;
	char msg[256];
	int dtd = 0;

	/* Until the envelope says otherwise, the media type decides the
	 * version of a fault. */
	a->v12 = strncasecmp(r->ctype, "application/soap+xml", 20) == 0;
	if ((ctxt = xmlNewParserCtxt()) == NULL) {
		set_fault(a, FAULT_SERVER, "out of memory");
		return;
	}
	ctxt->sax->internalSubset = refuse_dtd;
	ctxt->_private = &dtd;
	/* NONET only: no NOENT (entities stay unexpanded), no DTDLOAD. */
	doc = xmlCtxtReadMemory(ctxt, r->blen ? r->body : "", (int)r->blen,
	    "request", NULL, XML_PARSE_NONET);
	if (dtd || (doc != NULL && doc->intSubset != NULL))
		set_fault(a, FAULT_CLIENT,
		    "a SOAP message must not contain a DTD");
	else if (doc == NULL) {
		e = xmlCtxtGetLastError(ctxt);
		copy_ascii(msg, sizeof(msg), e != NULL && e->message != NULL ?
		    e->message : "unknown error");
		set_fault(a, FAULT_CLIENT, "not well-formed XML: line %d: %s",
		    e != NULL ? e->line : 0, msg);
	} else
		dispatch(doc, a);
	xmlFreeDoc(doc);
	xmlFreeParserCtxt(ctxt);
}

static const char *
fault_code(const struct answer *a)
{
	switch (a->fault) {
	case FAULT_CLIENT:
		return a->v12 ? "env:Sender" : "soap:Client";
	case FAULT_VERSION:
		return a->v12 ? "env:VersionMismatch" : "soap:VersionMismatch";
	case FAULT_MUST:
		return a->v12 ? "env:MustUnderstand" : "soap:MustUnderstand";
	default:
		return a->v12 ? "env:Receiver" : "soap:Server";
	}
}

/* SOAP 1.1 faultcode and faultstring have no namespace; xmlNewTextChild
 * would give them their parent's. */
static int
add_unqualified(xmlNode *parent, const char *name, const char *text)
{
	xmlNode *n;

	if ((n = xmlNewDocRawNode(parent->doc, NULL, BAD_CAST name,
	    BAD_CAST text)) == NULL)
		return -1;
	if (xmlAddChild(parent, n) == NULL) {
		xmlFreeNode(n);
		return -1;
	}
	return 0;
}

/* Builds the answer envelope with libxml2, which escapes the text. */
static int
soap_render(const struct answer *a, xmlChar **out, int *len)
{
	xmlDoc *doc;
	xmlNode *env, *body, *f, *code, *rsn, *t, *op;
	xmlNs *ns, *dns;
	int rc = -1;

	*out = NULL;
	if ((doc = xmlNewDoc(BAD_CAST "1.0")) == NULL)
		return -1;
	if ((env = xmlNewDocNode(doc, NULL, BAD_CAST "Envelope", NULL)) ==
	    NULL)
		goto out;
	xmlDocSetRootElement(doc, env);
	if ((ns = xmlNewNs(env, BAD_CAST (a->v12 ? NS_SOAP12 : NS_SOAP11),
	    BAD_CAST (a->v12 ? "env" : "soap"))) == NULL)
		goto out;
	xmlSetNs(env, ns);
	if ((body = xmlNewChild(env, ns, BAD_CAST "Body", NULL)) == NULL)
		goto out;
	if (a->fault != FAULT_NONE) {
		if ((f = xmlNewChild(body, ns, BAD_CAST "Fault", NULL)) == NULL)
			goto out;
		if (a->v12) {
			if ((code = xmlNewChild(f, ns, BAD_CAST "Code",
			    NULL)) == NULL ||
			    xmlNewTextChild(code, ns, BAD_CAST "Value",
			    BAD_CAST fault_code(a)) == NULL ||
			    (rsn = xmlNewChild(f, ns, BAD_CAST "Reason",
			    NULL)) == NULL ||
			    (t = xmlNewTextChild(rsn, ns, BAD_CAST "Text",
			    BAD_CAST a->why)) == NULL)
				goto out;
			xmlNodeSetLang(t, BAD_CAST "en");
		} else if (add_unqualified(f, "faultcode", fault_code(a)) ==
		    -1 || add_unqualified(f, "faultstring", a->why) == -1)
			goto out;
	} else {
		if ((op = xmlNewChild(body, NULL, BAD_CAST a->op, NULL)) ==
		    NULL ||
		    (dns = xmlNewNs(op, BAD_CAST NS_DEMO, BAD_CAST "d")) ==
		    NULL)
			goto out;
		xmlSetNs(op, dns);
		if (xmlNewTextChild(op, dns, BAD_CAST a->field, a->value) ==
		    NULL)
			goto out;
	}
	xmlDocDumpMemoryEnc(doc, out, len, "UTF-8");
	if (*out != NULL)
		rc = 0;
out:
	xmlFreeDoc(doc);
	return rc;
}

/* --- serving -------------------------------------------------------- */

static const char *
conn_header(const struct req *r)
{
	if (!r->keepalive)
		return "Connection: close\r\n";
	return r->minor == 0 ? "Connection: keep-alive\r\n" : "";
}

/* Answers one whole request. */
static enum io
handle(struct conn *c, struct req *r)
{
	struct answer a;
	xmlChar *xml;
	enum io rc;
	int head, len;

	head = strcmp(r->method, "HEAD") == 0;
	if (head || strcmp(r->method, "GET") == 0) {
		if (strcmp(r->target, "/") == 0)
			return respond(c, 200, "text/plain; charset=utf-8",
			    ABOUT, sizeof(ABOUT) - 1, head, conn_header(r), "");
		return respond(c, 404, "text/plain; charset=utf-8",
		    "404 Not Found\n", 14, head, conn_header(r), "");
	}
	if (strcmp(r->method, "POST") != 0)
		return respond(c, 405, "text/plain; charset=utf-8",
		    "405 Method Not Allowed\n", 23, 0, conn_header(r),
		    "Allow: GET, HEAD, POST\r\n");
	memset(&a, 0, sizeof(a));
	soap_call(r, &a);
	if (soap_render(&a, &xml, &len) == -1) {
		xmlFree(a.value);
		return respond(c, 500, "text/plain; charset=utf-8",
		    "500 Internal Server Error\n", 26, 0, conn_header(r), "");
	}
	rc = respond(c, a.fault != FAULT_NONE ? 500 : 200,
	    a.v12 ? CT_SOAP12 : CT_SOAP11, xml, (size_t)len, 0,
	    conn_header(r), "");
	xmlFree(xml);
	xmlFree(a.value);
	return rc;
}

/*
 * Serves one connection to its end.  The server takes one connection at a
 * time: a demo backend behind a relay needs no more, and the deadlines
 * above keep a silent or slow client from holding it for long.
 */
static void
serve(struct conn *c)
{
	struct req r;
	int status;

	c->pos = c->end = 0;
	for (;;) {
		memset(&r, 0, sizeof(r));
		if ((status = read_request(c, &r)) != 0) {
			free(r.body);
			if (status > 0)
				respond_error(c, status);
			else
				close(c->fd);
			return;
		}
		if (handle(c, &r) != IO_OK || !r.keepalive || quit) {
			free(r.body);
			close(c->fd);
			return;
		}
		free(r.body);
	}
}

int
main(int argc, char *argv[])
{
	struct opts o;
	struct addr a;
	struct sockaddr_any sa;
	struct sigaction sact;
	struct timespec pause = { 0, 100 * 1000000 };
	sigset_t block;
	char ebuf[512], where[ADDR_TEXT + 16];
	int lfd, fd;

	tm_setprogname(argv, PROG);
	parse_opts(argc, argv, &o);
	if (addr_parse(o.listen, ADDR_LISTEN, &a, ebuf, sizeof(ebuf)) == -1)
		errx(TM_EXIT_USAGE, "%s", ebuf);
	if (a.unix_path)
		errx(TM_EXIT_USAGE, "%s: listens on TCP only: [ADDR:]PORT",
		    o.listen);
	if (addr_resolve(&a, ADDR_LISTEN, &sa, ebuf, sizeof(ebuf)) == -1)
		errx(TM_EXIT_FAIL, "%s", ebuf);

	LIBXML_TEST_VERSION
	xmlSetStructuredErrorFunc(NULL, xml_quiet);

	memset(&sact, 0, sizeof(sact));
	sact.sa_handler = on_signal;
	sigemptyset(&sact.sa_mask);
	sigaction(SIGINT, &sact, NULL);
	sigaction(SIGTERM, &sact, NULL);
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &block, &waitmask) == -1)
		err(TM_EXIT_FAIL, "sigprocmask");
	sigdelset(&waitmask, SIGINT);
	sigdelset(&waitmask, SIGTERM);

	if ((lfd = sock_listen(&sa, 16)) == -1)
		err(TM_EXIT_FAIL, "listen %s", a.text);
	fprintf(stderr, "%s: listening on %s\n", PROG,
	    addr_fmt_local(lfd, where, sizeof(where)));
	fflush(stderr);

	while (!quit) {
		switch (wait_fd(lfd, POLLIN, -1)) {
		case IO_OK:
			break;
		case IO_QUIT:
			continue;
		default:
			err(TM_EXIT_FAIL, "poll");
		}
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			switch (errno) {
			case EAGAIN:
			case EINTR:
			case ECONNABORTED:
			case EPROTO:
				continue;
			case EMFILE:
			case ENFILE:
			case ENOBUFS:
			case ENOMEM:
				/* Out of something for now: pause rather
				 * than spin on a listener that stays
				 * readable. */
				warn("accept");
				ppoll(NULL, 0, &pause, &waitmask);
				continue;
			default:
				err(TM_EXIT_FAIL, "accept");
			}
		}
		conn.fd = fd;
		serve(&conn);
	}
	close(lfd);
	xmlCleanupParser();
	return TM_EXIT_OK;
}
