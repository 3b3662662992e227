/* select.c - the selectors of tcpmon-tap and tcpmon-grep.  Each connection
 * is pending until every selector has an answer for it; its records wait in
 * a hold buffer meanwhile, and all come out at once when it is selected.
 * Patterns run over each direction's bytes as they come, with PCRE2's
 * partial matching carrying a match across record boundaries. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <ctype.h>
#include <err.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "grow.h"
#include "http.h"
#include "safe.h"
#include "select.h"
#include "util.h"

/* A match that spans records is looked for within this many bytes; past
 * it the start of a partial match is dropped. */
#define RE_WINDOW	(1024 * 1024)

struct sel_re {
	pcre2_code		*code;
	pcre2_match_data	*md;
	size_t			 lookbehind;	/* bytes kept before a record */
};

/* What a pattern has kept of one direction, to go on with the next
 * record: the start of a partial match, or the bytes a lookbehind needs. */
struct tail {
	unsigned char	*b;
	size_t		 len, cap;
	size_t		 start;		/* where to resume in b */
	uint64_t	 off;		/* stream offset of b[0] */
	uint64_t	 seen;		/* bytes of this direction so far */
	int		 partial;	/* a match may still end in b */
};

enum { PENDING, YES, NO };

struct sconn {
	struct sel	*s;
	int		 state;
	int		 conn_ok, time_ok, re_ok, hdr_ok; /* 1, -1, 0: unknown */
	uint32_t	 hdr_seen;	/* the --header selectors matched */
	struct tail	*tail;		/* per pattern of sel.re, both ways */
	struct http_conn *hc;
	unsigned char	*hold;
	size_t		 holdlen, holdcap;
};

void
sel_opts_init(struct sel_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->since = o->until = -1;
	o->max_hold = SEL_HOLD_DEFAULT;
	o->max_conns = CTAB_MAX_DEFAULT;
}

int
sel_any(const struct sel_opts *o)
{
	return o->nconn > 0 || o->since != -1 || o->until != -1 ||
	    o->nre > 0 || o->nhdr > 0;
}

/* Parses a --since/--until time (see tcpmon-tap(1)): the record form,
 * a date, a time of day (*tod set: microseconds into the day) or -DUR
 * before now.  Returns 0 or -1. */
static int
sel_parse_time(const char *s, int64_t now, int64_t *usec, int *tod)
{
	char buf[64];
	uint64_t ms;
	const char *e;
	int64_t v;
	size_t n = strlen(s);

	*tod = 0;
	if (s[0] == '-') {
		if (dur_parse(s + 1, 100ull * 365 * 86400000, &ms, &e) == -1)
			return -1;
		*usec = now - (int64_t)ms * 1000;
		return 0;
	}
	if (n >= sizeof(buf) - 20)
		return -1;
	if (n == 10 && s[4] == '-') {		/* a date: its midnight */
		snprintf(buf, sizeof(buf), "%sT00:00:00Z", s);
		return tm_parse_time(buf, usec);
	}
	if (n >= 5 && s[2] == ':') {		/* HH:MM[:SS[.frac]] */
		snprintf(buf, sizeof(buf), "1970-01-01T%s%sZ", s,
		    n == 5 ? ":00" : "");
		if (tm_parse_time(buf, &v) == -1)
			return -1;
		*usec = v;
		*tod = 1;
		return 0;
	}
	return tm_parse_time(s, usec);
}

