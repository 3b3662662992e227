/* output.c - one run that shows its answers: a request (following
 * redirects with -L), a raw request or a replayed connection.  Text for a
 * person, records for a pipe, or the body alone into -o FILE; then the
 * verdict that becomes the exit status. */
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "pretty.h"
#include "record.h"
#include "safe.h"
#include "send.h"
#include "util.h"

struct run {
	const struct opts *o;
	struct loop	*loop;
	enum show_mode	 mode;
	int		 tty;
	struct safe	 safe;		/* the answer's text, on a terminal */
	struct rec_writer w;
	struct rec_writer *wp;		/* &w, or the writer of several runs */
	int64_t		 tick;		/* its timer */
	/* The run ended: its owner's turn (several runs on one loop). */
	void		(*done)(void *, struct run *);
	void		*done_arg;
	int		 ended;		/* done was called */
	int		 wdead;		/* stdout is written no more */
	int		 wfail;		/* ... since a write failed: exit 1 */
	char		 src[32];
	uint64_t	 next_id;
	int		 bodyfd;
	/* The answer being read. */
	int		 status;
	char		 reason[128];
	char		 ctype[256];
	char		*location;	/* a redirect we follow */
	int		 to_file;	/* this body goes to -o */
	unsigned char	*keep;		/* its body, up to SEND_KEEP_BODY */
	size_t		 nkeep;
	int		 overflow;
	int		 last_nl;	/* stdout ends in a newline */
	int		 verbatim;	/* text shown is bytes as they came */
	/* The verdict. */
	int		 answers;
	int		 failed;	/* a failure that --no-fail keeps */
	int		 broken;	/* a failure it does not */
	char		 why[1024];
	/* The connections of this run: one, or one per redirect. */
	struct xchg	 x[SEND_MAX_REDIRECTS + 1];
	int		 nx;
	struct plan	 plan[SEND_MAX_REDIRECTS + 1];
	struct url	 url[SEND_MAX_REDIRECTS + 1];
	struct request	 req[SEND_MAX_REDIRECTS + 1];
	const char	*method;
	const unsigned char *body;
	size_t		 blen;
	int		 has_body;
};

static const struct xchg_ops show_ops;

/* stdout failed: the answer is still read to its end, since the exchange
 * is the job too, but the exit status is 1.  `| head` is not a failure: the
 * reader has what it wanted, and the exchange alone decides the status. */
static void
wfailed(struct run *r)
{
	if (errno != EPIPE) {
		warn("write stdout");
		r->wfail = 1;
	}
	r->wdead = 1;
}

static void
put(struct run *r, const struct rec *rec, const void *p, size_t n)
{
	if (r->wdead)
		return;
	if (recw_put(r->wp, rec, p, n) == -1)
		wfailed(r);
}

static void
flush(struct loop *l, void *arg)
{
	struct run *r = arg;

	(void)l;
	if (r->wdead)
		return;
	if (r->mode == SHOW_RECORDS && recw_flush(r->wp) == -1)
		wfailed(r);
	if (r->mode == SHOW_TEXT && fflush(stdout) == EOF)
		wfailed(r);
}

/* Text to stdout.  A write that fails is seen here, when it fails: stdio
 * may drop the bytes of a failed write, and a later fflush find nothing. */
static void
out(struct run *r, const void *p, size_t n)
{
	if (!r->wdead && fwrite(p, 1, n, stdout) != n)
		wfailed(r);
}

/* The answer as text: exact into a file or a pipe; on a terminal through
 * the sanitizer (common/safe.h), so that a server cannot send it escape
 * sequences. */
static void
text(struct run *r, const void *p, size_t n)
{
	static char buf[SAFE_ROOM(4096)];
	const char *b = p;
	size_t i, m, k;

	if (n == 0 || r->wdead)
		return;
	if (!r->tty) {
		out(r, p, n);
		r->last_nl = b[n - 1] == '\n';
		return;
	}
	for (i = 0; i < n; i += m) {
		m = n - i < 4096 ? n - i : 4096;
		if ((k = safe_feed(&r->safe, b + i, m, buf)) > 0) {
			out(r, buf, k);
			r->last_nl = buf[k - 1] == '\n';
		}
	}
}

