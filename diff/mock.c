/* mock.c - tcpmon-mock: a server that answers from recorded exchanges, so
 * that a client can be tested without the real service.  A request is
 * matched to a recorded one by method, path, query (order ignored) and
 * body, compared as tcpmon-diff compares (XML canonically without volatile
 * nodes, JSON as values, else exactly); several recorded answers to the
 * same request are served in their recorded order, the last one repeated.
 * A request that matches nothing gets 404 (a SOAP Fault with 500 for a
 * SOAP request) naming the nearest recorded exchange and what differed.
 *
 * --raw plays connections instead, for protocols that are not HTTP: each
 * client connection gets the next recorded one's server bytes, each part
 * once the client has sent as many bytes as the recorded client had.
 * --pace holds each answer for the server's recorded think time; -o
 * writes what was served as records.
 *
 * One reactor (loop.h); each connection's requests are read by the HTTP
 * reassembler and answered in order, keep-alive as the client asks.  An
 * answer is put at the end of the connection's output at once; with
 * --pace, only the output up to olim may go, and a one-shot timer moves
 * olim to the end of each held answer when its time comes. */
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cmp.h"
#include "grow.h"
#include "http.h"
#include "loop.h"
#include "net.h"
#include "record.h"
#include "script.h"
#include "util.h"
#include "xch.h"

#define PROG		"tcpmon-mock"
#define MAX_BODY	(16u * 1024 * 1024)	/* of a request */
#define MAX_OUT		(64u * 1024 * 1024)	/* answers not yet taken */

/* A recorded exchange, with the keys a request is matched on. */
struct entry {
	struct dxch	*x;
	char		*path, *query;	/* query: its parameters sorted */
	struct norm	 body;
	int		 served;
};

/* An answer held by --pace: the output up to end goes at due. */
struct pend {
	size_t		 end;
	int64_t		 due;		/* tm_mono_ms */
};

struct mconn {
	int		 fd;
	uint64_t	 id;		/* in the records of -o */
	struct http_conn hc;
	/* The request being read. */
	char		*method, *target, *ctype, *action;
	unsigned char	*body;
	size_t		 blen, bcap;
	int		 close_after;	/* Connection: close, or HTTP/1.0 */
	int		 too_big;
	int64_t		 delay_ms;	/* --pace: the answer's think time */
	unsigned char	*out;		/* answers waiting to be written */
	size_t		 olen, ocap, ooff;
	size_t		 olim;		/* out[ooff, olim) may go now */
	struct pend	*pend;		/* held answers, in order */
	size_t		 npend, cappend;
	int64_t		 wake;		/* the timer of pend[0], or -1 */
	int		 closing;
	/* --raw: the recorded connection played, and where it is. */
	const struct script *sc;
	size_t		 step;
	size_t		 cin;		/* client bytes read */
	int		 ceof, differs, wshut, shut_done;
	struct mconn	*next;
};

static struct {
	struct loop	*loop;
	struct cmp_opts	 c;
	struct entry	*e;
	size_t		 ne;
	struct capture	*caps;
	int		 ncaps;
	int		 lfd;
	int		 strict, raw, pace;
	uint64_t	 served, unmatched;
	struct mconn	*conns;
	struct scripts	 ss;		/* --raw */
	char		*played;	/* by script */
	/* -o: what was served, as records. */
	const char	*out;
	int		 wfd;
	struct rec_writer w;
	char		 src[32];
	uint64_t	 next_id;
} m;

static const struct option longopts[] = {
	{ "help",		no_argument,	   NULL, 'h' },
	{ "ignore-json",	required_argument, NULL, 'J' },
	{ "ignore-xpath",	required_argument, NULL, 'X' },
	{ "listen",		required_argument, NULL, 'l' },
	{ "ns",			required_argument, NULL, 'N' },
	{ "output",		required_argument, NULL, 'o' },
	{ "pace",		no_argument,	   NULL, 'P' },
	{ "raw",		no_argument,	   NULL, 'R' },
	{ "strict",		no_argument,	   NULL, 'S' },
	{ "version",		no_argument,	   NULL, 'V' },
	{ NULL,			0,		   NULL, 0 }
};

