/* fuzz_select.c - libFuzzer target: the selectors of tcpmon-tap and
 * tcpmon-grep (tap/select.c).  The input is a selector spec, one option a
 * line, up to a NUL byte ("e PATTERN", "conn 1,2", "since 10:00",
 * "until -5m", "header Host=x", "i", "v", "max-hold 1k"), then a program
 * of records (see build()).  The records are read back as tcpmon-grep
 * reads them and go through the selection twice, with -v and without:
 * every record of a connection comes out in exactly one of the two runs,
 * byte for byte, in order, a connection whole or not at all; with
 * patterns alone, a connection comes out when some pattern matches one
 * direction's bytes taken whole (if there are any), however the records
 * cut them. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "record.h"
#include "select.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define MAX_REC		256
#define MAX_PAYLOAD	4096	/* all records: PCRE2's work stays small */
#define MAX_PAT		64	/* bytes in a pattern */
#define BASE_USEC	1795338000000000ll	/* 2026-11-22T09:00:00Z */

static const struct { const char *name; int ch; } optnames[] = {
	{ "conn", SEL_OPT_CONN }, { "since", SEL_OPT_SINCE },
	{ "until", SEL_OPT_UNTIL }, { "header", SEL_OPT_HEADER },
	{ "max-hold", SEL_OPT_MAX_HOLD }, { "e", 'e' }, { "i", 'i' },
	{ "v", 'v' }
};

/* The records of the input, as built. */
static struct {
	uint64_t	 conn;
	int		 inst;		/* connection instance, -1 for conn 0 */
	int		 dir;		/* data: REC_C2S or REC_S2C, else 0 */
	size_t		 off, rawlen;	/* in stream */
	size_t		 poff, plen;	/* payload, in stream */
} in[MAX_REC];
static int nrec, ninst;
static unsigned char stream[MAX_REC * (REC_MAX_HEADER + 1) + MAX_PAYLOAD];
static size_t streamlen;

struct run {
	int		 emitted[MAX_REC];
	int		 last[MAX_REC];	/* per instance: the last record out */
};

static void
emit(void *arg, const struct rec *r, const unsigned char *raw, size_t rawlen)
{
	struct run *ru = arg;
	uint64_t i;

	if (rec_get_u64(r, "n", &i) == -1) {
		/* A note of the selector's own, about --max-hold. */
		if (r->type != REC_NOTE || r->conn != 0)
			abort();
		return;
	}
	if (i >= (uint64_t)nrec || rawlen != in[i].rawlen ||
	    memcmp(raw, stream + in[i].off, rawlen) != 0 ||
	    r->conn != in[i].conn)
		abort();
	ru->emitted[i]++;
	if (in[i].inst >= 0) {
		if (ru->last[in[i].inst] >= (int)i)
			abort();
		ru->last[in[i].inst] = (int)i;
	}
}

/*
 * The program: per record a byte b (kind b % 8: open, data c2s, data s2c,
 * shutdown, close, a note of the stream, stream data, an unknown kind;
 * conn 1 + b / 8 % 4; src "b" when b & 32, none otherwise), a byte of time
 * (255: none; else seconds * 30 since the last), and for data a length
 * byte and the payload.
 */