/* What the sanitizer holds of a character cut at the end of the text. */
static void
text_end(struct run *r)
{
	char buf[SAFE_ROOM(4)];
	size_t k;

	if (r->tty && !r->wdead && (k = safe_end(&r->safe, buf)) > 0) {
		out(r, buf, k);
		r->last_nl = 0;
	}
}

/* The first failure names the cause; later ones only count. */
static void __attribute__((format(printf, 3, 4)))
verdict(struct run *r, int broken, const char *fmt, ...)
{
	va_list ap;

	if (broken)
		r->broken = 1;
	else
		r->failed = 1;
	if (r->why[0] != '\0')
		return;
	va_start(ap, fmt);
	vsnprintf(r->why, sizeof(r->why), fmt, ap);
	va_end(ap);
}

static void
on_opened(void *arg, struct xchg *x)
{
	struct run *r = arg;
	struct rec rec;

	x->id = ++r->next_id;
	if (r->mode != SHOW_RECORDS)
		return;
	rec_init(&rec, REC_OPEN, x->id);
	rec_set_src(&rec, r->src);
	if (x->local[0] != '\0')
		rec_set(&rec, "client", x->local);
	rec_set(&rec, "target", x->plan->addr.text);
	put(r, &rec, NULL, 0);
}

static void
data(struct run *r, struct xchg *x, enum rec_dir d, const unsigned char *p,
    size_t n)
{
	struct rec rec;

	rec_init(&rec, REC_DATA, x->id);
	rec_set_src(&rec, r->src);
	rec.dir = d;
	put(r, &rec, p, n);
}

static void
on_sent(void *arg, struct xchg *x, const unsigned char *p, size_t n)
{
	struct run *r = arg;

	if (r->mode == SHOW_RECORDS)
		data(r, x, REC_C2S, p, n);
}

static void
on_rcvd(void *arg, struct xchg *x, const unsigned char *p, size_t n)
{
	struct run *r = arg;

	if (r->mode == SHOW_RECORDS)
		data(r, x, REC_S2C, p, n);
	else if (r->mode == SHOW_TEXT && (r->o->as_came ||
	    http_conn_is_raw(&x->hc, HTTP_REQ))) {
		r->verbatim = 1;
		text(r, p, n);	/* TCPMon's sender: the answer as it came */
	}
}

static int
is_redirect(int status)
{
	return status == 301 || status == 302 || status == 303 ||
	    status == 307 || status == 308;
}

static void
on_head(void *arg, struct xchg *x, const struct http_head *h)
{
	struct run *r = arg;
	const char *v;
	char line[64];
	int i;

	(void)x;
	if (h->status < 200)
		return;
	r->status = h->status;
	snprintf(r->reason, sizeof(r->reason), "%s%s", h->reason[0] ? " " : "",
	    h->reason);
	v = http_header(h, "Content-Type");
	snprintf(r->ctype, sizeof(r->ctype), "%s", v != NULL ? v : "");
	r->nkeep = 0;
	r->overflow = 0;
	free(r->location);
	r->location = NULL;
	if (r->o->follow && is_redirect(h->status) &&
	    (v = http_header(h, "Location")) != NULL &&
	    (r->location = strdup(v)) == NULL)
		err(TM_EXIT_FAIL, "malloc");
	/* The bodies of redirects we follow are not the answer. */
	r->to_file = r->bodyfd != -1 && r->location == NULL;
	if (r->mode != SHOW_TEXT || r->o->as_came)
		return;
	if (r->answers > 0 || r->nx > 1)
		text(r, "\n", r->last_nl ? 1 : 2);
	snprintf(line, sizeof(line), "HTTP/%d.%d %d ", h->major, h->minor,
	    h->status);
	text(r, line, strlen(line));
	text(r, h->reason, strlen(h->reason));
	text(r, "\n", 1);
	for (i = 0; i < h->nheader; i++) {
		text(r, h->header[i].name, strlen(h->header[i].name));
		text(r, ": ", 2);
		text(r, h->header[i].value, strlen(h->header[i].value));
		text(r, "\n", 1);
	}
	text(r, "\n", 1);
}