static void __attribute__((noreturn))
usage(int status)
{
	FILE *f = status == 0 ? stdout : stderr;

	fputs("usage: tcpmon-mock -l [ADDR:]PORT [-o FILE] [--pace] [--strict] "
	    "[--ignore-xpath EXPR]\n"
	    "                   [--ns PREFIX=URI] [--ignore-json PATH] "
	    "CAPTURE ...\n"
	    "       tcpmon-mock --raw -l [ADDR:]PORT [-o FILE] [--pace] "
	    "[--strict] CAPTURE ...\n", f);
	if (status == TM_EXIT_OK)
		fputs("\n"
		    "  -l, --listen [ADDR:]PORT  listen there (port 0: any; "
		    "127.0.0.1 unless ADDR)\n"
		    "  -o, --output FILE         write what was served as "
		    "records (-: stdout)\n"
		    "      --pace                answer after the server's "
		    "recorded think time\n"
		    "      --raw                 not HTTP: play the recorded "
		    "connections' bytes\n"
		    "      --strict              exit 1 at the end when a "
		    "request matched nothing\n"
		    "      --ignore-xpath EXPR   leave these nodes out of XML "
		    "bodies when matching\n"
		    "      --ns PREFIX=URI       bind a prefix for "
		    "--ignore-xpath\n"
		    "      --ignore-json PATH    leave a member out of JSON "
		    "bodies when matching\n"
		    "  -h, --help                print this help and exit\n"
		    "      --version             print the version and exit\n"
		    "\nSee tcpmon-mock(1).\n", f);
	exit(status);
}

static char *
xstrdup(const char *s)
{
	char *p;

	if ((p = strdup(s)) == NULL)
		err(TM_EXIT_FAIL, "strdup");
	return p;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* target into its path and its query's parameters, sorted: the order of
 * parameters does not count. */
static void
split_target(const char *target, char **path, char **query)
{
	const char *q = strchr(target, '?');
	char *buf, *p, *parts[256], *out;
	size_t n = 0, i, len = 0;

	*path = q != NULL ? strndup(target, (size_t)(q - target)) :
	    xstrdup(target);
	if (*path == NULL)
		err(TM_EXIT_FAIL, "strndup");
	if (q == NULL) {
		*query = xstrdup("");
		return;
	}
	buf = xstrdup(q + 1);
	for (p = strtok(buf, "&"); p != NULL && n < 256; p = strtok(NULL, "&"))
		parts[n++] = p;
	qsort(parts, n, sizeof(parts[0]), cmp_str);
	for (i = 0; i < n; i++)
		len += strlen(parts[i]) + 1;
	if ((out = calloc(1, len + 1)) == NULL)
		err(TM_EXIT_FAIL, "calloc");
	for (i = 0; i < n; i++) {
		if (i > 0)
			strcat(out, "&");
		strcat(out, parts[i]);
	}
	free(buf);
	*query = out;
}

static void
load(int argc, char **argv)
{
	char msg[1024];
	size_t i, k;
	int c;

	if (m.raw) {
		for (c = 0; c < argc; c++)
			if (scripts_read(&m.ss, argv[c], msg, sizeof(msg)) < 0)
				errx(TM_EXIT_USAGE, "%s", msg);
		if (m.ss.n == 0)
			errx(TM_EXIT_USAGE, "no recorded connection in %s%s",
			    argv[0], argc > 1 ? " ..." : "");
		if ((m.played = calloc(m.ss.n, 1)) == NULL)
			err(TM_EXIT_FAIL, "calloc");
		return;
	}
	if ((m.caps = calloc((size_t)argc, sizeof(*m.caps))) == NULL)
		err(TM_EXIT_FAIL, "calloc");
	for (c = 0; c < argc; c++) {
		if (cap_read(&m.caps[c], argv[c], msg, sizeof(msg)) < 0)
			errx(TM_EXIT_USAGE, "%s", msg);
		m.ncaps++;
		m.ne += m.caps[c].n;
	}
	if ((m.e = calloc(m.ne + 1, sizeof(*m.e))) == NULL)
		err(TM_EXIT_FAIL, "calloc");
	for (k = 0, c = 0; c < m.ncaps; c++)
		for (i = 0; i < m.caps[c].n; i++, k++) {
			m.e[k].x = m.caps[c].x[i];
			split_target(m.e[k].x->req.target, &m.e[k].path,
			    &m.e[k].query);
			cmp_body(&m.c, m.e[k].x->req.ctype, m.e[k].x->req.body,
			    m.e[k].x->req.blen, &m.e[k].body, 0);
		}
}

static void
out_put(struct mconn *c, const void *p, size_t n)
{
	grow_put(&c->out, &c->olen, &c->ocap, 4096, p, n);
}

static void __attribute__((format(printf, 2, 3)))
out_printf(struct mconn *c, const char *fmt, ...)
{
	char buf[2048];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > 0)
		out_put(c, buf, (size_t)n < sizeof(buf) ? (size_t)n :
		    sizeof(buf) - 1);
}

/* -o: a record of connection c.  A failed write ends the mock: records
 * that stop short would say less than was served. */
