/* soapd.c - tcpmon-demo-soapd: a small SOAP 1.1/1.2 endpoint over HTTP/1.1,
 * the real backend that `make demo` and the tests put behind the relay.
 * One epoll loop (common/loop.c) serves every connection at once. */
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/socket.h>

#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
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

#include "http.h"
#include "loop.h"
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
#define SWEEP_MS	200	/* how often the deadlines above are checked */
#define MAX_CONNS	256	/* more wait in the listen queue */

#define NS_SOAP11	"http://schemas.xmlsoap.org/soap/envelope/"
#define NS_SOAP12	"http://www.w3.org/2003/05/soap-envelope"
#define NS_DEMO		"urn:tcpmon:demo"
#define CT_SOAP11	"text/xml; charset=utf-8"
#define CT_SOAP12	"application/soap+xml; charset=utf-8"
#define CT_TEXT		"text/plain; charset=utf-8"

#define ABOUT \
	PROG ": a SOAP 1.1 and 1.2 demo endpoint.\n" \
	"POST a SOAP envelope to any path; GET ?wsdl for its WSDL.\n" \
	"Operations, namespace " NS_DEMO ":\n" \
	"  Add(a, b)   -> AddResponse/result   (64-bit integers)\n" \
	"  Echo(text)  -> EchoResponse/text\n" \
	"  Stamp(text) -> StampResponse/text, with a fresh wsa:MessageID and\n" \
	"                 a wsu:Timestamp in its Header (noise for tcpmon-diff)\n"

struct opts {
	const char	*listen;
};