static void
on_body(void *arg, struct xchg *x, const unsigned char *p, size_t n)
{
	struct run *r = arg;
	size_t room;

	(void)x;
	if (r->to_file && write_all(r->bodyfd, p, n) == -1)
		err(TM_EXIT_FAIL, "write %s", r->o->out);
	if (r->mode == SHOW_TEXT && !r->o->raw && !r->o->pretty)
		text(r, p, n);
	room = SEND_KEEP_BODY - r->nkeep;
	if (n > room) {
		r->overflow = 1;
		n = room;
	}
	if (n == 0)
		return;
	if (r->keep == NULL && (r->keep = malloc(SEND_KEEP_BODY)) == NULL)
		err(TM_EXIT_FAIL, "malloc");
	memcpy(r->keep + r->nkeep, p, n);
	r->nkeep += n;
}

static int
xml_type(const struct run *r)
{
	size_t i;

	if (strcasestr(r->ctype, "xml") != NULL)
		return 1;
	for (i = 0; i < r->nkeep && strchr(" \t\r\n", r->keep[i]); i++)
		;
	return r->ctype[0] == '\0' && i < r->nkeep && r->keep[i] == '<';
}

static void
on_end(void *arg, struct xchg *x, const struct http_head *h,
    enum http_end e)
{
	struct run *r = arg;
	char fault[700];
	int isfault = 0;
	const char *kind;
	size_t plen;
	char *pretty;

	(void)h;
	r->answers++;
	if (r->mode == SHOW_TEXT && !r->o->as_came && r->o->pretty) {
		pretty = fmt_pretty(r->ctype, r->keep, r->nkeep, &plen,
		    &kind);
		if (pretty != NULL) {
			text(r, pretty, plen);
			free(pretty);
		} else
			text(r, r->keep, r->nkeep);
	}
	text_end(r);
	if (r->mode == SHOW_TEXT && r->tty && !r->last_nl && !r->o->raw)
		text(r, "\n", 1);
	if (e == HTTP_END_TRUNCATED) {
		verdict(r, 1, "%s: the connection closed before the answer "
		    "was complete", x->plan->what);
		return;
	}
	if (!r->overflow && r->nkeep > 0 && xml_type(r))
		isfault = soap_fault(r->keep, r->nkeep, fault, sizeof(fault));
	if (r->location != NULL)
		return;
	if (r->o->as.any) {
		/* The assertions alone decide; a SOAP call still fails on a
		 * Fault unless its status was asserted as an error. */
		if (assert_check(&r->o->as, r->status, r->keep, r->nkeep,
		    !r->overflow, isfault && (r->o->as.no_fault ||
		    ((r->o->soap_action != NULL || r->o->soap12) &&
		    r->o->as.status < 400)) ? fault : NULL,
		    tm_mono_us() - x->t0) > 0)
			r->failed = 1;
		return;
	}
	if (r->status >= 400 && isfault)
		verdict(r, 0, "%s: HTTP %d%s, SOAP Fault: %s", x->plan->what,
		    r->status, r->reason, fault);
	else if (r->status >= 400)
		verdict(r, 0, "%s: HTTP %d%s", x->plan->what, r->status,
		    r->reason);
	else if (isfault)
		verdict(r, 0, "%s: SOAP Fault: %s", x->plan->what, fault);
}

static void
on_idle(void *arg, struct xchg *x)
{
	(void)arg;
	xchg_close(x, "eof", 0, NULL);
}

static void
ms(char *buf, size_t n, int64_t t, int64_t t0)
{
	if (t == 0)
		snprintf(buf, n, "-");
	else
		snprintf(buf, n, "%.3f ms", (double)(t - t0) / 1000.0);
}

static void
timing(const struct xchg *x)
{
	char a[32], b[32], c[32], d[32], e[32];

	ms(a, sizeof(a), x->t_lookup, x->t0);
	ms(b, sizeof(b), x->t_conn, x->t0);
	ms(c, sizeof(c), x->t_sent, x->t0);
	ms(d, sizeof(d), x->t_first, x->t0);
	ms(e, sizeof(e), x->t_end, x->t0);
	warnx("%s: lookup %s, connect %s, sent %s, first byte %s, total %s",
	    x->plan->what, a, b, c, d, e);
}

static void start(struct run *);

/* The next request after a redirect: 303, and 301 or 302 after a POST,
 * become a GET without a body, as browsers do; 307 and 308 keep both. */