int
sel_opt_parse(struct sel_opts *o, int ch, char *arg, char *msg, size_t msglen)
{
	const char *e, *p;
	char buf[4096], *tok, *save, *num;
	uint64_t v;
	int64_t t;
	int tod;

#define BAD(...) do {							\
	snprintf(msg, msglen, __VA_ARGS__);				\
	return -1;							\
} while (0)
	switch (ch) {
	case SEL_OPT_CONN:
		if (strlen(arg) >= sizeof(buf))
			BAD("--conn: list too long");
		strcpy(buf, arg);
		for (tok = strtok_r(buf, ",", &save); tok != NULL;
		    tok = strtok_r(NULL, ",", &save)) {
			/* SRC#N, as the views name a connection of a
			 * merged stream; #N is N from any source. */
			if ((num = strrchr(tok, '#')) != NULL)
				*num++ = '\0';
			else
				num = tok;
			if (num_parse(num, 1, UINT64_MAX, &v, &e) == -1 ||
			    strpbrk(num, "kmgKMG") != NULL)
				BAD("--conn %s: %s: %s", arg, num,
				    e != NULL ? e : "invalid");
			if (num != tok && strlen(tok) >= SEL_SRC_MAX)
				BAD("--conn %s: source too long", arg);
			if (o->nconn == SEL_MAX_CONNS)
				BAD("--conn: at most %d connections",
				    SEL_MAX_CONNS);
			snprintf(o->conn_src[o->nconn], SEL_SRC_MAX, "%s",
			    num != tok ? tok : "");
			o->conn[o->nconn++] = v;
		}
		if (o->nconn == 0)
			BAD("--conn %s: no number", arg);
		return 1;
	case SEL_OPT_SINCE:
	case SEL_OPT_UNTIL:
		if (sel_parse_time(arg, tm_now_us(), &t, &tod) == -1)
			BAD("--%s %s: not a time (use 2026-11-22T10:00:00Z, "
			    "2026-11-22, 10:00[:00] or -DURATION such as -10m)",
			    ch == SEL_OPT_SINCE ? "since" : "until", arg);
		if (ch == SEL_OPT_SINCE) {
			o->since = t;
			o->since_tod = tod;
		} else {
			o->until = t;
			o->until_tod = tod;
		}
		return 1;
	case 'e':
		if (o->nre == SEL_MAX_RE)
			BAD("-e: at most %d patterns", SEL_MAX_RE);
		o->re[o->nre++] = arg;
		return 1;
	case SEL_OPT_HEADER:
		if (o->nhdr == SEL_MAX_HDR)
			BAD("--header: at most %d", SEL_MAX_HDR);
		p = strchr(arg, '=');
		if (arg[0] == '\0' || arg[0] == '=')
			BAD("--header %s: no header name", arg);
		for (e = arg; *e != '\0' && *e != '='; e++)
			if (*e <= ' ' || *e == ':' || *e >= 0x7f)
				BAD("--header %s: bad header name", arg);
		/* The name is cut off its pattern in place: argv is ours. */
		if (p != NULL) {
			arg[p - arg] = '\0';
			o->hpat[o->nhdr] = p + 1;
		}
		o->hname[o->nhdr++] = arg;
		return 1;
	case 'i':
		o->icase = 1;
		return 1;
	case 'v':
		o->invert = 1;
		return 1;
	case SEL_OPT_MAX_CONNS:
		if (num_parse(arg, 1, SEL_MAX_CONNS_LIMIT, &o->max_conns,
		    &e) == -1)
			BAD("--max-conns %s: %s (1 to 16m)", arg, e);
		return 1;
	case SEL_OPT_MAX_HOLD:
		if (num_parse(arg, 0, 1ull << 40, &o->max_hold, &e) == -1)
			BAD("--max-hold %s: %s", arg, e);
		return 1;
	}
#undef BAD
	return 0;
}

int
sel_opt(struct sel_opts *o, int ch, char *arg)
{
	char msg[SEL_MSG_MAX];
	int rc;

	if ((rc = sel_opt_parse(o, ch, arg, msg, sizeof(msg))) == -1)
		errx(TM_EXIT_USAGE, "%s", msg);
	return rc;
}