static void
put_rec(struct mconn *c, enum rec_type t, enum rec_dir d, const void *p,
    size_t n, const char *key, const char *val)
{
	struct rec r;

	if (m.out == NULL)
		return;
	rec_init(&r, t, c != NULL ? c->id : 0);
	rec_set_src(&r, m.src);
	r.dir = d;
	if (key != NULL)
		rec_set(&r, key, val);
	if (t == REC_NOTE)
		rec_set(&r, "level", "warning");
	if (recw_put(&m.w, &r, p, n) == -1)
		errx(TM_EXIT_FAIL, "%s: %s", m.out, strerror(m.w.error));
}

static void
flush_rec(struct loop *l, void *arg)
{
	(void)l; (void)arg;
	if (m.out != NULL && recw_flush(&m.w) == -1)
		errx(TM_EXIT_FAIL, "%s: %s", m.out, strerror(m.w.error));
}

/* Says why a request went unanswered or a client strayed from the
 * recording: on stderr (control characters shown as dots) and, with -o, as
 * a note record of the connection. */
static void
complain(struct mconn *c, const char *why)
{
	char t[256];
	size_t i, n;

	for (i = 0, n = 0; why[i] != '\0' && n < sizeof(t) - 1; i++)
		t[n++] = (unsigned char)why[i] >= 0x20 && why[i] != 0x7f ?
		    why[i] : '.';
	t[n] = '\0';
	warnx("%s", t);
	put_rec(c, REC_NOTE, REC_NODIR, why, strlen(why), NULL, NULL);
	m.unmatched++;
}

static void	flush_out(struct mconn *);

static void	arm(struct mconn *);

/* --pace: the held answers whose time has come may go. */
static void
release(struct loop *l, void *arg)
{
	struct mconn *c = arg;
	int64_t now = tm_mono_ms();
	size_t i;

	(void)l;
	c->wake = -1;
	for (i = 0; i < c->npend && c->pend[i].due <= now; i++)
		c->olim = c->pend[i].end;
	memmove(c->pend, c->pend + i, (size_t)(c->npend - i) *
	    sizeof(*c->pend));
	c->npend -= i;
	arm(c);
	flush_out(c);
}

static void
arm(struct mconn *c)
{
	int64_t d;

	if (c->npend == 0 || c->wake != -1)
		return;
	d = c->pend[0].due - tm_mono_ms();
	if ((c->wake = loop_once(m.loop, d < 0 ? 0 : d > INT32_MAX ?
	    INT32_MAX : (int)d, release, c)) == -1)
		err(TM_EXIT_FAIL, "timer");
}

/* An answer was put at the end of the output: it may go at once, or,
 * held by --pace, delay_ms from now and not before those held already. */
static void
queued(struct mconn *c, int64_t delay_ms)
{
	if (c->npend == 0 && delay_ms <= 0) {
		c->olim = c->olen;
		return;
	}
	c->pend = grow_items(c->pend, &c->cappend, c->npend + 1,
	    sizeof(*c->pend), 8);
	c->pend[c->npend].end = c->olen;
	c->pend[c->npend++].due = tm_mono_ms() + (delay_ms > 0 ? delay_ms : 0);
	arm(c);
}

/* A recorded answer, framed anew: its body is the decoded one, with a
 * Content-Length of its own. */
static void
answer(struct mconn *c, const struct dmsg *a, int head_only)
{
	static const char *const drop[] = { "Content-Length",
	    "Transfer-Encoding", "Content-Encoding", "Connection",
	    "Keep-Alive" };
	size_t k;
	int i;

	out_printf(c, "HTTP/1.1 %d %s\r\n", a->status, a->reason != NULL ?
	    a->reason : "");
	for (i = 0; i < a->nh; i++) {
		for (k = 0; k < sizeof(drop) / sizeof(drop[0]); k++)
			if (strcasecmp(a->h[i].name, drop[k]) == 0)
				break;
		if (k == sizeof(drop) / sizeof(drop[0]))
			out_printf(c, "%s: %s\r\n", a->h[i].name,
			    a->h[i].value);
	}
	out_printf(c, "Content-Length: %zu\r\n%s\r\n", a->blen,
	    c->close_after ? "Connection: close\r\n" : "");
	if (!head_only)
		out_put(c, a->body, a->blen);
}

static int
is_soap(const struct mconn *c)
{
	return c->action != NULL || (c->ctype != NULL &&
	    (strcasestr(c->ctype, "soap") != NULL ||
	    (strcasestr(c->ctype, "xml") != NULL && c->blen > 0 &&
	    memmem(c->body, c->blen, "Envelope", 8) != NULL)));
}