static int
redirect(struct run *r, struct xchg *x)
{
	int i = r->nx, keep;
	char msg[2200];

	if (r->nx == SEND_MAX_REDIRECTS + 1) {
		verdict(r, 1, "%s: more than %d redirects", x->plan->what,
		    SEND_MAX_REDIRECTS);
		return -1;
	}
	if (url_follow(&r->url[i - 1], r->location, &r->url[i], msg,
	    sizeof(msg)) == -1) {
		verdict(r, 1, "redirect to %s", msg);
		return -1;
	}
	keep = r->status == 307 || r->status == 308 ||
	    (r->status != 303 && strcmp(r->method, "POST") != 0);
	if (!keep) {
		r->method = strcmp(r->method, "HEAD") == 0 ? "HEAD" : "GET";
		r->has_body = 0;
		r->blen = 0;
	}
	req_build(r->o, &r->url[i], r->method, r->body, r->blen, r->has_body,
	    &r->req[i]);
	r->plan[i] = r->plan[i - 1];
	r->plan[i].tls = r->url[i].tls;
	if (url_addr(&r->url[i], &r->plan[i].addr, msg, sizeof(msg)) == -1) {
		verdict(r, 1, "redirect to %s", msg);
		return -1;
	}
	_Static_assert(sizeof(r->plan[i].what) == sizeof(r->url[i].text),
	    "what holds a URL");
	memcpy(r->plan[i].what, r->url[i].text, sizeof(r->plan[i].what));
	r->plan[i].chunk = r->req[i].chunk;
	r->plan[i].nchunk = r->req[i].nchunk;
	if (plan_resolve(&r->plan[i], msg, sizeof(msg)) == -1) {
		verdict(r, 1, "%s", msg);
		return -1;
	}
	if (r->o->verbose)
		warnx("redirect %d to %s", r->status, safe_str(r->url[i].text,
		    msg, sizeof(msg)));
	return 0;
}

static void
on_closed(void *arg, struct xchg *x)
{
	struct run *r = arg;
	struct rec rec;

	if (r->mode == SHOW_RECORDS) {
		rec_init(&rec, REC_CLOSE, x->id);
		rec_set_src(&rec, r->src);
		rec_set(&rec, "reason", x->reason);
		if (strcmp(x->reason, "eof") != 0)
			rec_set(&rec, "by", "server");
		if (x->errtext != NULL || x->error != 0)
			rec_set(&rec, "error", xchg_why(x));
		rec_setf(&rec, "c2s", "%llu", (unsigned long long)x->c2s);
		rec_setf(&rec, "s2c", "%llu", (unsigned long long)x->s2c);
		put(r, &rec, NULL, 0);
	}
	if (r->o->verbose)
		timing(x);
	if (x->t_conn == 0)
		verdict(r, 1, "connect %s: %s", x->plan->addr.text,
		    xchg_why(x));
	else if (strcmp(x->reason, "eof") != 0)
		verdict(r, 1, "%s: %s", x->plan->what, xchg_why(x));
	else if (x->resp_raw != NULL && x->s2c > 0 &&
	    !http_conn_is_raw(&x->hc, HTTP_REQ))
		verdict(r, 1, "%s: the answer is not HTTP (%s)%s",
		    x->plan->what, x->resp_raw, r->o->as_came || r->mode !=
		    SHOW_TEXT ? "" : r->o->raw ? "; --raw without --pretty "
		    "shows it" : "; --raw shows it");
	else if (x->nfinal == 0 && x->s2c == 0)
		verdict(r, 1, "%s: the connection closed with no answer",
		    x->plan->what);
	if (r->location != NULL && !r->broken && !r->failed &&
	    redirect(r, x) == 0) {
		start(r);
		return;
	}
	r->ended = 1;
	r->done(r->done_arg, r);
}

static const struct xchg_ops show_ops = {
	.opened = on_opened,
	.sent = on_sent,
	.rcvd = on_rcvd,
	.head = on_head,
	.body = on_body,
	.end = on_end,
	.idle = on_idle,
	.closed = on_closed,
};

static void
start(struct run *r)
{
	int i = r->nx++;

	free(r->location);
	r->location = NULL;
	xchg_start(&r->x[i], r->loop, &r->plan[i], r->o->timeout_ms,
	    r->o->connect_ms, &show_ops, r);
}