struct req {
	char		 method[16];
	char		 target[256];	/* "/" and "PATH?wsdl" are told apart */
	int		 target_cut;	/* longer than target[] */
	char		 host[256];	/* the Host header, for the WSDL */
	int		 host_cut;
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

/* Header state that only matters while reading the header block. */
struct hdrs {
	int	 host;
	int	 conn_close, conn_keepalive;
	int	 te, te_other;
	int	 expect_other;
};

/* Where a request is in its reading, which goes on as bytes come. */
enum rstate { RS_HEAD, RS_BODY, RS_CSIZE, RS_CDATA, RS_CCRLF, RS_TRAILER };

/* What a connection does: reads a request (or waits for one), sends an
 * answer without reading, or reads and drops before an error close. */
enum cstate { ST_READ, ST_SEND, ST_DRAIN };

/* What follows a sent answer. */
enum after { AFTER_KEEP, AFTER_CLOSE, AFTER_LINGER };

/* parse_step's results besides an HTTP status to answer with. */
#define R_DONE		0	/* a whole request is in req */
#define R_MORE		1	/* needs more bytes */
#define R_LONG		2	/* a line over its cap */

/*
 * One client connection.  in[] holds bytes read but not used yet: the rest
 * of the current request or, when the client pipelines, the next one.  Its
 * size is the header cap, so that one header line always fits.  out holds
 * what is still to be written: a 100 Continue, then the answer.
 */
struct conn {
	int		 fd;
	struct conn	*prev, *next;
	enum cstate	 st;
	enum after	 after;
	int64_t		 deadline;	/* monotonic ms: see the sweep */
	int		 idle;		/* between requests: no byte of one yet */
	char		 in[HDR_MAX];
	size_t		 pos, end;
	enum rstate	 rs;
	int		 first;		/* the request line is next */
	struct req	 r;
	struct hdrs	 h;
	uint64_t	 left;		/* body or chunk bytes still to come */
	size_t		 dropped;	/* by the drain */
	char		*out;
	size_t		 olen, opos;
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
	int		 stamp;		/* a Header with a fresh message ID
					   and the time */
};

/* The server: its loop, listener and connections. */
static struct {
	struct loop	*loop;
	int		 lfd;
	int		 paused;	/* the listener is out of the loop */
	struct conn	*conns;
	int		 nconns;
} srv;

static void
usage(FILE *f)
{
	fprintf(f, "usage: %s [-l [ADDR:]PORT]\n"
	    "       %s --version | --help\n", PROG, PROG);
	if (f != stdout)
		return;
	fprintf(f, "\n"
	    "  -l, --listen [ADDR:]PORT  listen there (default 0: a free "
	    "port)\n"
	    "      --version             print the version and exit\n"
	    "  -h, --help                print this help and exit\n"
	    "\n%s\nSee tcpmon-demo-soapd(1).\n", ABOUT);
}

static void
parse_opts(int argc, char *argv[], struct opts *o)
{
	enum { OPT_VERSION = 256 };
	static const struct option longopts[] = {
		{ "help",	no_argument,		NULL,	'h' },
		{ "listen",	required_argument,	NULL,	'l' },
		{ "version",	no_argument,		NULL,	OPT_VERSION },
		{ NULL,		0,			NULL,	0 }
	};
	int ch;

	o->listen = "0";
	/* getopt's own messages name argv[0], not the program: ours do. */
	opterr = 0;
	if (argc == 2 && strcmp(argv[1], TM_LIST_OPTIONS) == 0)
		exit(tm_list_options(STDOUT_FILENO, longopts));
	while ((ch = getopt_long(argc, argv, ":hl:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			usage(stdout);
			exit(TM_EXIT_OK);
		case 'l':
			o->listen = optarg;
			break;
		case OPT_VERSION:
			printf("%s %s\n", PROG, TCPMON_VERSION);
			exit(TM_EXIT_OK);
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
	if (!http_token(line, (size_t)(sp1 - line)) ||
	    (size_t)(sp1 - line) >= sizeof(r->method))
		return 400;
	*sp1 = *sp2 = '\0';
	copy_cut(r->method, sizeof(r->method), line);
	copy_cut(r->target, sizeof(r->target), sp1 + 1);
	r->target_cut = strlen(sp1 + 1) >= sizeof(r->target);
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
	    !http_token(line, (size_t)(colon - line)))
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
		copy_cut(r->host, sizeof(r->host), v);
		r->host_cut = strlen(v) >= sizeof(r->host);
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

/* Echo with what changes from call to call: a new wsa:MessageID and a
 * wsu:Timestamp in the answer's Header, the noise a regression check
 * (tcpmon-diff) has to leave out. */
static void
op_stamp(xmlNode *op, struct answer *a)
{
	xmlNode *n;

	if ((n = param(op, "text")) == NULL) {
		set_fault(a, FAULT_CLIENT, "Stamp: no element text");
		return;
	}
	if ((a->value = xmlNodeGetContent(n)) == NULL) {
		set_fault(a, FAULT_SERVER, "out of memory");
		return;
	}
	a->op = "StampResponse";
	a->field = "text";
	a->stamp = 1;
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
	else if (is_el(op, NS_DEMO, "Stamp"))
		op_stamp(op, a);
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
#define NS_WSA	"http://www.w3.org/2005/08/addressing"
#define NS_WSU	"http://docs.oasis-open.org/wss/2004/01/" \
		"oasis-200401-wss-wssecurity-utility-1.0.xsd"

/* <Header><wsa:MessageID>urn:uuid:...</wsa:MessageID><wsu:Timestamp>
 * <wsu:Created>now</wsu:Created></wsu:Timestamp></Header> */
static int
stamp_header(xmlNode *env, xmlNs *ns)
{
	unsigned char r[16];
	char id[64], now[TM_TIME_LEN];
	xmlNode *h, *ts;
	xmlNs *wsa, *wsu;
	size_t i;

	if (getrandom(r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r))
		for (i = 0; i < sizeof(r); i++)
			r[i] = (unsigned char)random();
	r[6] = (unsigned char)((r[6] & 0x0f) | 0x40);	/* version 4 */
	r[8] = (unsigned char)((r[8] & 0x3f) | 0x80);
	snprintf(id, sizeof(id), "urn:uuid:%02x%02x%02x%02x-%02x%02x-%02x%02x-"
	    "%02x%02x-%02x%02x%02x%02x%02x%02x", r[0], r[1], r[2], r[3], r[4],
	    r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13], r[14],
	    r[15]);
	tm_fmt_time(tm_now_us(), now, sizeof(now));
	if ((h = xmlNewChild(env, ns, BAD_CAST "Header", NULL)) == NULL ||
	    (wsa = xmlNewNs(h, BAD_CAST NS_WSA, BAD_CAST "wsa")) == NULL ||
	    (wsu = xmlNewNs(h, BAD_CAST NS_WSU, BAD_CAST "wsu")) == NULL ||
	    xmlNewTextChild(h, wsa, BAD_CAST "MessageID", BAD_CAST id) ==
	    NULL ||
	    (ts = xmlNewChild(h, wsu, BAD_CAST "Timestamp", NULL)) == NULL ||
	    xmlNewTextChild(ts, wsu, BAD_CAST "Created", BAD_CAST now) == NULL)
		return -1;
	return 0;
}

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
	if (a->fault == FAULT_NONE && a->stamp && stamp_header(env, ns) == -1)
		goto out;
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


/* --- the WSDL ------------------------------------------------------- */

/*
 * Document/literal, as zeep, SoapUI and wsimport expect; elements
 * qualified, as the answers' are.  %1$s is the endpoint, in both the
 * SOAP 1.1 and the SOAP 1.2 port.
 */
static const char wsdl_fmt[] =
"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
"<wsdl:definitions name=\"TcpmonDemo\" targetNamespace=\"" NS_DEMO "\"\n"
"    xmlns:wsdl=\"http://schemas.xmlsoap.org/wsdl/\"\n"
"    xmlns:soap=\"http://schemas.xmlsoap.org/wsdl/soap/\"\n"
"    xmlns:soap12=\"http://schemas.xmlsoap.org/wsdl/soap12/\"\n"
"    xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\"\n"
"    xmlns:d=\"" NS_DEMO "\">\n"
"  <wsdl:documentation>" PROG ": Add, Echo and Stamp, SOAP 1.1 and 1.2.</wsdl:documentation>\n"
"  <wsdl:types>\n"
"    <xsd:schema targetNamespace=\"" NS_DEMO "\" elementFormDefault=\"qualified\">\n"
"      <xsd:element name=\"Add\"><xsd:complexType><xsd:sequence>\n"
"        <xsd:element name=\"a\" type=\"xsd:long\"/>\n"
"        <xsd:element name=\"b\" type=\"xsd:long\"/>\n"
"      </xsd:sequence></xsd:complexType></xsd:element>\n"
"      <xsd:element name=\"AddResponse\"><xsd:complexType><xsd:sequence>\n"
"        <xsd:element name=\"result\" type=\"xsd:long\"/>\n"
"      </xsd:sequence></xsd:complexType></xsd:element>\n"
"      <xsd:element name=\"Echo\"><xsd:complexType><xsd:sequence>\n"
"        <xsd:element name=\"text\" type=\"xsd:string\"/>\n"
"      </xsd:sequence></xsd:complexType></xsd:element>\n"
"      <xsd:element name=\"EchoResponse\"><xsd:complexType><xsd:sequence>\n"
"        <xsd:element name=\"text\" type=\"xsd:string\"/>\n"
"      </xsd:sequence></xsd:complexType></xsd:element>\n"
"      <xsd:element name=\"Stamp\"><xsd:complexType><xsd:sequence>\n"
"        <xsd:element name=\"text\" type=\"xsd:string\"/>\n"
"      </xsd:sequence></xsd:complexType></xsd:element>\n"
"      <xsd:element name=\"StampResponse\"><xsd:complexType><xsd:sequence>\n"
"        <xsd:element name=\"text\" type=\"xsd:string\"/>\n"
"      </xsd:sequence></xsd:complexType></xsd:element>\n"
"    </xsd:schema>\n"
"  </wsdl:types>\n"
"  <wsdl:message name=\"AddInput\"><wsdl:part name=\"parameters\" element=\"d:Add\"/></wsdl:message>\n"
"  <wsdl:message name=\"AddOutput\"><wsdl:part name=\"parameters\" element=\"d:AddResponse\"/></wsdl:message>\n"
"  <wsdl:message name=\"EchoInput\"><wsdl:part name=\"parameters\" element=\"d:Echo\"/></wsdl:message>\n"
"  <wsdl:message name=\"EchoOutput\"><wsdl:part name=\"parameters\" element=\"d:EchoResponse\"/></wsdl:message>\n"
"  <wsdl:message name=\"StampInput\"><wsdl:part name=\"parameters\" element=\"d:Stamp\"/></wsdl:message>\n"
"  <wsdl:message name=\"StampOutput\"><wsdl:part name=\"parameters\" element=\"d:StampResponse\"/></wsdl:message>\n"
"  <wsdl:portType name=\"Demo\">\n"
"    <wsdl:operation name=\"Add\"><wsdl:input message=\"d:AddInput\"/><wsdl:output message=\"d:AddOutput\"/></wsdl:operation>\n"
"    <wsdl:operation name=\"Echo\"><wsdl:input message=\"d:EchoInput\"/><wsdl:output message=\"d:EchoOutput\"/></wsdl:operation>\n"
"    <wsdl:operation name=\"Stamp\"><wsdl:input message=\"d:StampInput\"/><wsdl:output message=\"d:StampOutput\"/></wsdl:operation>\n"
"  </wsdl:portType>\n"
"  <wsdl:binding name=\"DemoSoap11\" type=\"d:Demo\">\n"
"    <soap:binding style=\"document\" transport=\"http://schemas.xmlsoap.org/soap/http\"/>\n"
"    <wsdl:operation name=\"Add\"><soap:operation soapAction=\"" NS_DEMO "#Add\"/>\n"
"      <wsdl:input><soap:body use=\"literal\"/></wsdl:input><wsdl:output><soap:body use=\"literal\"/></wsdl:output></wsdl:operation>\n"
"    <wsdl:operation name=\"Echo\"><soap:operation soapAction=\"" NS_DEMO "#Echo\"/>\n"
"      <wsdl:input><soap:body use=\"literal\"/></wsdl:input><wsdl:output><soap:body use=\"literal\"/></wsdl:output></wsdl:operation>\n"
"    <wsdl:operation name=\"Stamp\"><soap:operation soapAction=\"" NS_DEMO "#Stamp\"/>\n"
"      <wsdl:input><soap:body use=\"literal\"/></wsdl:input><wsdl:output><soap:body use=\"literal\"/></wsdl:output></wsdl:operation>\n"
"  </wsdl:binding>\n"
"  <wsdl:binding name=\"DemoSoap12\" type=\"d:Demo\">\n"
"    <soap12:binding style=\"document\" transport=\"http://schemas.xmlsoap.org/soap/http\"/>\n"
"    <wsdl:operation name=\"Add\"><soap12:operation soapAction=\"" NS_DEMO "#Add\"/>\n"
"      <wsdl:input><soap12:body use=\"literal\"/></wsdl:input><wsdl:output><soap12:body use=\"literal\"/></wsdl:output></wsdl:operation>\n"
"    <wsdl:operation name=\"Echo\"><soap12:operation soapAction=\"" NS_DEMO "#Echo\"/>\n"
"      <wsdl:input><soap12:body use=\"literal\"/></wsdl:input><wsdl:output><soap12:body use=\"literal\"/></wsdl:output></wsdl:operation>\n"
"    <wsdl:operation name=\"Stamp\"><soap12:operation soapAction=\"" NS_DEMO "#Stamp\"/>\n"
"      <wsdl:input><soap12:body use=\"literal\"/></wsdl:input><wsdl:output><soap12:body use=\"literal\"/></wsdl:output></wsdl:operation>\n"
"  </wsdl:binding>\n"
"  <wsdl:service name=\"DemoService\">\n"
"    <wsdl:port name=\"DemoSoap11\" binding=\"d:DemoSoap11\"><soap:address location=\"%1$s\"/></wsdl:port>\n"
"    <wsdl:port name=\"DemoSoap12\" binding=\"d:DemoSoap12\"><soap12:address location=\"%1$s\"/></wsdl:port>\n"
"  </wsdl:service>\n"
"</wsdl:definitions>\n";

/* Appends s to dst (of size n, holding a string) escaped for an XML
 * attribute; -1 when it does not fit. */
static int
xml_attr_cat(char *dst, size_t n, const char *s)
{
	size_t k = strlen(dst);
	const char *e;
	size_t el;

	for (; *s != '\0'; s++) {
		switch (*s) {
		case '&': e = "&amp;"; break;
		case '<': e = "&lt;"; break;
		case '>': e = "&gt;"; break;
		case '"': e = "&quot;"; break;
		case '\'': e = "&apos;"; break;
		default: e = NULL; break;
		}
		el = e != NULL ? strlen(e) : 1;
		if (k + el >= n)
			return -1;
		if (e != NULL)
			memcpy(dst + k, e, el);
		else
			dst[k] = *s;
		k += el;
	}
	dst[k] = '\0';
	return 0;
}

/* Visible ASCII only: what may go into a URL in the WSDL as it is. */
static int
is_visible(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
			return 0;
	return 1;
}

/*
 * The WSDL, its endpoint the address the request came in on: the Host
 * header (what the client asked for, so a client reading through a relay
 * calls the relay only when its Host names it), or else this socket's own
 * address.  The path is the request's, without its query.
 */
static char *
wsdl_doc(const struct conn *c, size_t *len)
{
	char host[sizeof(c->r.host) + ADDR_TEXT], path[sizeof(c->r.target)];
	char loc[4 * 1024];
	char *doc, *q;
	int n;

	if (c->r.host[0] != '\0' && !c->r.host_cut && is_visible(c->r.host))
		snprintf(host, sizeof(host), "%s", c->r.host);
	else
		addr_fmt_local(c->fd, host, sizeof(host));
	snprintf(path, sizeof(path), "%s", c->r.target);
	if ((q = strchr(path, '?')) != NULL)
		*q = '\0';
	if (path[0] != '/' || !is_visible(path))
		snprintf(path, sizeof(path), "/");
	snprintf(loc, sizeof(loc), "http://");
	if (xml_attr_cat(loc, sizeof(loc), host) == -1 ||
	    xml_attr_cat(loc, sizeof(loc), path) == -1)
		return NULL;
	if ((n = snprintf(NULL, 0, wsdl_fmt, loc)) < 0 ||
	    (doc = malloc((size_t)n + 1)) == NULL)
		return NULL;
	snprintf(doc, (size_t)n + 1, wsdl_fmt, loc);
	*len = (size_t)n;
	return doc;
}

/* Is the target PATH?wsdl (any case), the WSDL's usual address? */
static int
wants_wsdl(const struct req *r)
{
	const char *q;

	return !r->target_cut && (q = strchr(r->target, '?')) != NULL &&
	    strcasecmp(q + 1, "wsdl") == 0;
}

/* --- connections ---------------------------------------------------- */

static void
conn_close(struct conn *c)
{
	loop_del(srv.loop, c->fd);
	close(c->fd);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		srv.conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	free(c->r.body);
	free(c->out);
	free(c);
	srv.nconns--;
	if (srv.paused && srv.nconns < MAX_CONNS) {
		loop_mod(srv.loop, srv.lfd, LOOP_READ);
		srv.paused = 0;
	}
}

/* Reads only while reading or draining; writes while output waits. */
static void
conn_events(struct conn *c)
{
	loop_mod(srv.loop, c->fd, (c->st != ST_SEND ? LOOP_READ : 0) |
	    (c->opos < c->olen ? LOOP_WRITE : 0));
}

/* Ready for the next request (or the first). */
static void
conn_idle(struct conn *c)
{
	free(c->r.body);
	memset(&c->r, 0, sizeof(c->r));
	memset(&c->h, 0, sizeof(c->h));
	c->st = ST_READ;
	c->rs = RS_HEAD;
	c->first = 1;
	c->idle = 1;
	c->deadline = tm_mono_ms() + IDLE_MS;
	/* A kept-alive connection may stay silent for IDLE_MS; once a
	 * request begins, all of it must come within REQ_MS, so that a
	 * client trickling bytes cannot hold its connection. */
	if (c->pos < c->end) {
		c->idle = 0;
		c->deadline = tm_mono_ms() + REQ_MS;
	}
}

static int
out_add(struct conn *c, const void *p, size_t n)
{
	char *o;

	if (c->opos == c->olen)
		c->opos = c->olen = 0;
	if ((o = realloc(c->out, c->olen + n)) == NULL)
		return -1;
	memcpy(o + c->olen, p, n);
	c->out = o;
	c->olen += n;
	return 0;
}

/* Writes what it can: 0 all written, 1 some waits, -1 the peer is gone. */
static int
out_flush(struct conn *c)
{
	ssize_t w;

	while (c->opos < c->olen) {
		w = send(c->fd, c->out + c->opos, c->olen - c->opos,
		    MSG_NOSIGNAL);
		if (w == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 1;
			return -1;
		}
		c->opos += (size_t)w;
	}
	free(c->out);
	c->out = NULL;
	c->opos = c->olen = 0;
	return 0;
}

/*
 * Queues one response; what follows once it is written is `after`.  The
 * head and body go out in one send, which avoids a Nagle stall between
 * two small writes.  A HEAD answer has the length of the body it does not
 * carry.
 */
static int
respond(struct conn *c, int status, const char *ctype, const void *body,
    size_t blen, int head, enum after after, const char *extra)
{
	char hdr[512], date[64];
	const char *conn_hdr;
	int n;

	if (after != AFTER_KEEP)
		conn_hdr = "Connection: close\r\n";
	else
		conn_hdr = c->r.minor == 0 ? "Connection: keep-alive\r\n" : "";
	http_date(date, sizeof(date));
	n = snprintf(hdr, sizeof(hdr),
	    "HTTP/1.1 %d %s\r\n"
	    "Date: %s\r\n"
	    "Server: " PROG "/" TCPMON_VERSION "\r\n"
	    "Content-Type: %s\r\n"
	    "Content-Length: %zu\r\n"
	    "%s%s\r\n",
	    status, reason(status), date, ctype, blen, extra, conn_hdr);
	if (n < 0 || (size_t)n >= sizeof(hdr) ||
	    out_add(c, hdr, (size_t)n) == -1 ||
	    (!head && out_add(c, body, blen) == -1))
		return -1;
	c->st = ST_SEND;
	c->after = after;
	c->deadline = tm_mono_ms() + SEND_MS;
	return 0;
}

/*
 * An error answer after which the connection closes.  The client may
 * still be sending a body we refused; closing with unread data makes the
 * kernel send an RST, which can destroy the answer before the client reads
 * it.  So: answer, half-close, read and drop for a moment (the drain),
 * then close.
 */
static int
respond_error(struct conn *c, int status)
{
	char body[64];
	int n;

	n = snprintf(body, sizeof(body), "%d %s\n", status, reason(status));
	return respond(c, status, CT_TEXT, body, (size_t)n, 0, AFTER_LINGER,
	    "");
}

/* --- reading a request as its bytes come ---------------------------- */

/*
 * Takes the next line from in[], at most max bytes with its end,
 * NUL-terminated and without its CRLF (or bare LF); *raw is its length as
 * received.  R_MORE while it has not all come, R_LONG when too long.
 */
static int
take_line(struct conn *c, size_t max, char **line, size_t *len, size_t *raw)
{
	char *s, *nl;
	size_t n;

	s = c->in + c->pos;
	if ((nl = memchr(s, '\n', c->end - c->pos)) == NULL)
		return c->end - c->pos >= max ? R_LONG : R_MORE;
	n = (size_t)(nl - s) + 1;
	if (n > max)
		return R_LONG;
	c->pos += n;
	*raw = n;
	n--;
	if (n > 0 && s[n - 1] == '\r')
		n--;
	s[n] = '\0';
	*line = s;
	*len = n;
	return R_DONE;
}

/* Moves body bytes from in[] to the body, up to c->left. */
static void
take_body(struct conn *c)
{
	size_t k = c->end - c->pos;

	if (k > c->left)
		k = (size_t)c->left;
	memcpy(c->r.body + c->r.blen, c->in + c->pos, k);
	c->r.blen += k;
	c->pos += k;
	c->left -= k;
}

/* The header block has ended: checks it and says how the body comes. */
static int
head_done(struct conn *c)
{
	static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
	struct req *r = &c->r;
	struct hdrs *h = &c->h;

	if (r->minor >= 1 && h->host != 1)
		return 400;
	if (r->minor >= 1)
		r->keepalive = !h->conn_close;
	else
		r->keepalive = h->conn_keepalive && !h->conn_close;
	if (h->te_other)
		return 501;
	/* Both framings at once is how requests get smuggled: the chunked
	 * one wins and the connection ends after the answer. */
	if (h->te && r->has_len)
		r->keepalive = 0;
	if (h->expect_other)
		return 417;
	if (r->expect_continue && r->minor >= 1 &&
	    (r->chunked || r->clen > 0) &&
	    out_add(c, cont, sizeof(cont) - 1) == -1)
		return 500;
	if (r->chunked) {
		c->rs = RS_CSIZE;
		return R_MORE;
	}
	if (r->clen == 0)
		return R_DONE;
	if (body_grow(r, (size_t)r->clen) == -1)
		return 500;
	c->left = r->clen;
	c->rs = RS_BODY;
	return R_MORE;
}

/* A chunk-size line: hex digits, then extensions, which are ignored. */
static int
chunk_size(struct conn *c, const char *line)
{
	const char *p;
	uint64_t size = 0;
	int d;

	for (p = line; (d = hexval((unsigned char)*p)) != -1; p++)
		if ((size = size * 16 + (uint64_t)d) > BODY_MAX)
			return 413;
	if (p == line)
		return 400;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p != '\0' && *p != ';')
		return 400;
	if (size == 0) {
		c->rs = RS_TRAILER;
		return R_MORE;
	}
	if (size > BODY_MAX - c->r.blen)
		return 413;
	if (body_grow(&c->r, c->r.blen + size) == -1)
		return 500;
	c->left = size;
	c->rs = RS_CDATA;
	return R_MORE;
}

/*
 * Reads as much of the request as in[] holds.  Returns R_DONE when the
 * whole request is in c->r, R_MORE when it needs more bytes, or an HTTP
 * status to answer with before closing.
 */
static int
parse_step(struct conn *c)
{
	struct req *r = &c->r;
	char *line;
	size_t len, raw;
	int rc;

	for (;;) {
		switch (c->rs) {
		case RS_HEAD:
		case RS_TRAILER:
			/* Trailer fields: read against the header cap, and
			 * dropped. */
			rc = take_line(c, HDR_MAX - r->hdrbytes, &line, &len,
			    &raw);
			if (rc != R_DONE)
				return rc == R_LONG ? 431 : rc;
			r->hdrbytes += raw;
			if (c->rs == RS_TRAILER) {
				if (len == 0)
					return R_DONE;
			} else if (c->first) {
				if (len == 0)	/* RFC 9112: skip CRLFs before it */
					continue;
				if ((rc = parse_request_line(line, len, r)) != 0)
					return rc;
				c->first = 0;
			} else if (len == 0) {
				if ((rc = head_done(c)) != R_MORE)
					return rc;
			} else if ((rc = parse_header(line, len, r, &c->h)) != 0)
				return rc;
			break;
		case RS_BODY:
		case RS_CDATA:
			take_body(c);
			if (c->left > 0)
				return R_MORE;
			if (c->rs == RS_BODY)
				return R_DONE;
			c->rs = RS_CCRLF;
			break;
		case RS_CSIZE:
			rc = take_line(c, CHUNK_LINE_MAX, &line, &len, &raw);
			if (rc != R_DONE)
				return rc == R_LONG ? 400 : rc;
			if ((rc = chunk_size(c, line)) != R_MORE)
				return rc;
			break;
		case RS_CCRLF:
			rc = take_line(c, 2, &line, &len, &raw);
			if (rc == R_LONG || (rc == R_DONE && len != 0))
				return 400;
			if (rc != R_DONE)
				return rc;
			c->rs = RS_CSIZE;
			break;
		}
	}
}

/* --- answering ------------------------------------------------------ */

/* Queues the answer to one whole request. */
static int
handle(struct conn *c)
{
	struct req *r = &c->r;
	enum after after = r->keepalive ? AFTER_KEEP : AFTER_CLOSE;
	struct answer a;
	xmlChar *xml;
	char *doc;
	size_t dlen;
	int head, len, rc;

	head = strcmp(r->method, "HEAD") == 0;
	if (head || strcmp(r->method, "GET") == 0) {
		if (wants_wsdl(r)) {
			if ((doc = wsdl_doc(c, &dlen)) == NULL)
				return respond(c, 500, CT_TEXT,
				    "500 Internal Server Error\n", 26, head,
				    after, "");
			rc = respond(c, 200, CT_SOAP11, doc, dlen, head,
			    after, "");
			free(doc);
			return rc;
		}
		if (strcmp(r->target, "/") == 0)
			return respond(c, 200, CT_TEXT, ABOUT,
			    sizeof(ABOUT) - 1, head, after, "");
		return respond(c, 404, CT_TEXT, "404 Not Found\n", 14, head,
		    after, "");
	}
	if (strcmp(r->method, "POST") != 0)
		return respond(c, 405, CT_TEXT, "405 Method Not Allowed\n", 23,
		    0, after, "Allow: GET, HEAD, POST\r\n");
	memset(&a, 0, sizeof(a));
	soap_call(r, &a);
	if (soap_render(&a, &xml, &len) == -1) {
		xmlFree(a.value);
		return respond(c, 500, CT_TEXT, "500 Internal Server Error\n",
		    26, 0, after, "");
	}
	rc = respond(c, a.fault != FAULT_NONE ? 500 : 200,
	    a.v12 ? CT_SOAP12 : CT_SOAP11, xml, (size_t)len, 0, after, "");
	xmlFree(xml);
	xmlFree(a.value);
	return rc;
}

/*
 * Moves a connection on as far as it can go without waiting: writes what
 * is queued, reads requests from in[] and answers them, one at a time (a
 * pipelining client's next request waits until the answer before it is
 * written).  Closes the connection when it is done with it.
 */
static void
drive(struct conn *c)
{
	int rc;

	for (;;) {
		if (c->opos < c->olen) {
			if ((rc = out_flush(c)) == -1) {
				conn_close(c);
				return;
			}
			if (rc == 1 && c->st == ST_SEND)
				break;
		}
		if (c->st == ST_SEND) {
			if (c->after == AFTER_CLOSE) {
				conn_close(c);
				return;
			}
			if (c->after == AFTER_LINGER) {
				shutdown(c->fd, SHUT_WR);
				c->st = ST_DRAIN;
				c->pos = c->end = 0;
				c->dropped = 0;
				c->deadline = tm_mono_ms() + DRAIN_MS;
				break;
			}
			conn_idle(c);
		}
		if (c->st != ST_READ)
			break;
		if ((rc = parse_step(c)) == R_MORE)
			break;
		if (rc == R_DONE)
			rc = handle(c);
		else
			rc = respond_error(c, rc);
		if (rc == -1) {
			conn_close(c);
			return;
		}
	}
	conn_events(c);
}

/* Reads what has come.  Returns -1 when the connection was closed. */
static int
conn_read(struct conn *c)
{
	ssize_t n;

	if (c->pos > 0) {
		memmove(c->in, c->in + c->pos, c->end - c->pos);
		c->end -= c->pos;
		c->pos = 0;
	}
	if (c->end == sizeof(c->in)) {
		/* parse_step refuses a line this long before: not reached. */
		conn_close(c);
		return -1;
	}
	n = recv(c->fd, c->in + c->end, sizeof(c->in) - c->end, 0);
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK ||
	    errno == EINTR))
		return 0;
	if (n <= 0) {
		/* The peer left, between requests or inside one: no one to
		 * answer. */
		conn_close(c);
		return -1;
	}
	if (c->st == ST_DRAIN) {
		c->pos = c->end = 0;
		if ((c->dropped += (size_t)n) >= BODY_MAX) {
			conn_close(c);
			return -1;
		}
		return 0;
	}
	c->end += (size_t)n;
	if (c->idle) {
		c->idle = 0;
		c->deadline = tm_mono_ms() + REQ_MS;
	}
	return 0;
}

static void
on_conn(struct loop *l, int fd, unsigned ev, void *arg)
{
	struct conn *c = arg;

	(void)l;
	(void)fd;
	if (c->st != ST_SEND && (ev & (LOOP_READ | LOOP_ERROR)) &&
	    conn_read(c) == -1)
		return;
	if (c->st == ST_DRAIN)
		return;
	drive(c);
}

/* Every SWEEP_MS: deadlines.  A request not all come in time is a 408;
 * silence between requests, a stalled answer or drain, a close. */
static void
on_sweep(struct loop *l, void *arg)
{
	struct conn *c, *next;
	int64_t now = tm_mono_ms();

	(void)l;
	(void)arg;
	for (c = srv.conns; c != NULL; c = next) {
		next = c->next;
		if (now < c->deadline)
			continue;
		if (c->st != ST_READ || c->idle) {
			conn_close(c);
			continue;
		}
		/* 408 with no reading meanwhile: what is queued goes first. */
		if (respond_error(c, 408) == -1) {
			conn_close(c);
			continue;
		}
		drive(c);
	}
}

static void
on_resume(struct loop *l, void *arg)
{
	(void)arg;
	if (srv.paused && srv.nconns < MAX_CONNS) {
		loop_mod(l, srv.lfd, LOOP_READ);
		srv.paused = 0;
	}
}

static void
on_accept(struct loop *l, int lfd, unsigned ev, void *arg)
{
	struct conn *c;
	int fd;

	(void)ev;
	(void)arg;
	while (srv.nconns < MAX_CONNS) {
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			switch (errno) {
			case EAGAIN:
			case ECONNABORTED:
			case EPROTO:
				return;
			case EINTR:
				continue;
			default:
				/* Out of descriptors or memory for now: pause
				 * rather than spin on a listener that stays
				 * readable. */
				warn("accept");
				loop_mod(l, lfd, 0);
				srv.paused = 1;
				loop_once(l, 100, on_resume, NULL);
				return;
			}
		}
		if ((c = calloc(1, sizeof(*c))) == NULL) {
			warn("accept");
			close(fd);
			return;
		}
		c->fd = fd;
		if (loop_add(l, fd, LOOP_READ, on_conn, c) == -1) {
			warn("accept");
			close(fd);
			free(c);
			return;
		}
		if ((c->next = srv.conns) != NULL)
			c->next->prev = c;
		srv.conns = c;
		srv.nconns++;
		conn_idle(c);
	}
	/* Full: the rest wait in the listen queue until one closes. */
	loop_mod(l, lfd, 0);
	srv.paused = 1;
}