static void
xml_text(char *dst, size_t n, const char *s)
{
	size_t k = 0;

	for (; *s != '\0' && k + 7 < n; s++) {
		const char *r = *s == '<' ? "&lt;" : *s == '>' ? "&gt;" :
		    *s == '&' ? "&amp;" : NULL;

		if (r != NULL) {
			memcpy(dst + k, r, strlen(r));
			k += strlen(r);
		} else if ((unsigned char)*s >= 0x20)
			dst[k++] = *s;
	}
	dst[k] = '\0';
}

/* No recorded exchange matches: 404, or 500 with a SOAP Fault, naming the
 * nearest one and what differed; a line on stderr too. */
static void
unmatched(struct mconn *c, const char *path, const char *query,
    const struct norm *body)
{
	char why[2048], esc[2200];
	const struct entry *near = NULL;
	size_t i;
	int score, best = -1;

	for (i = 0; i < m.ne; i++) {
		const struct entry *e = &m.e[i];

		score = (strcmp(e->path, path) == 0) * 4 +
		    (strcmp(e->x->req.method, c->method) == 0) * 2 +
		    (strcmp(e->query, query) == 0);
		if (score > best) {
			best = score;
			near = e;
		}
	}
	if (near == NULL)
		snprintf(why, sizeof(why), "no recorded exchange matches %s "
		    "%.200s, and none has its path", c->method, c->target);
	else {
		int dm = strcmp(near->x->req.method, c->method) != 0;
		int dp = strcmp(near->path, path) != 0;
		int dq = strcmp(near->query, query) != 0;
		int db = near->body.cmplen != body->cmplen ||
		    memcmp(near->body.cmp, body->cmp, body->cmplen) != 0;
		char diff[128] = "";

		if (dm)
			strcat(diff, ", the method");
		if (dp)
			strcat(diff, ", the path");
		if (dq)
			strcat(diff, ", the query");
		if (db)
			strcat(diff, ", the body");
		snprintf(why, sizeof(why), "no recorded exchange matches %s "
		    "%.200s; the nearest is %s %.200s (%s #%llu.%d), which "
		    "differs in%s", c->method, c->target, near->x->req.method,
		    near->x->req.target, near->x->src,
		    (unsigned long long)near->x->conn, near->x->seq + 1,
		    diff[0] != '\0' ? diff + 1 : " nothing (it has no answer)");
	}
	complain(c, why);
	if (is_soap(c)) {
		xml_text(esc, sizeof(esc), why);
		snprintf(why, sizeof(why), "<?xml version=\"1.0\" "
		    "encoding=\"UTF-8\"?>\n<soap:Envelope xmlns:soap=\""
		    "http://schemas.xmlsoap.org/soap/envelope/\"><soap:Body>"
		    "<soap:Fault><faultcode>soap:Client</faultcode>"
		    "<faultstring>%.1200s</faultstring></soap:Fault>"
		    "</soap:Body></soap:Envelope>\n", esc);
		out_printf(c, "HTTP/1.1 500 Internal Server Error\r\n"
		    "Content-Type: text/xml; charset=utf-8\r\n"
		    "Content-Length: %zu\r\n%s\r\n", strlen(why),
		    c->close_after ? "Connection: close\r\n" : "");
	} else {
		strcat(why, "\n");
		out_printf(c, "HTTP/1.1 404 Not Found\r\nContent-Type: "
		    "text/plain; charset=utf-8\r\nContent-Length: %zu\r\n%s\r\n",
		    strlen(why), c->close_after ? "Connection: close\r\n" : "");
	}
	out_put(c, why, strlen(why));
}

/* The first recorded exchange for this request not served yet, else the
 * last one served; body NULL: the body byte for byte, else by its normal
 * form. */
static struct entry *
find(struct mconn *c, const char *path, const char *query,
    const struct norm *body)
{
	struct entry *e, *last = NULL;
	size_t i;

	for (i = 0; i < m.ne; i++) {
		e = &m.e[i];
		if (strcmp(e->x->req.method, c->method) != 0 ||
		    strcmp(e->path, path) != 0 ||
		    strcmp(e->query, query) != 0 || !e->x->resp.have)
			continue;
		if (body == NULL ? e->x->req.blen != c->blen ||
		    (c->blen > 0 && memcmp(e->x->req.body, c->body,
		    c->blen) != 0) : e->body.cmplen != body->cmplen ||
		    memcmp(e->body.cmp, body->cmp, body->cmplen) != 0)
			continue;
		last = e;
		if (!e->served)
			return e;
	}
	return last;
}