/* Compiles pat; NULL for a bad one, with the pattern named in msg. */
static struct sel_re *
re_new(const char *what, const char *pat, int icase, char *msg,
    size_t msglen)
{
	PCRE2_UCHAR why[256];
	PCRE2_SIZE eoff;
	struct sel_re *re;
	pcre2_code *code;
	uint32_t lb = 0;
	int ec;

	code = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED,
	    icase ? PCRE2_CASELESS : 0, &ec, &eoff, NULL);
	if (code == NULL) {
		pcre2_get_error_message(ec, why, sizeof(why));
		snprintf(msg, msglen, "%s '%s': %s at offset %zu", what, pat,
		    (char *)why, (size_t)eoff);
		return NULL;
	}
	if ((re = calloc(1, sizeof(*re))) == NULL)
		err(TM_EXIT_FAIL, "calloc");
	re->code = code;
	/* JIT is an optimisation: without it (no executable memory),
	 * the interpreter gives the same answers. */
	(void)pcre2_jit_compile(re->code, PCRE2_JIT_COMPLETE |
	    PCRE2_JIT_PARTIAL_HARD);
	pcre2_pattern_info(re->code, PCRE2_INFO_MAXLOOKBEHIND, &lb);
	re->lookbehind = lb;
	/* (?m)^, \b and \B look at the byte before a record, and \A must
	 * not match at its start: such patterns keep one byte of context,
	 * at the price of a copy of every payload. */
	if (lb == 0 && (strchr(pat, '^') != NULL || strstr(pat, "\\b") !=
	    NULL || strstr(pat, "\\B") != NULL || strstr(pat, "\\A") !=
	    NULL || strstr(pat, "\\G") != NULL))
		re->lookbehind = 1;
	if ((re->md = pcre2_match_data_create_from_pattern(re->code,
	    NULL)) == NULL)
		err(TM_EXIT_FAIL, "pcre2");
	return re;
}

static void
re_free(struct sel_re *re)
{
	if (re == NULL)
		return;
	pcre2_match_data_free(re->md);
	pcre2_code_free(re->code);
	free(re);
}

/*
 * Whether pat (compiled as re) can be one alternative of the patterns
 * together and mean what it means alone.  Its text must end where its
 * group does: a \Q or an extended-mode comment would run on into the next
 * alternative.  It must not refer to groups by number or recurse: the
 * groups of the patterns before it would be the ones it names.  And it
 * must not hold a (*VERB): a (*COMMIT) or (*PRUNE) that fails would keep
 * the other alternatives from being tried.  The others are scanned each
 * on its own.
 */
static int
re_combinable(const struct sel_re *re, const char *pat, int icase)
{
	static const char *calls[] = { "(?R", "(?&", "(?P>", "(?(", "\\g",
	    "(*" };
	pcre2_code *code;
	PCRE2_SIZE eoff;
	uint32_t refs, n, nw;
	const char *p;
	size_t i;
	char *w;
	int ec;

	pcre2_pattern_info(re->code, PCRE2_INFO_BACKREFMAX, &refs);
	if (refs > 0)
		return 0;
	for (i = 0; i < sizeof(calls) / sizeof(calls[0]); i++)
		if (strstr(pat, calls[i]) != NULL)
			return 0;
	for (p = pat; (p = strstr(p, "(?")) != NULL; p += 2)
		if (isdigit((unsigned char)p[2]) || ((p[2] == '+' ||
		    p[2] == '-') && isdigit((unsigned char)p[3])))
			return 0;
	/* Wrapped as it will be, with a group after it that must still be
	 * there. */
	if ((w = malloc(strlen(pat) + 16)) == NULL)
		err(TM_EXIT_FAIL, "malloc");
	sprintf(w, "(?:%s\\E)()", pat);
	code = pcre2_compile((PCRE2_SPTR)w, PCRE2_ZERO_TERMINATED,
	    icase ? PCRE2_CASELESS : 0, &ec, &eoff, NULL);
	free(w);
	if (code == NULL)
		return 0;
	pcre2_pattern_info(re->code, PCRE2_INFO_CAPTURECOUNT, &n);
	pcre2_pattern_info(code, PCRE2_INFO_CAPTURECOUNT, &nw);
	pcre2_code_free(code);
	return nw == n + 1;
}

/* 1 a match, 0 none, PCRE2_ERROR_PARTIAL a match may go on past n. */
static int
re_match(struct sel_re *re, const unsigned char *p, size_t n, size_t start,
    uint32_t opts, size_t *pstart)
{
	PCRE2_SIZE *ov;
	int rc;

	rc = pcre2_match(re->code, p, n, start, opts, re->md, NULL);
	if (rc >= 0)
		return 1;
	if (rc == PCRE2_ERROR_PARTIAL) {
		ov = pcre2_get_ovector_pointer(re->md);
		*pstart = ov[0];
		return PCRE2_ERROR_PARTIAL;
	}
	return 0;
}