static void
build(const uint8_t *p, size_t n)
{
	static const char *srcs[2] = { NULL, "b" };
	static int cur[2][5];	/* instance of (src, conn) */
	char hdr[REC_MAX_HEADER];
	struct rec r;
	int64_t t = BASE_USEC;
	size_t i = 0, len, h, payload = 0;
	unsigned b, kind, tb;
	uint64_t conn;
	int s, k;

	nrec = ninst = 0;
	streamlen = 0;
	for (s = 0; s < 2; s++)
		for (k = 0; k < 5; k++)
			cur[s][k] = -1;
	while (i + 2 <= n && nrec < MAX_REC) {
		b = p[i++];
		tb = p[i++];
		kind = b % 8;
		conn = kind == 5 || kind == 6 ? 0 : 1 + b / 8 % 4;
		s = (b & 32) != 0;
		len = 0;
		if (kind == 1 || kind == 2 || kind == 6) {
			if (i == n)
				break;
			len = p[i++];
			if (len > n - i)
				len = n - i;
			if (payload + len > MAX_PAYLOAD)
				break;
		}
		if (kind == 7)
			(void)rec_init_kind(&r, "zzz", conn);
		else
			rec_init(&r, (enum rec_type[]){ REC_OPEN, REC_DATA,
			    REC_DATA, REC_SHUTDOWN, REC_CLOSE, REC_NOTE,
			    REC_DATA, REC_UNKNOWN }[kind], conn);
		if (srcs[s] != NULL)
			rec_set_src(&r, srcs[s]);
		if (tb == 255)
			r.usec = -1;
		else
			r.usec = t += (int64_t)tb * 30 * 1000000;
		r.dir = kind == 1 || kind == 6 ? REC_C2S : kind == 2 ?
		    REC_S2C : kind == 3 ? REC_C2S : REC_NODIR;
		rec_setf(&r, "n", "%d", nrec);
		if ((h = rec_header(&r, len, hdr, sizeof(hdr))) == 0)
			abort();
		in[nrec].conn = conn;
		in[nrec].dir = kind == 1 || kind == 2 ? (int)r.dir : 0;
		in[nrec].off = streamlen;
		in[nrec].rawlen = h + len + 1;
		in[nrec].poff = streamlen + h;
		in[nrec].plen = len;
		memcpy(stream + streamlen, hdr, h);
		memcpy(stream + streamlen + h, p + i, len);
		stream[streamlen + h + len] = '\n';
		streamlen += h + len + 1;
		i += len;
		payload += len;
		if (conn == 0)
			in[nrec].inst = -1;
		else {
			if (cur[s][conn] == -1)
				cur[s][conn] = ninst++;
			in[nrec].inst = cur[s][conn];
			if (kind == 4)
				cur[s][conn] = -1;	/* closed */
		}
		nrec++;
	}
}

/* Reads the stream back as tcpmon-grep does, through a selection; -1
 * with msg set when the patterns are refused. */
static int
select_run(const struct sel_opts *o, struct run *ru, char *msg, size_t ml)
{
	static struct rec r;
	struct rec_reader rd;
	struct sel s;
	int i = 0;

	memset(ru, 0, sizeof(*ru));
	memset(ru->last, 0xff, sizeof(ru->last));
	msg[0] = '\0';
	if (sel_setup(&s, o, emit, ru, msg, ml) == -1) {
		sel_free(&s);
		return -1;
	}
	recr_init_mem(&rd, stream, streamlen, "fuzz");
	while (recr_next(&rd, &r) == REC_OK) {
		sel_feed(&s, &r, rd.raw, rd.rawlen);
		i++;
	}
	if (i != nrec)
		abort();
	recr_free(&rd);
	sel_end(&s);
	sel_free(&s);
	return 0;
}

static int
compiles(const char *pat, int icase)
{
	pcre2_code *code;
	PCRE2_SIZE eoff;
	int ec;

	if ((code = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED,
	    icase ? PCRE2_CASELESS : 0, &ec, &eoff, NULL)) == NULL)
		return 0;
	pcre2_code_free(code);
	return 1;
}

static int
all_compile(const struct sel_opts *o)
{
	int i;

	for (i = 0; i < o->nre; i++)
		if (!compiles(o->re[i], o->icase))
			return 0;
	for (i = 0; i < o->nhdr; i++)
		if (o->hpat[i] != NULL && !compiles(o->hpat[i], o->icase))
			return 0;
	return 1;
}

/* Whether some pattern matches one direction of instance k, the bytes
 * taken whole; -1 when PCRE2 cannot tell (a limit, bad UTF). */