static void
respond(struct mconn *c)
{
	struct norm body;
	char *path, *query;
	struct entry *hit;

	split_target(c->target, &path, &query);
	memset(&body, 0, sizeof(body));
	/* A body byte for byte as recorded has that recording's normal
	 * form, computed already: the match is then by normal forms all
	 * the same (an earlier recording that differs only in its spacing
	 * is served first), without parsing the request. */
	if ((hit = find(c, path, query, NULL)) != NULL)
		hit = find(c, path, query, &hit->body);
	else {
		cmp_body(&m.c, c->ctype, c->body, c->blen, &body, 0);
		hit = find(c, path, query, &body);
	}
	c->delay_ms = 0;
	if (hit != NULL) {
		hit->served = 1;
		m.served++;
		if (m.pace && hit->x->t_req_end >= 0 &&
		    hit->x->t_resp > hit->x->t_req_end)
			c->delay_ms = (hit->x->t_resp - hit->x->t_req_end) /
			    1000;
		answer(c, &hit->x->resp, strcmp(c->method, "HEAD") == 0);
	} else
		unmatched(c, path, query, &body);
	norm_free(&body);
	free(path);
	free(query);
}

static void	conn_close(struct mconn *, const char *);
static void	conn_event(struct loop *, int, unsigned, void *);

static void
flush_out(struct mconn *c)
{
	ssize_t n;

	while (c->ooff < c->olim) {
		n = send(c->fd, c->out + c->ooff, c->olim - c->ooff,
		    MSG_NOSIGNAL);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			break;
		if (n <= 0) {
			conn_close(c, errno == ECONNRESET || errno == EPIPE ?
			    "reset" : "error");
			return;
		}
		put_rec(c, REC_DATA, REC_S2C, c->out + c->ooff, (size_t)n,
		    NULL, NULL);
		c->ooff += (size_t)n;
	}
	if (c->ooff == c->olen) {
		c->ooff = c->olen = c->olim = 0;
		/* --raw: the recorded server half-closed here. */
		if (c->wshut && !c->shut_done) {
			shutdown(c->fd, SHUT_WR);
			c->shut_done = 1;
			put_rec(c, REC_SHUTDOWN, REC_S2C, NULL, 0, NULL, NULL);
		}
		if (c->closing) {
			conn_close(c, "eof");
			return;
		}
	}
	/* Read on while open and not too far ahead of the client; a
	 * connection that ended (read 0) only writes what is left. */
	loop_mod(m.loop, c->fd, (!c->closing && c->olen <= MAX_OUT ?
	    LOOP_READ : 0) | (c->olim > c->ooff ? LOOP_WRITE : 0));
}

/* Whether the recorded client of sc began with the n bytes of p (as far as
 * it sent any). */
static int
opens_with(const struct script *sc, const unsigned char *p, size_t n)
{
	if (sc->ns == 0 || sc->s[0].kind != STEP_CLIENT)
		return 0;
	return n == 0 || memcmp(sc->cbytes, p, n < sc->clen ? n : sc->clen) == 0;
}

/*
 * --raw: the recorded connection a client gets.  A server that spoke first
 * (a banner) must speak before the client does: the next one not played
 * yet, at once (p NULL, at the accept).  Otherwise the choice waits for the
 * client's first bytes: the first recording not played whose client began
 * with them, so that clients that connect in another order than the
 * recorded ones still get their own conversations; else the next in order;
 * once all are played, the last that began so, or the last.  0 when the
 * choice waits.
 */
static int
choose(struct mconn *c, const unsigned char *p, size_t n)
{
	size_t i, next = m.ss.n, pick = m.ss.n;

	for (i = 0; i < m.ss.n && next == m.ss.n; i++)
		if (!m.played[i])
			next = i;
	if (p == NULL && !c->ceof) {
		i = next < m.ss.n ? next : m.ss.n - 1;
		if (opens_with(m.ss.v[i], NULL, 0))
			return 0;	/* the client speaks first */
		pick = i;
	}
	for (i = 0; p != NULL && i < m.ss.n && pick == m.ss.n; i++)
		if (!m.played[i] && opens_with(m.ss.v[i], p, n))
			pick = i;
	if (pick == m.ss.n)
		pick = next;
	for (i = m.ss.n; p != NULL && i-- > 0 && pick == m.ss.n;)
		if (opens_with(m.ss.v[i], p, n))
			pick = i;
	if (pick == m.ss.n)
		pick = m.ss.n - 1;
	m.played[pick] = 1;
	c->sc = m.ss.v[pick];
	return 1;
}

/* --raw: plays the recorded connection on as far as the client's bytes
 * allow. */