static void
tail_put(struct tail *t, const unsigned char *p, size_t n)
{
	size_t drop;

	if (n == 0)
		return;
	if (t->len + n > RE_WINDOW && t->len > 0) {
		drop = t->len + n - RE_WINDOW;
		if (drop > t->len)
			drop = t->len;
		memmove(t->b, t->b + drop, t->len - drop);
		t->len -= drop;
		t->off += drop;
		t->start = t->start > drop ? t->start - drop : 0;
	}
	grow_put(&t->b, &t->len, &t->cap, 4096, p, n);
}

/*
 * Runs re over the next n bytes of a direction.  The usual case costs no
 * copy: the payload is matched where it lies, and only the start of a
 * partial match (and what a lookbehind needs) is kept for the next record.
 */
static int
re_scan(struct sel_re *re, struct tail *t, const unsigned char *p, size_t n)
{
	const unsigned char *subj;
	size_t len, start, ps = 0, keep;
	uint64_t off;
	int rc;

	/* A record without bytes adds nothing to match (and a tail that
	 * holds none yet has no buffer to match in). */
	if (n == 0)
		return 0;
	if (t->len == 0 && re->lookbehind == 0) {
		subj = p;
		len = n;
		start = 0;
		off = t->seen;
	} else {
		if (t->len == 0)
			t->off = t->seen;
		tail_put(t, p, n);
		subj = t->b;
		len = t->len;
		start = t->start;
		off = t->off;
	}
	t->seen += n;
	rc = re_match(re, subj, len, start, PCRE2_PARTIAL_HARD |
	    (off > 0 ? PCRE2_NOTBOL : 0), &ps);
	if (rc == 1)
		return 1;
	if (rc == PCRE2_ERROR_PARTIAL) {
		t->partial = 1;
		keep = ps > re->lookbehind ? ps - re->lookbehind : 0;
	} else {
		t->partial = 0;
		ps = len;
		keep = len > re->lookbehind ? len - re->lookbehind : 0;
	}
	if (subj == t->b) {
		memmove(t->b, t->b + keep, len - keep);
		t->len = len - keep;
	} else {
		t->len = 0;
		tail_put(t, subj + keep, len - keep);
	}
	t->off = off + keep;
	t->start = ps - keep;
	return 0;
}

/* The direction ended: a partial match is complete or never will be. */
static int
re_final(struct sel_re *re, struct tail *t)
{
	size_t ps;

	if (!t->partial)
		return 0;
	t->partial = 0;
	return re_match(re, t->b, t->len, t->start, t->off > 0 ?
	    PCRE2_NOTBOL : 0, &ps) == 1;
}

static void
hdr_head(void *arg, const struct http_head *h)
{
	struct sconn *c = arg;
	struct sel *s = c->s;
	const struct sel_opts *o = s->o;
	size_t ps;
	int i, k;

	for (i = 0; i < o->nhdr; i++) {
		if (c->hdr_seen & (1u << i))
			continue;
		for (k = 0; k < h->nheader; k++) {
			if (strcasecmp(h->header[k].name, o->hname[i]) != 0)
				continue;
			if (s->hre[i] == NULL || re_match(s->hre[i],
			    (const unsigned char *)h->header[k].value,
			    strlen(h->header[k].value), 0, 0, &ps) == 1) {
				c->hdr_seen |= 1u << i;
				break;
			}
		}
	}
	if (c->hdr_seen == (o->nhdr == 32 ? 0xffffffffu :
	    (1u << o->nhdr) - 1))
		c->hdr_ok = 1;
}

static const struct http_callbacks hdr_cb = { NULL, hdr_head, NULL, NULL,
    NULL };