static void
tick(struct loop *l, void *arg)
{
	struct run *r = arg;

	(void)l;
	if (r->nx > 0)
		xchg_tick(&r->x[r->nx - 1]);
}

static void
stream_rec(struct rec *rec, const char *src)
{
	rec_init(rec, REC_STREAM, 0);
	rec_set_src(rec, src);
	rec_set(rec, "tool", "tcpmon-send");
	rec_set(rec, "version", TCPMON_VERSION);
}

static void
stop_loop(void *arg, struct run *r)
{
	(void)arg;
	loop_stop(r->loop);
}

/* A run on loop l, started; w: a record writer shared with other runs, or
 * NULL for its own on stdout.  done is called when it has ended. */
static struct run *
run_new(const struct opts *o, struct loop *l, struct rec_writer *w,
    struct plan *pl, const struct url *u, const struct request *rq,
    uint64_t id_base, int stream, void (*done)(void *, struct run *),
    void *arg)
{
	struct run *r;
	struct rec rec;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		err(TM_EXIT_FAIL, "init");
	r->o = o;
	r->loop = l;
	r->done = done;
	r->done_arg = arg;
	r->bodyfd = -1;
	r->tty = isatty(STDOUT_FILENO);
	safe_init(&r->safe, SAFE_TEXT | SAFE_CRLF);
	r->last_nl = 1;
	if (o->out != NULL) {
		r->mode = SHOW_NONE;
		if ((r->bodyfd = open(o->out, O_WRONLY | O_CREAT | O_TRUNC |
		    O_CLOEXEC, 0666)) == -1)
			err(TM_EXIT_FAIL, "%s", o->out);
	} else if (o->text)
		r->mode = SHOW_TEXT;
	else if (o->records || w != NULL)
		r->mode = SHOW_RECORDS;
	else
		r->mode = r->tty ? SHOW_TEXT : SHOW_RECORDS;
	snprintf(r->src, sizeof(r->src), "send-%ld", (long)getpid());
	r->next_id = id_base;
	r->wp = w != NULL ? w : &r->w;
	if (r->mode == SHOW_RECORDS && w == NULL &&
	    recw_init(&r->w, STDOUT_FILENO) == -1)
		err(TM_EXIT_FAIL, "init");
	if (r->mode == SHOW_RECORDS && stream) {
		stream_rec(&rec, r->src);
		put(r, &rec, NULL, 0);
	}
	/* Redirects build their requests from the first one's parts. */
	r->plan[0] = *pl;
	if (u != NULL) {
		r->url[0] = *u;
		r->method = o->method;
		r->body = rq->buf + rq->head_len;
		r->blen = rq->len - rq->head_len;
		r->has_body = o->file != NULL;
	}
	if ((r->tick = loop_every(l, 20, tick, r)) == -1)
		err(TM_EXIT_FAIL, "timer");
	start(r);
	return r;
}

/* The end of a run: its verdict (said on stderr) as an exit status. */
static int
run_end(struct run *r)
{
	const struct opts *o = r->o;
	char why[SAFE_ROOM(1024)];
	int i, status;

	loop_cancel(r->loop, r->tick);
	/* Text for a person ends with a line end, so that a shell's prompt
	 * is not glued to an answer without one; bytes as they came stay
	 * exact but on a terminal, and -o and records are never touched. */
	if (r->mode == SHOW_TEXT && !r->last_nl && (r->tty || !r->verbatim))
		text(r, "\n", 1);
	if (r->wp == &r->w || r->mode != SHOW_RECORDS)
		flush(r->loop, r);

	if (r->broken || r->wfail)
		status = TM_EXIT_FAIL;
	else if (r->failed)
		status = o->no_fail ? TM_EXIT_OK : TM_EXIT_FAIL;
	else
		status = TM_EXIT_OK;
	/* The reason phrase and a SOAP Fault's text are the server's. */
	if (r->why[0] != '\0' && status != TM_EXIT_OK)
		warnx("%s", safe_str(r->why, why, sizeof(why)));
	if (r->bodyfd != -1 && close(r->bodyfd) == -1)
		err(TM_EXIT_FAIL, "%s", o->out);
	for (i = 0; i < r->nx; i++)
		xchg_free(&r->x[i]);
	for (i = 1; i < r->nx; i++) {
		url_free(&r->url[i]);
		req_free(&r->req[i]);
	}
	if (r->mode == SHOW_RECORDS && r->wp == &r->w)
		recw_free(&r->w);
	free(r->location);
	free(r->keep);
	free(r);
	return status;
}