static void
raw_play(struct mconn *c)
{
	const struct script *sc = c->sc;
	const struct step *st;
	char why[256];

	if (sc == NULL) {
		if (!choose(c, NULL, 0))
			return;
		sc = c->sc;
	}
	for (; c->step < sc->ns; c->step++) {
		st = &sc->s[c->step];
		switch (st->kind) {
		case STEP_CLIENT:
			if (c->cin >= st->cend)
				break;
			if (c->ceof) {
				snprintf(why, sizeof(why), "connection %llu: "
				    "the client ended after %zu bytes; %s "
				    "#%llu's had sent %zu by then",
				    (unsigned long long)c->id, c->cin, sc->src,
				    (unsigned long long)sc->conn, st->cend);
				complain(c, why);
				c->closing = 1;
			}
			return;
		case STEP_CEOF:
			if (!c->ceof)
				return;
			break;
		case STEP_SERVER:
			out_put(c, sc->sbytes + st->off, st->len);
			queued(c, m.pace ? st->think_us / 1000 : 0);
			break;
		case STEP_SHUT:
			c->wshut = 1;
			break;
		}
	}
	c->closing = 1;	/* played to the end */
}

/* --raw: the client's bytes, compared with the recorded client's (the
 * first difference is said once). */
static void
raw_feed(struct mconn *c, const unsigned char *p, size_t n)
{
	const struct script *sc;
	char why[256];
	size_t k, i = 0;

	if (c->sc == NULL)
		(void)choose(c, p, n);
	sc = c->sc;

	if (!c->differs) {
		k = c->cin < sc->clen ? sc->clen - c->cin : 0;
		if (k > n)
			k = n;
		while (i < k && p[i] == sc->cbytes[c->cin + i])
			i++;
		if (i < n) {
			c->differs = 1;
			snprintf(why, sizeof(why), "connection %llu: the "
			    "client's bytes %s %s #%llu's at byte %zu",
			    (unsigned long long)c->id, i < k ? "differ from" :
			    "go on past", sc->src, (unsigned long long)sc->conn,
			    c->cin + i);
			complain(c, why);
		}
	}
	c->cin += n;
	raw_play(c);
}

static void
req_reset(struct mconn *c)
{
	free(c->method);
	free(c->target);
	free(c->ctype);
	free(c->action);
	c->method = c->target = c->ctype = c->action = NULL;
	c->blen = 0;
	c->too_big = 0;
}

static void
q_raw(void *arg, enum http_dir d, const unsigned char *p, size_t n)
{
	(void)arg; (void)d; (void)p; (void)n;
}

static void
q_head(void *arg, const struct http_head *h)
{
	struct mconn *c = arg;
	const char *v;

	if (h->dir != HTTP_REQ)
		return;
	req_reset(c);
	c->method = xstrdup(h->method);
	c->target = xstrdup(h->target);
	if ((v = http_header(h, "Content-Type")) != NULL)
		c->ctype = xstrdup(v);
	if ((v = http_header(h, "SOAPAction")) != NULL)
		c->action = xstrdup(v);
	c->close_after = http_header_has(h, "Connection", "close") ||
	    (h->major == 1 && h->minor == 0 &&
	    !http_header_has(h, "Connection", "keep-alive"));
}

static void
q_body(void *arg, enum http_dir d, const unsigned char *p, size_t n)
{
	struct mconn *c = arg;

	if (d != HTTP_REQ || c->too_big)
		return;
	if (c->blen + n > MAX_BODY) {
		c->too_big = 1;
		return;
	}
	grow_put(&c->body, &c->blen, &c->bcap, 4096, p, n);
}

static void
q_end(void *arg, enum http_dir d, const struct http_head *h,
    enum http_end e)
{
	struct mconn *c = arg;

	if (d != HTTP_REQ || h == NULL || c->method == NULL)
		return;
	if (e == HTTP_END_TRUNCATED) {
		c->closing = 1;
		return;
	}
	c->delay_ms = 0;
	if (c->too_big) {
		out_printf(c, "HTTP/1.1 413 Content Too Large\r\n"
		    "Content-Length: 0\r\nConnection: close\r\n\r\n");
		c->closing = 1;
	} else
		respond(c);
	queued(c, c->delay_ms);
	if (c->close_after)
		c->closing = 1;
	req_reset(c);
}

static void
q_notraw(void *arg, enum http_dir d, const char *why)
{
	struct mconn *c = arg;

	(void)why;
	if (d != HTTP_REQ)
		return;
	out_printf(c, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n"
	    "Connection: close\r\n\r\n");
	queued(c, 0);
	c->closing = 1;
}