int
sel_setup(struct sel *s, const struct sel_opts *o, sel_emit_fn *emit,
    void *arg, char *msg, size_t msglen)
{
	struct sel_re *all;
	char *text, what[64];
	size_t n = 0;
	int i, combine;

	memset(s, 0, sizeof(*s));
	s->o = o;
	s->emit = emit;
	s->arg = arg;
	s->active = sel_any(o);
	s->since = o->since;
	s->until = o->until;
	ctab_init(&s->conns, sizeof(struct sconn));
	if ((s->tmp = malloc(sizeof(*s->tmp))) == NULL)
		err(TM_EXIT_FAIL, "malloc");
	/* Each pattern alone first, so that an error names it; then all
	 * as alternatives of one, so that the payload is scanned once,
	 * when that means the same. */
	combine = o->nre > 1;
	for (i = 0; i < o->nre; i++) {
		if ((s->re[i] = re_new("-e", o->re[i], o->icase, msg,
		    msglen)) == NULL)
			return -1;
		s->nre++;
		combine = combine && re_combinable(s->re[i], o->re[i],
		    o->icase);
		n += strlen(o->re[i]) + 8;
	}
	if (combine) {
		if ((text = malloc(n + 1)) == NULL)
			err(TM_EXIT_FAIL, "malloc");
		text[0] = '\0';
		for (i = 0; i < o->nre; i++) {
			if (i > 0)
				strcat(text, "|");
			strcat(text, "(?:");
			strcat(text, o->re[i]);
			strcat(text, "\\E)");
		}
		/* Group names the patterns share make it fail: then each
		 * goes on its own. */
		if ((all = re_new("-e", text, o->icase, msg, msglen)) !=
		    NULL) {
			while (s->nre > 0)
				re_free(s->re[--s->nre]);
			s->re[s->nre++] = all;
		}
		free(text);
	}
	for (i = 0; i < o->nhdr; i++)
		if (o->hpat[i] != NULL) {
			snprintf(what, sizeof(what), "--header %.40s",
			    o->hname[i]);
			if ((s->hre[i] = re_new(what, o->hpat[i], o->icase,
			    msg, msglen)) == NULL)
				return -1;
		}
	return 0;
}

void
sel_init(struct sel *s, const struct sel_opts *o, sel_emit_fn *emit,
    void *arg)
{
	char msg[SEL_MSG_MAX];

	if (sel_setup(s, o, emit, arg, msg, sizeof(msg)) == -1)
		errx(TM_EXIT_USAGE, "%s", msg);
}

static void
tails_free(struct sel *s, struct sconn *c)
{
	int i;

	if (c->tail == NULL)
		return;
	for (i = 0; i < 2 * s->nre; i++)
		free(c->tail[i].b);
	free(c->tail);
	c->tail = NULL;
}

/* Drops what c holds, keeping the buffer for another connection. */
static void
unhold(struct sel *s, struct sconn *c)
{
	s->held -= c->holdlen;
	if (c->hold != NULL && s->npool < 16 && c->holdcap <= 1024 * 1024) {
		s->pool[s->npool] = c->hold;
		s->poolcap[s->npool++] = c->holdcap;
	} else
		free(c->hold);
	c->hold = NULL;
	c->holdlen = c->holdcap = 0;
}

static void
conn_free(struct sel *s, struct sconn *c)
{
	unhold(s, c);
	tails_free(s, c);
	if (c->hc != NULL) {
		http_conn_free(c->hc);
		free(c->hc);
	}
	ctab_del(&s->conns, c);
}

/* Sends the held records of a connection on, in their order. */
static void
release(struct sel *s, struct sconn *c)
{
	struct rec_reader rd;

	recr_init_mem(&rd, c->hold, c->holdlen, "held records");
	while (recr_next(&rd, s->tmp) == REC_OK)
		s->emit(s->arg, s->tmp, rd.raw, rd.rawlen);
	recr_free(&rd);
}

/* Decides when it can: every selector must say yes, one no is enough. */
static void
decide(struct sel *s, struct sconn *c)
{
	const struct sel_opts *o = s->o;
	int yes = 1, no = 0, v;

#define CRIT(given, ok) do {						\
	if (given) {							\
		if ((ok) < 0)						\
			no = 1;						\
		else if ((ok) == 0)					\
			yes = 0;					\
	}								\
} while (0)
	CRIT(o->nconn > 0, c->conn_ok);
	CRIT(o->since != -1 || o->until != -1, c->time_ok);
	CRIT(o->nre > 0, c->re_ok);
	CRIT(o->nhdr > 0, c->hdr_ok);
#undef CRIT
	if (!no && !yes)
		return;
	v = no ? NO : YES;
	if (o->invert)
		v = v == YES ? NO : YES;
	c->state = v;
	if (v == YES) {
		s->selected++;
		release(s, c);
	}
	unhold(s, c);
	tails_free(s, c);
	if (c->hc != NULL) {
		http_conn_free(c->hc);
		free(c->hc);
		c->hc = NULL;
	}
}