int
run_show(const struct opts *o, struct plan *pl, const struct url *u,
    const struct request *rq)
{
	struct loop *l;
	struct run *r;
	int status;

	if ((l = loop_new()) == NULL)
		err(TM_EXIT_FAIL, "init");
	r = run_new(o, l, NULL, pl, u, rq, o->id_base, !o->no_stream,
	    stop_loop, NULL);
	loop_after(l, flush, r);
	/* A connect that fails at once ends the run before the loop runs. */
	if (!r->ended && loop_run(l) == -1)
		err(TM_EXIT_FAIL, "epoll_wait");
	status = run_end(r);
	loop_free(l);
	return status;
}

/* Several runs at once, records only (--replay -c N): plans in their
 * order, at most conc running; each run's connection numbered by its
 * plan's place, so that the numbers follow the capture's order whatever
 * order the runs end in. */
struct many {
	const struct opts *o;
	struct loop	*loop;
	struct rec_writer w;
	struct plan	**pl;
	size_t		 n, next, running;
	struct run	**fin;		/* ended, to be reaped */
	size_t		 nfin;
	int		 worst, wfail;
	uint64_t	 id_base;
};

static void	many_done(void *, struct run *);

static void
many_start(struct many *m)
{
	size_t i = m->next++;

	m->running++;
	(void)run_new(m->o, m->loop, &m->w, m->pl[i], NULL, NULL,
	    m->id_base + i, 0, many_done, m);
}

/* The runs that ended, freed after the batch that ended them (their
 * connection's code is still on the stack when done is called), and as
 * many started in their place. */
static void
many_reap(struct loop *l, void *arg)
{
	struct many *m = arg;
	struct run *r;
	int st;

	(void)l;
	while (m->nfin > 0) {
		r = m->fin[--m->nfin];
		if ((st = run_end(r)) > m->worst)
			m->worst = st;
		m->running--;
		if (m->next < m->n)
			many_start(m);
	}
	if (m->running == 0)
		loop_stop(m->loop);
}

static void
many_done(void *arg, struct run *r)
{
	struct many *m = arg;

	/* At most one entry a running run: fin has room for conc. */
	m->fin[m->nfin++] = r;
	if (m->nfin == 1 && loop_once(m->loop, 0, many_reap, m) == -1)
		err(TM_EXIT_FAIL, "timer");
}

static void
many_flush(struct loop *l, void *arg)
{
	struct many *m = arg;

	(void)l;
	if (!m->wfail && recw_flush(&m->w) == -1) {
		/* `| head` has what it wanted; any other failure is ours. */
		if (m->w.error != EPIPE) {
			warnx("write stdout: %s", strerror(m->w.error));
			m->worst = TM_EXIT_FAIL;
		}
		m->wfail = 1;
	}
}

int
run_many(const struct opts *o, struct plan **pl, size_t n, size_t conc)
{
	struct many m;

	memset(&m, 0, sizeof(m));
	m.o = o;
	m.pl = pl;
	m.n = n;
	m.id_base = o->id_base;
	if ((m.fin = calloc(conc + 1, sizeof(*m.fin))) == NULL ||
	    (m.loop = loop_new()) == NULL ||
	    recw_init(&m.w, STDOUT_FILENO) == -1)
		err(TM_EXIT_FAIL, "init");
	loop_after(m.loop, many_flush, &m);
	if (!o->no_stream) {
		char src[32];
		struct rec rec;

		snprintf(src, sizeof(src), "send-%ld", (long)getpid());
		stream_rec(&rec, src);
		if (recw_put(&m.w, &rec, NULL, 0) == -1)
			many_flush(m.loop, &m);
	}
	while (m.next < n && m.running < conc)
		many_start(&m);
	if (m.running > 0 && loop_run(m.loop) == -1)
		err(TM_EXIT_FAIL, "epoll_wait");
	many_flush(m.loop, &m);
	recw_free(&m.w);
	loop_free(m.loop);
	free(m.fin);
	return m.worst;
}
