/* request.c - the bytes of a request: the body read whole, checked when it
 * is XML, its SOAP version and headers decided, and the head written.
 * Raw requests go as they are once checked, or corrected (rawreq.c). */
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "send.h"
#include "util.h"

#define NS11 "http://schemas.xmlsoap.org/soap/envelope/"
#define NS12 "http://www.w3.org/2003/05/soap-envelope"
#define MAX_HEAD_FIELDS	(SEND_MAX_HEADERS + 16)

void
read_input(const char *path, unsigned char **out, size_t *outlen)
{
	const char *name = strcmp(path, "-") == 0 ? "stdin" : path;
	unsigned char *buf = NULL, *nb;
	size_t len = 0, cap = 0;
	ssize_t n;
	int fd;

	if (strcmp(path, "-") == 0)
		fd = STDIN_FILENO;
	else if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		err(TM_EXIT_USAGE, "%s", path);
	for (;;) {
		if (len == cap) {
			if (cap == SEND_MAX_INPUT + 1)
				errx(TM_EXIT_USAGE, "%s: over the %u MiB limit",
				    name, SEND_MAX_INPUT >> 20);
			cap = cap ? cap * 2 : 64 * 1024;
			if (cap > SEND_MAX_INPUT + 1)
				cap = SEND_MAX_INPUT + 1;
			if ((nb = realloc(buf, cap)) == NULL)
				err(TM_EXIT_FAIL, "malloc");
			buf = nb;
		}
		if ((n = read(fd, buf + len, cap - len)) == -1) {
			if (errno == EINTR)
				continue;
			err(TM_EXIT_USAGE, "read %s", name);
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > SEND_MAX_INPUT)
		errx(TM_EXIT_USAGE, "%s: over the %u MiB limit", name,
		    SEND_MAX_INPUT >> 20);
	if (fd != STDIN_FILENO)
		close(fd);
	*out = buf;
	*outlen = len;
}

struct field {
	char		 name[128];
	const char	*value;
};

struct fields {
	struct field	 f[MAX_HEAD_FIELDS];
	int		 n;
};

static struct field *
find(struct fields *fs, const char *name)
{
	int i;

	for (i = 0; i < fs->n; i++)
		if (strcasecmp(fs->f[i].name, name) == 0)
			return &fs->f[i];
	return NULL;
}

static void
add(struct fields *fs, const char *name, size_t nl, const char *value)
{
	struct field *f = &fs->f[fs->n++];

	snprintf(f->name, sizeof(f->name), "%.*s", (int)nl, name);
	f->value = value;
}

/* A -H over a header of ours replaces it; "Name:" with nothing after it
 * takes ours away. */
static void
user_header(struct fields *fs, const char *h)
{
	const char *c = strchr(h, ':'), *v;
	struct field *f;
	char name[128];
	int i;

	snprintf(name, sizeof(name), "%.*s", (int)(c - h), h);
	for (v = c + 1; *v == ' ' || *v == '\t'; v++)
		;
	if ((f = find(fs, name)) != NULL && f < fs->f + fs->n) {
		if (*v != '\0') {
			f->value = v;
			return;
		}
		i = (int)(f - fs->f);
		memmove(f, f + 1, (size_t)(fs->n - i - 1) * sizeof(*f));
		fs->n--;
		return;
	}
	if (*v != '\0')
		add(fs, name, strlen(name), v);
}

/* The first byte that is not white space (after a UTF-8 BOM). */
static int
first_byte(const unsigned char *p, size_t n)
{
	size_t i = 0;

	if (n >= 3 && p[0] == 0xef && p[1] == 0xbb && p[2] == 0xbf)
		i = 3;
	for (; i < n; i++)
		if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r' && p[i] != '\n')
			return p[i];
	return -1;
}

static int
has_bytes(const unsigned char *p, size_t n, const char *s)
{
	return memmem(p, n, s, strlen(s)) != NULL;
}

static const char *
user_value(const struct opts *o, const char *name)
{
	size_t nl = strlen(name);
	const char *v;
	int i;

	for (i = o->nheader - 1; i >= 0; i--)
		if (strncasecmp(o->header[i], name, nl) == 0 &&
		    o->header[i][nl] == ':') {
			for (v = o->header[i] + nl + 1; *v == ' '; v++)
				;
			return v;
		}
	return NULL;
}

/* The body's Content-Type (and SOAPAction): SOAP 1.1 or 1.2 by the
 * options or the envelope, else guessed from the first byte; an XML body
 * is checked first (exit 2 when it is not well-formed). */
static void
body_type(const struct opts *o, const unsigned char *body, size_t blen,
    int has_body, struct fields *fsp)
{
	static char ctype[600], action[540];
	const char *uct = user_value(o, "Content-Type"), *name;
	char msg[1024];
	int version = SOAP_NONE, xmlish, fb;

	fb = first_byte(body, blen);
	xmlish = o->soap_action != NULL || o->soap12 || fb == '<' ||
	    (uct != NULL && strcasestr(uct, "xml") != NULL);
	if (has_body && xmlish && !o->no_check) {
		name = strcmp(o->file, "-") == 0 ? "stdin" : o->file;
		if (xml_check(body, blen, &version, msg, sizeof(msg)) == -1)
			errx(TM_EXIT_USAGE, "%s: not well-formed XML, nothing "
			    "sent: %s", name, msg);
	} else if (has_body && xmlish) {
		/* Unchecked: the namespace is guessed from the text. */
		version = has_bytes(body, blen, NS12) ? SOAP_12 :
		    has_bytes(body, blen, NS11) ? SOAP_11 : SOAP_NONE;
	}
	if (o->soap12 || o->soap_action != NULL) {
		if (version != SOAP_NONE && version != (o->soap12 ? SOAP_12 :
		    SOAP_11))
			warnx("warning: a SOAP 1.%d envelope sent as SOAP 1.%d",
			    version == SOAP_12 ? 2 : 1, o->soap12 ? 2 : 1);
		version = o->soap12 ? SOAP_12 : SOAP_11;
	}
	if (has_body) {
		if (version == SOAP_12) {
			if (o->soap_action != NULL)
				snprintf(ctype, sizeof(ctype), "application/"
				    "soap+xml; charset=utf-8; action=\"%s\"",
				    o->soap_action);
			else
				snprintf(ctype, sizeof(ctype),
				    "application/soap+xml; charset=utf-8");
		} else if (version == SOAP_11)
			snprintf(ctype, sizeof(ctype),
			    "text/xml; charset=utf-8");
		else if (fb == '<')
			snprintf(ctype, sizeof(ctype), "application/xml");
		else if (fb == '{' || fb == '[')
			snprintf(ctype, sizeof(ctype), "application/json");
		else
			snprintf(ctype, sizeof(ctype),
			    "application/octet-stream");
		add(fsp, "Content-Type", 12, ctype);
		if (version == SOAP_11) {
			/* SOAP 1.1 requires the header, quoted, even empty. */
			snprintf(action, sizeof(action), "\"%s\"",
			    o->soap_action != NULL ? o->soap_action : "");
			add(fsp, "SOAPAction", 10, action);
		}
	}
}

/* The request's bytes: the head from the fields, then the body; two
 * chunks when the body waits for 100 Continue. */
static void
frame(struct request *rq, const char *method, const struct url *u,
    struct fields *fsp, const unsigned char *body, size_t blen)
{
	struct field *f;
	size_t hl;
	char *p;
	int i;

	hl = strlen(method) + strlen(u->path) + 16;
	for (i = 0; i < fsp->n; i++)
		hl += strlen(fsp->f[i].name) + strlen(fsp->f[i].value) + 4;
	if ((rq->buf = malloc(hl + blen + 1)) == NULL)
		err(TM_EXIT_FAIL, "malloc");
	p = (char *)rq->buf;
	p += sprintf(p, "%s %s HTTP/1.1\r\n", method, u->path);
	for (i = 0; i < fsp->n; i++)
		p += sprintf(p, "%s: %s\r\n", fsp->f[i].name, fsp->f[i].value);
	p += sprintf(p, "\r\n");
	rq->head_len = (size_t)(p - (char *)rq->buf);
	if (blen > 0)
		memcpy(p, body, blen);
	rq->len = rq->head_len + blen;

	f = find(fsp, "Expect");
	rq->expect100 = blen > 0 && f != NULL &&
	    strcasecmp(f->value, "100-continue") == 0;
	rq->chunk[0].p = rq->buf;
	if (rq->expect100) {
		/* The body waits for the server's 100 Continue (or a
		 * second), and is never sent if a final answer comes
		 * first. */
		rq->chunk[0].len = rq->head_len;
		rq->chunk[1].p = rq->buf + rq->head_len;
		rq->chunk[1].len = blen;
		rq->chunk[1].wait100 = 1;
		rq->nchunk = 2;
	} else {
		rq->chunk[0].len = rq->len;
		rq->nchunk = 1;
	}
}

void
req_build(const struct opts *o, const struct url *u, const char *method,
    const unsigned char *body, size_t blen, int has_body, struct request *rq)
{
	static char clen[32];
	struct fields fs;
	int i;

	memset(rq, 0, sizeof(*rq));
	fs.n = 0;
	add(&fs, "Host", 4, u->hostport);
	add(&fs, "User-Agent", 10, "tcpmon-send/" TCPMON_VERSION);
	add(&fs, "Accept", 6, "*/*");

	body_type(o, body, blen, has_body, &fs);
	if (has_body || strcmp(method, "POST") == 0 ||
	    strcmp(method, "PUT") == 0 || strcmp(method, "PATCH") == 0) {
		snprintf(clen, sizeof(clen), "%zu", blen);
		add(&fs, "Content-Length", 14, clen);
	}
	for (i = 0; i < o->nheader; i++)
		user_header(&fs, o->header[i]);

	frame(rq, method, u, &fs, body, blen);
}

/*
 * --raw: a request whose Content-Length no longer matches its edited body is
 * sent cut, or with bytes the server reads as the next request, and the
 * answer puzzles.  So the file is read as a server will read it first, and
 * refused when its framing is wrong, unless --fix-length corrects it or
 * --as-is says to send it anyway.  A head with lines ended in LF alone
 * (a file saved by an editor) is sent with a warning: servers accept it,
 * as RFC 9112 lets them, and --fix-length ends them in CRLF.
 */
void
req_raw(const struct opts *o, unsigned char *buf, size_t len,
    struct request *rq)
{
	const char *name = strcmp(o->file, "-") == 0 ? "stdin" : o->file;
	const char *why, *fixed_why;
	struct rawreq rr, fr;
	char msg[256], fmsg[256];
	unsigned char *nb;
	size_t nlen;

	memset(rq, 0, sizeof(*rq));
	rq->buf = buf;
	rq->len = len;
	if (!o->as_is) {
		why = rawreq_check(buf, len, &rr, msg, sizeof(msg));
		if ((nb = rawreq_fix(buf, len, &nlen)) == NULL)
			err(TM_EXIT_FAIL, "malloc");
		fixed_why = rr.several ? msg : rawreq_check(nb, nlen, &fr,
		    fmsg, sizeof(fmsg));
		if (o->fix_length && fixed_why != NULL)
			errx(TM_EXIT_USAGE, "%s: %s (--fix-length cannot "
			    "correct that; use --as-is to send it anyway)",
			    name, fixed_why);
		if (!o->fix_length && why != NULL)
			errx(TM_EXIT_USAGE, "%s: %s (use %s--as-is to send it "
			    "anyway)", name, why, fixed_why == NULL ?
			    "--fix-length to correct it, or " : "");
		if (o->fix_length) {
			free(buf);
			rq->buf = nb;
			rq->len = nlen;
		} else {
			free(nb);
			if (rr.bare_lf)
				warnx("warning: %s: lines of the head end in "
				    "LF, not CRLF; sent as they are "
				    "(--fix-length ends them in CRLF)", name);
		}
	}
	rq->chunk[0].p = rq->buf;
	rq->chunk[0].len = rq->len;
	rq->nchunk = 1;
}

void
req_free(struct request *rq)
{
	free(rq->buf);
	rq->buf = NULL;
}