/* Nothing more will come for c: what is unknown now is a no. */
static void
finish(struct sel *s, struct sconn *c)
{
	int i;

	for (i = 0; c->re_ok == 0 && c->tail != NULL && i < s->nre; i++)
		if (re_final(s->re[i], &c->tail[2 * i]) ||
		    re_final(s->re[i], &c->tail[2 * i + 1]))
			c->re_ok = 1;
	if (c->re_ok == 0)
		c->re_ok = -1;
	if (c->time_ok == 0)
		c->time_ok = -1;
	if (c->hdr_ok == 0)
		c->hdr_ok = -1;
	if (c->conn_ok == 0)
		c->conn_ok = -1;
	decide(s, c);
}

static void
hold(struct sel *s, struct sconn *c, const unsigned char *raw, size_t n)
{
	if (c->hold == NULL && s->npool > 0) {
		c->hold = s->pool[--s->npool];
		c->holdcap = s->poolcap[s->npool];
	}
	/* Small to start with: a connection that waits for its answer
	 * with a few records costs little more than they do. */
	grow_put(&c->hold, &c->holdlen, &c->holdcap, 512, raw, n);
	s->held += n;
}

/* A note record about the stream, sent on like any other. */
static void
note(struct sel *s, const char *text)
{
	char hdr[REC_MAX_HEADER];
	unsigned char *buf;
	size_t h, n = strlen(text);

	rec_init(s->tmp, REC_NOTE, 0);
	if (s->o->note_src != NULL)
		rec_set_src(s->tmp, s->o->note_src);
	rec_set(s->tmp, "level", "warning");
	if ((h = rec_header(s->tmp, n, hdr, sizeof(hdr))) == 0)
		return;
	if ((buf = malloc(h + n + 1)) == NULL)
		err(TM_EXIT_FAIL, "malloc");
	memcpy(buf, hdr, h);
	memcpy(buf + h, text, n);
	buf[h + n] = '\n';
	s->tmp->data = buf + h;
	s->tmp->len = n;
	s->emit(s->arg, s->tmp, buf, h + n + 1);
	free(buf);
}

/* Over --max-hold: the connection holding the most is decided now, on
 * what was seen of it, and a note says so. */
static void
overflow(struct sel *s)
{
	struct sconn *c, *big = NULL;
	char msg[512], src[SAFE_ROOM(64)];

	for (c = ctab_next(&s->conns, NULL); c != NULL;
	    c = ctab_next(&s->conns, c))
		if (c->state == PENDING && (big == NULL ||
		    c->holdlen > big->holdlen))
			big = c;
	if (big == NULL)
		return;
	safe_str(ctab_src(big), src, 4 * 64);
	snprintf(msg, sizeof(msg), "connection %s%s#%llu: %zu bytes held "
	    "back, over --max-hold %llu: decided on what was seen so far",
	    src, src[0] != '\0' ? " " : "",
	    (unsigned long long)ctab_conn(big), big->holdlen,
	    (unsigned long long)s->o->max_hold);
	warnx("%s", msg);
	finish(s, big);
	snprintf(msg + strlen(msg), sizeof(msg) - strlen(msg), " (%s)",
	    big->state == YES ? "selected" : "not selected");
	note(s, msg);
}

/* Over --max-conns: the connection that went longest without a record is
 * decided on what was seen of it, if it was not yet, and forgotten; a
 * note says so.  Its later records, if any come, start a connection anew. */
static void
drop_oldest(struct sel *s)
{
	struct sconn *c = ctab_lru(&s->conns);
	char msg[512], src[SAFE_ROOM(64)];
	int was = c->state;

	if (s->dropped++ == 0)
		warnx("over %llu connections at once: the one longest without "
		    "a record is no longer followed (--max-conns); notes say "
		    "which", (unsigned long long)s->o->max_conns);
	if (was == PENDING)
		finish(s, c);
	safe_str(ctab_src(c), src, 4 * 64);
	snprintf(msg, sizeof(msg), "connection %s%s#%llu: no longer followed: "
	    "over --max-conns %llu connections at once; %s",
	    src, src[0] != '\0' ? " " : "",
	    (unsigned long long)ctab_conn(c),
	    (unsigned long long)s->o->max_conns, was != PENDING ?
	    "it was decided before" : c->state == YES ? "decided on what "
	    "was seen so far: selected" : "decided on what was seen so "
	    "far: not selected");
	conn_free(s, c);
	note(s, msg);
}