static const struct http_callbacks q_cb = {
	q_raw, q_head, q_body, q_end, q_notraw
};

static void
conn_close(struct mconn *c, const char *reason)
{
	struct mconn **pp;

	for (pp = &m.conns; *pp != NULL; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	loop_cancel(m.loop, c->wake);
	loop_del(m.loop, c->fd);
	close(c->fd);
	put_rec(c, REC_CLOSE, REC_NODIR, NULL, 0, "reason", reason);
	http_conn_free(&c->hc);
	req_reset(c);
	free(c->body);
	free(c->out);
	free(c->pend);
	free(c);
}

static void
conn_event(struct loop *l, int fd, unsigned ev, void *arg)
{
	struct mconn *c = arg;
	unsigned char buf[65536];
	ssize_t n;

	(void)l; (void)fd;
	if (ev & LOOP_WRITE) {
		flush_out(c);
		return;
	}
	n = read(c->fd, buf, sizeof(buf));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n < 0) {
		conn_close(c, errno == ECONNRESET ? "reset" : "error");
		return;
	}
	if (n == 0) {
		put_rec(c, REC_SHUTDOWN, REC_C2S, NULL, 0, NULL, NULL);
		c->ceof = 1;
		if (m.raw)
			raw_play(c);
		else
			http_conn_eof(&c->hc, HTTP_REQ);
		c->closing = 1;
		if (c->olen == 0) {
			conn_close(c, "eof");
			return;
		}
	} else {
		put_rec(c, REC_DATA, REC_C2S, buf, (size_t)n, NULL, NULL);
		if (m.raw)
			raw_feed(c, buf, (size_t)n);
		else
			http_conn_feed(&c->hc, HTTP_REQ, buf, (size_t)n);
	}
	flush_out(c);
}

static void
on_accept(struct loop *l, int fd, unsigned ev, void *arg)
{
	struct mconn *c;
	struct rec r;
	char peer[ADDR_TEXT + 16], local[ADDR_TEXT + 16];
	int cfd;

	(void)ev; (void)arg;
	while ((cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK |
	    SOCK_CLOEXEC)) >= 0) {
		if ((c = calloc(1, sizeof(*c))) == NULL)
			err(TM_EXIT_FAIL, "calloc");
		c->fd = cfd;
		c->id = ++m.next_id;
		c->wake = -1;
		http_conn_init(&c->hc, &q_cb, c);
		c->next = m.conns;
		m.conns = c;
		if (loop_add(l, cfd, LOOP_READ, conn_event, c) == -1)
			err(TM_EXIT_FAIL, "epoll");
		if (m.out != NULL) {
			rec_init(&r, REC_OPEN, c->id);
			rec_set_src(&r, m.src);
			rec_set(&r, "client", addr_fmt_peer(cfd, peer,
			    sizeof(peer)));
			rec_set(&r, "listen", addr_fmt_local(cfd, local,
			    sizeof(local)));
			/* The mock is the server the client talked to. */
			rec_set(&r, "target", local);
			if (recw_put(&m.w, &r, NULL, 0) == -1)
				errx(TM_EXIT_FAIL, "%s: %s", m.out,
				    strerror(m.w.error));
		}
		if (m.raw) {
			raw_play(c);
			flush_out(c);
		}
	}
}

static void
put_stream(void)
{
	struct rec r;

	rec_init(&r, REC_STREAM, 0);
	rec_set_src(&r, m.src);
	rec_set(&r, "tool", PROG);
	rec_set(&r, "version", TCPMON_VERSION);
	if (recw_put(&m.w, &r, NULL, 0) == -1)
		errx(TM_EXIT_FAIL, "%s: %s", m.out, strerror(m.w.error));
}