static int
matches(const struct sel_opts *o, int k)
{
	static unsigned char d[2][MAX_PAYLOAD];
	pcre2_match_data *md;
	pcre2_code *code;
	PCRE2_SIZE eoff;
	size_t dl[2] = { 0, 0 };
	int i, j, ec, rc, found = 0;

	for (i = 0; i < nrec; i++)
		if (in[i].inst == k && in[i].dir != 0) {
			j = in[i].dir == REC_C2S ? 0 : 1;
			memcpy(d[j] + dl[j], stream + in[i].poff, in[i].plen);
			dl[j] += in[i].plen;
		}
	for (i = 0; i < o->nre && !found; i++) {
		if ((code = pcre2_compile((PCRE2_SPTR)o->re[i],
		    PCRE2_ZERO_TERMINATED, o->icase ? PCRE2_CASELESS : 0, &ec,
		    &eoff, NULL)) == NULL)
			abort();	/* select.c took it */
		md = pcre2_match_data_create_from_pattern(code, NULL);
		for (j = 0; j < 2 && !found; j++) {
			if (dl[j] == 0)
				continue;	/* no bytes, nothing to match */
			rc = pcre2_match(code, d[j], dl[j], 0, 0, md, NULL);
			if (rc >= 0)
				found = 1;
			else if (rc != PCRE2_ERROR_NOMATCH)
				found = -1;
		}
		pcre2_match_data_free(md);
		pcre2_code_free(code);
	}
	return found;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	static struct run a, b;
	static char spec[65536];
	struct sel_opts o, ov;
	char msg[SEL_MSG_MAX], *line, *next, *v;
	const uint8_t *nul;
	size_t sl, k;
	int i, ch, inexact = 0, want, w, *first;

	if ((nul = memchr(data, '\0', n)) == NULL)
		nul = data + n;
	sl = (size_t)(nul - data);
	if (sl >= sizeof(spec))
		return 0;
	memcpy(spec, data, sl);
	spec[sl] = '\0';
	sel_opts_init(&o);
	for (line = spec; line != NULL; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if ((v = strchr(line, ' ')) != NULL)
			*v++ = '\0';
		else
			v = line + strlen(line);
		for (k = 0; k < sizeof(optnames) / sizeof(optnames[0]); k++)
			if (strcmp(line, optnames[k].name) == 0)
				break;
		if (k == sizeof(optnames) / sizeof(optnames[0]))
			continue;
		ch = optnames[k].ch;
		if ((ch == 'e' || ch == SEL_OPT_HEADER) &&
		    strlen(v) > MAX_PAT)
			return 0;
		msg[0] = '\0';
		if ((i = sel_opt_parse(&o, ch, v, msg, sizeof(msg))) == -1) {
			if (msg[0] == '\0')
				abort();
			return 0;
		}
		if (i != 1)
			abort();
		if (ch != 'e' && ch != 'i' && ch != 'v')
			inexact = 1;
	}
	build(nul < data + n ? nul + 1 : nul, nul < data + n ?
	    (size_t)(data + n - nul - 1) : 0);
	/* A bad pattern stops here, named; patterns that compile one by
	 * one are taken together too. */
	if (select_run(&o, &a, msg, sizeof(msg)) == -1) {
		if (msg[0] == '\0' || all_compile(&o))
			abort();
		return 0;
	}
	ov = o;
	ov.invert = !o.invert;
	if (select_run(&ov, &b, msg, sizeof(msg)) == -1)
		abort();	/* it passed for the other run */

	if ((first = calloc((size_t)ninst + 1, sizeof(*first))) == NULL)
		return 0;
	for (i = 0; i < ninst; i++)
		first[i] = -1;
	for (i = 0; i < nrec; i++) {
		if (in[i].inst < 0) {
			/* The stream's own records always pass. */
			if (a.emitted[i] != 1 || b.emitted[i] != 1)
				abort();
			continue;
		}
		if (!sel_any(&o)) {
			if (a.emitted[i] != 1 || b.emitted[i] != 1)
				abort();
			continue;
		}
		/* -v selects exactly what the other run did not, and a
		 * connection goes whole or not at all. */
		if (a.emitted[i] + b.emitted[i] != 1)
			abort();
		if (first[in[i].inst] == -1)
			first[in[i].inst] = i;
		else if (a.emitted[i] != a.emitted[first[in[i].inst]])
			abort();
	}
	/* \G is where a scan starts: select.c resumes a scan where a
	 * record ends, so there it is not the whole stream's \A (a known
	 * limit, not checked). */
	for (i = 0; i < o.nre; i++)
		if (strstr(o.re[i], "\\G") != NULL)
			inexact = 1;
	if (sel_any(&o) && o.nre > 0 && !inexact)
		for (i = 0; i < ninst; i++) {
			if ((want = matches(&o, i)) == -1)
				continue;
			w = a.emitted[first[i]];
			if (w != (o.invert ? !want : want))
				abort();
		}
	free(first);
	return 0;
}