static int
conn_wanted(const struct sel_opts *o, const char *src, uint64_t conn)
{
	int i;

	for (i = 0; i < o->nconn; i++)
		if (o->conn[i] == conn && (o->conn_src[i][0] == '\0' ||
		    strcmp(o->conn_src[i], src != NULL ? src : "") == 0))
			return 1;
	return 0;
}

static void
resolve_times(struct sel *s, int64_t first)
{
	int64_t day = first - first % (86400ll * 1000000);

	if (s->o->since_tod)
		s->since = day + s->o->since;
	if (s->o->until_tod)
		s->until = day + s->o->until;
	s->timed = 1;
}

void
sel_feed(struct sel *s, const struct rec *r, const unsigned char *raw,
    size_t rawlen)
{
	const struct sel_opts *o = s->o;
	struct sconn *c;
	enum http_dir d;
	int isnew, i;

	if (!s->active || r->conn == 0) {
		s->emit(s->arg, r, raw, rawlen);
		return;
	}
	if (!s->timed && r->usec >= 0)
		resolve_times(s, r->usec);
	c = ctab_find(&s->conns, r->src, r->conn, &isnew);
	if (isnew) {
		c->s = s;
		c->state = PENDING;
		c->conn_ok = conn_wanted(o, r->src, r->conn) ? 1 : -1;
		if (s->nre > 0 && (c->tail = calloc(2 * (size_t)s->nre,
		    sizeof(*c->tail))) == NULL)
			err(TM_EXIT_FAIL, "calloc");
		if (o->nhdr > 0) {
			if ((c->hc = malloc(sizeof(*c->hc))) == NULL)
				err(TM_EXIT_FAIL, "malloc");
			http_conn_init(c->hc, &hdr_cb, c);
		}
		if (s->conns.n > o->max_conns)
			drop_oldest(s);
	}
	if (c->state == PENDING) {
		if (r->usec >= 0 && c->time_ok == 0) {
			if ((s->since == -1 || r->usec >= s->since) &&
			    (s->until == -1 || r->usec <= s->until))
				c->time_ok = 1;
			else if (s->until != -1 && r->usec > s->until)
				c->time_ok = -1; /* records come in time order */
		}
		if (r->type == REC_DATA && r->dir != REC_NODIR) {
			d = r->dir == REC_C2S ? HTTP_REQ : HTTP_RESP;
			for (i = 0; c->re_ok == 0 && i < s->nre; i++)
				if (re_scan(s->re[i], &c->tail[2 * i + d],
				    r->data, r->len))
					c->re_ok = 1;
			if (c->hc != NULL && c->hdr_ok == 0) {
				http_conn_feed(c->hc, d, r->data, r->len);
				http_conn_trim(c->hc);
			}
		}
		hold(s, c, raw, rawlen);
		decide(s, c);
		if (c->state == PENDING && r->type == REC_CLOSE)
			finish(s, c);
	} else if (c->state == YES)
		s->emit(s->arg, r, raw, rawlen);
	if (r->type == REC_CLOSE)
		conn_free(s, c);
	if (s->held > o->max_hold)
		overflow(s);
}

void
sel_end(struct sel *s)
{
	struct sconn *c;
	void **v;
	size_t n, i;

	v = ctab_list(&s->conns, &n);
	for (i = 0; i < n; i++) {
		c = v[i];
		if (c->state == PENDING)
			finish(s, c);
		conn_free(s, c);
	}
	free(v);
}

void
sel_free(struct sel *s)
{
	int i;

	sel_end(s);
	ctab_free(&s->conns);
	while (s->nre > 0)
		re_free(s->re[--s->nre]);
	for (i = 0; i < SEL_MAX_HDR; i++)
		re_free(s->hre[i]);
	while (s->npool > 0)
		free(s->pool[--s->npool]);
	free(s->tmp);
}