static void
on_signal(struct loop *l, int fd, unsigned ev, void *arg)
{
	struct signalfd_siginfo si;

	(void)ev;
	(void)arg;
	if (read(fd, &si, sizeof(si)) > 0)
		loop_stop(l);
}

int
main(int argc, char *argv[])
{
	struct opts o;
	struct addr a;
	struct sockaddr_any sa;
	sigset_t mask;
	char ebuf[512], where[ADDR_TEXT + 16];
	int sfd;

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

	/* SIGINT and SIGTERM come through the loop, as the relay's do. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) == -1)
		err(TM_EXIT_FAIL, "sigprocmask");
	if ((srv.loop = loop_new()) == NULL)
		err(TM_EXIT_FAIL, "epoll");
	if ((sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC)) == -1 ||
	    loop_add(srv.loop, sfd, LOOP_READ, on_signal, NULL) == -1)
		err(TM_EXIT_FAIL, "signalfd");
	if (loop_every(srv.loop, SWEEP_MS, on_sweep, NULL) == -1)
		errx(TM_EXIT_FAIL, "no timer");

	if ((srv.lfd = sock_listen(&sa, 128)) == -1)
		err(TM_EXIT_FAIL, "listen %s", a.text);
	if (loop_add(srv.loop, srv.lfd, LOOP_READ, on_accept, NULL) == -1)
		err(TM_EXIT_FAIL, "epoll");
	fprintf(stderr, "%s: listening on %s\n", PROG,
	    addr_fmt_local(srv.lfd, where, sizeof(where)));
	fflush(stderr);

	if (loop_run(srv.loop) == -1)
		err(TM_EXIT_FAIL, "epoll");
	while (srv.conns != NULL)
		conn_close(srv.conns);
	loop_del(srv.loop, srv.lfd);
	close(srv.lfd);
	loop_del(srv.loop, sfd);
	close(sfd);
	loop_free(srv.loop);
	xmlCleanupParser();
	return TM_EXIT_OK;
}