static void
on_signal(struct loop *l, int fd, unsigned ev, void *arg)
{
	struct signalfd_siginfo si;

	(void)ev; (void)arg;
	if (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		loop_stop(l);
}

int
main(int argc, char **argv)
{
	const char *listen_at = NULL;
	struct addr a;
	struct sockaddr_any sa;
	sigset_t mask;
	char ebuf[512], where[ADDR_TEXT + 16];
	size_t i;
	int ch, sfd, c;

	tm_setprogname(argv, PROG);
	if (argc == 2 && strcmp(argv[1], TM_LIST_OPTIONS) == 0)
		return tm_list_options(STDOUT_FILENO, longopts);
	while ((ch = getopt_long(argc, argv, "hl:o:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			usage(TM_EXIT_OK);
			break;
		case 'J': case 'X': case 'N':
			cmp_opt(&m.c, ch, optarg);
			break;
		case 'l':
			listen_at = optarg;
			break;
		case 'o':
			m.out = optarg;
			break;
		case 'P':
			m.pace = 1;
			break;
		case 'R':
			m.raw = 1;
			break;
		case 'S':
			m.strict = 1;
			break;
		case 'V':
			printf("%s %s\n", PROG, TCPMON_VERSION);
			return TM_EXIT_OK;
		default:
			usage(TM_EXIT_USAGE);
		}
	}
	if (listen_at == NULL) {
		warnx("-l [ADDR:]PORT is needed");
		usage(TM_EXIT_USAGE);
	}
	if (optind == argc) {
		warnx("no capture to answer from");
		usage(TM_EXIT_USAGE);
	}
	if (cmp_setup(&m.c, NULL, 0, ebuf, sizeof(ebuf)) < 0)
		errx(TM_EXIT_USAGE, "%s", ebuf);
	if (addr_parse(listen_at, ADDR_LISTEN, &a, ebuf, sizeof(ebuf)) == -1)
		errx(TM_EXIT_USAGE, "%s", ebuf);
	if (addr_resolve(&a, ADDR_LISTEN, &sa, ebuf, sizeof(ebuf)) == -1)
		errx(TM_EXIT_FAIL, "%s", ebuf);
	if (m.raw && (m.c.nxpath > 0 || m.c.njson > 0))
		errx(TM_EXIT_USAGE, "--raw compares bytes: --ignore-xpath "
		    "and --ignore-json are for HTTP bodies");
	load(argc - optind, argv + optind);
	if (m.out != NULL) {
		/* Records carry what clients sent: 0600, as every tool's. */
		if (strcmp(m.out, "-") == 0)
			m.wfd = STDOUT_FILENO;
		else if ((m.wfd = open(m.out, O_WRONLY | O_CREAT | O_TRUNC |
		    O_CLOEXEC, 0600)) == -1)
			err(TM_EXIT_FAIL, "%s", m.out);
		if (recw_init(&m.w, m.wfd) == -1)
			err(TM_EXIT_FAIL, "init");
		snprintf(m.src, sizeof(m.src), "mock-%ld", (long)getpid());
		put_stream();
	}

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) == -1)
		err(TM_EXIT_FAIL, "sigprocmask");
	if ((m.loop = loop_new()) == NULL)
		err(TM_EXIT_FAIL, "epoll");
	if ((sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC)) == -1 ||
	    loop_add(m.loop, sfd, LOOP_READ, on_signal, NULL) == -1)
		err(TM_EXIT_FAIL, "signalfd");
	if ((m.lfd = sock_listen(&sa, 128)) == -1)
		err(TM_EXIT_FAIL, "listen %s", a.text);
	if (loop_add(m.loop, m.lfd, LOOP_READ, on_accept, NULL) == -1)
		err(TM_EXIT_FAIL, "epoll");
	loop_after(m.loop, flush_rec, NULL);
	fprintf(stderr, "%s: listening on %s, %zu recorded %s%s\n",
	    PROG, addr_fmt_local(m.lfd, where, sizeof(where)),
	    m.raw ? m.ss.n : m.ne, m.raw ? "connection" : "exchange",
	    (m.raw ? m.ss.n : m.ne) == 1 ? "" : "s");
	fflush(stderr);
	if (loop_run(m.loop) == -1)
		err(TM_EXIT_FAIL, "epoll");
	while (m.conns != NULL)
		conn_close(m.conns, "stopped");
	flush_rec(m.loop, NULL);
	if (m.out != NULL) {
		recw_free(&m.w);
		if (m.wfd != STDOUT_FILENO && close(m.wfd) == -1)
			err(TM_EXIT_FAIL, "%s", m.out);
	}
	scripts_free(&m.ss);
	free(m.played);
	close(m.lfd);
	close(sfd);
	loop_free(m.loop);
	for (i = 0; i < m.ne; i++) {
		free(m.e[i].path);
		free(m.e[i].query);
		norm_free(&m.e[i].body);
	}
	free(m.e);
	for (c = 0; c < m.ncaps; c++)
		cap_free(&m.caps[c]);
	free(m.caps);
	cmp_free(&m.c);
	if (m.strict && m.unmatched > 0) {
		if (m.raw)
			warnx("%llu connection%s strayed from the recording "
			    "(--strict)", (unsigned long long)m.unmatched,
			    m.unmatched == 1 ? "" : "s");
		else
			warnx("%llu request%s matched no recorded exchange "
			    "(--strict)", (unsigned long long)m.unmatched,
			    m.unmatched == 1 ? "" : "s");
		return TM_EXIT_FAIL;
	}
	return TM_EXIT_OK;
}
