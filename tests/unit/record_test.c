/* record_test.c - unit tests for common/record.c: random records through a
 * file, memory and a pipe, header parsing, corrupt and truncated streams.
 * The expected bytes come from an encoder written here from the format, not
 * from rec_header.  TCPMON_SEED=N replays another seed. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "record.h"
#include "util.h"
#include "t.h"

#define NREC		2000	/* records in the round trip */
#define NCAT		1000	/* records in the stream behind it */
#define NCORRUPT	2000	/* corrupted streams */
#define NBASE		16	/* records in the stream corrupted */
#define NTRUNC		8	/* records in the stream cut at every byte */
#define MAXVAL		48	/* bytes in a random src or field value */
#define MAXKEY		12

static uint64_t rng;

/* splitmix64: small, fast, the same everywhere. */
static uint64_t
rnd(void)
{
	uint64_t z = (rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static size_t
below(size_t n)
{
	return n == 0 ? 0 : (size_t)(rnd() % n);
}

/* A record as the test means it, independent of struct rec. */
struct spec {
	char		 kind[32];
	enum rec_type	 type;
	uint64_t	 conn;
	int		 has_src;
	char		 src[MAXVAL + 1];
	int64_t		 usec;
	enum rec_dir	 dir;
	int		 nfield;
	char		 key[REC_MAX_FIELDS][MAXKEY + 1];
	char		 val[REC_MAX_FIELDS][MAXVAL + 1];
	const unsigned char *data;
	size_t		 len;
	int		 raw;		/* written with recw_put_raw */
	size_t		 off, rawlen;	/* where it sits in the stream */
};

static const char *const kinds[] = {
	"unknown", "stream", "open", "data", "shutdown", "close", "note"
};

static enum rec_type
kind_type(const char *k)
{
	size_t i;

	for (i = 1; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strcmp(k, kinds[i]) == 0)
			return (enum rec_type)i;
	return REC_UNKNOWN;
}

/* A temporary file that disappears on close: a memfd, or mkstemp. */
static int
tmpfd(void)
{
	char path[] = "/tmp/record_test.XXXXXX";
	int fd;

	if ((fd = memfd_create("record_test", MFD_CLOEXEC)) != -1)
		return fd;
	if ((fd = mkstemp(path)) == -1) {
		perror("mkstemp");
		exit(2);
	}
	unlink(path);
	return fd;
}

/* The whole content of fd, in a malloc'd buffer. */
static unsigned char *
slurp(int fd, size_t *n)
{
	struct stat st;
	unsigned char *p;
	ssize_t k;
	size_t at = 0;

	if (fstat(fd, &st) == -1 || (p = malloc((size_t)st.st_size + 1)) ==
	    NULL)
		return NULL;
	while (at < (size_t)st.st_size) {
		if ((k = pread(fd, p + at, (size_t)st.st_size - at,
		    (off_t)at)) <= 0) {
			free(p);
			return NULL;
		}
		at += (size_t)k;
	}
	*n = at;
	return p;
}

static void
put_file(int fd, const void *p, size_t n)
{
	if (ftruncate(fd, 0) == -1 || pwrite(fd, p, n, 0) != (ssize_t)n ||
	    lseek(fd, 0, SEEK_SET) == -1) {
		perror("put_file");
		exit(2);
	}
}

/* ---- the reference encoder (tcpmon-record(5)) ---- */

static void
esc(char **p, const char *s)
{
	const unsigned char *u;

	for (u = (const unsigned char *)s; *u != '\0'; u++)
		if (*u > 0x20 && *u < 0x7f && *u != '%')
			*(*p)++ = (char)*u;
		else {
			*(*p)++ = '%';
			*(*p)++ = "0123456789ABCDEF"[*u >> 4];
			*(*p)++ = "0123456789ABCDEF"[*u & 15];
		}
}

static const char *
time_text(int64_t usec, char *buf, size_t n)
{
	time_t sec = (time_t)(usec / 1000000);
	struct tm tm;

	gmtime_r(&sec, &tm);
	snprintf(buf, n, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, (int)(usec % 1000000));
	return buf;
}

/* The header line of s for a payload of len bytes; out holds 8 KiB. */
static size_t
encode_header(const struct spec *s, size_t len, char *out)
{
	char *p = out, tb[64];
	int i;

	p += sprintf(p, "TCPMON/1 %s conn=%" PRIu64, s->kind, s->conn);
	if (s->has_src) {
		p += sprintf(p, " src=");
		esc(&p, s->src);
	}
	if (s->usec >= 0)
		p += sprintf(p, " time=%s", time_text(s->usec, tb,
		    sizeof(tb)));
	if (s->dir != REC_NODIR)
		p += sprintf(p, " dir=%s", s->dir == REC_C2S ? "c2s" : "s2c");
	for (i = 0; i < s->nfield; i++) {
		p += sprintf(p, " %s=", s->key[i]);
		esc(&p, s->val[i]);
	}
	p += sprintf(p, " len=%zu\n", len);
	return (size_t)(p - out);
}

/* ---- random records ---- */

static void
rand_text(char *out, size_t max)
{
	size_t i, n = below(max + 1);
	int wild = (int)below(2);

	for (i = 0; i < n; i++)
		out[i] = (char)(wild ? 1 + below(255) : 0x21 + below(0x5e));
	/* The escapes that matter most, often. */
	if (n > 0 && below(3) == 0)
		out[below(n)] = "% \n\x7f\xff="[below(6)];
	out[n] = '\0';
}

static int
core_key(const char *k)
{
	return strcmp(k, "conn") == 0 || strcmp(k, "src") == 0 ||
	    strcmp(k, "time") == 0 || strcmp(k, "dir") == 0 ||
	    strcmp(k, "len") == 0;
}

static void
rand_key(struct spec *s, int i)
{
	static const char set[] = "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.";
	size_t j, n;
	int k, dup;

	do {
		n = 1 + below(MAXKEY);
		for (j = 0; j < n; j++)
			s->key[i][j] = set[below(sizeof(set) - 1)];
		s->key[i][n] = '\0';
		for (dup = 0, k = 0; k < i; k++)
			dup |= strcmp(s->key[k], s->key[i]) == 0;
	} while (dup || core_key(s->key[i]));
}

static size_t
rand_len(size_t i)
{
	size_t r;

	if (i == NREC / 2)
		return 1024 * 1024 + 7;
	if (i == NREC - 3)
		return 300000;
	if (i == 40 || i == 41)
		return 64 * 1024;	/* the writer's buffer size */
	r = below(100);
	if (r < 10)
		return 0;
	if (r < 95)
		return 1 + below(200);
	return 1000 + below(70000);
}

static void
rand_spec(struct spec *s, size_t i, const unsigned char *pool)
{
	static const char kset[] = "abcdefghijklmnopqrstuvwxyz0123456789_-";
	size_t j, n, vmax;

	memset(s, 0, sizeof(*s));
	if (below(10) < 7)
		strcpy(s->kind, kinds[1 + below(6)]);
	else {
		n = 1 + below(31);
		for (j = 0; j < n; j++)
			s->kind[j] = kset[below(sizeof(kset) - 1)];
	}
	s->type = kind_type(s->kind);
	switch (below(5)) {
	case 0:
		s->conn = 0;
		break;
	case 1:
		s->conn = UINT64_MAX - below(2);
		break;
	default:
		s->conn = below(4) ? below(100000) : rnd();
	}
	if ((s->has_src = below(4) != 0))
		rand_text(s->src, MAXVAL);
	switch (below(4)) {
	case 0:
		s->usec = -1;
		break;
	case 1:		/* up to 9999-12-31T23:59:59.999999Z */
		s->usec = (int64_t)(rnd() % 253402300800000000ULL);
		break;
	default:	/* around now */
		s->usec = 1795341600000000LL + (int64_t)below(1000000000000);
	}
	s->dir = (enum rec_dir)below(3);
	s->nfield = below(50) == 0 ? REC_MAX_FIELDS : (int)below(5);
	vmax = s->nfield > 8 ? 20 : MAXVAL;
	for (j = 0; j < (size_t)s->nfield; j++) {
		rand_key(s, (int)j);
		rand_text(s->val[j], vmax);
	}
	s->len = rand_len(i);
	s->data = pool + below(REC_MAX_PAYLOAD - s->len + 1);
	s->raw = below(10) == 0;
}

/* A struct rec for s, through the public API. */
static int
build_rec(const struct spec *s, struct rec *r)
{
	int i;

	if (s->type != REC_UNKNOWN && below(2))
		rec_init(r, s->type, s->conn);
	else if (rec_init_kind(r, s->kind, s->conn) == -1)
		return -1;
	r->usec = s->usec;
	r->dir = s->dir;
	if (s->has_src && rec_set_src(r, s->src) == -1)
		return -1;
	for (i = 0; i < s->nfield; i++)
		if (rec_set(r, s->key[i], s->val[i]) == -1)
			return -1;
	return 0;
}

#define DIFF(...)	do { snprintf(msg, n, __VA_ARGS__); return 0; } while (0)

/* 1 if r is what s describes (the payload too if data), else 0 with the
 * first difference in msg. */
static int
same(const struct rec *r, const struct spec *s, int data, char *msg, size_t n)
{
	int i;

	if (r->type != s->type)
		DIFF("type %d, want %d", r->type, s->type);
	if (strcmp(r->kind, s->kind) != 0)
		DIFF("kind '%s', want '%s'", r->kind, s->kind);
	if (r->conn != s->conn)
		DIFF("conn %" PRIu64 ", want %" PRIu64, r->conn, s->conn);
	if ((r->src != NULL) != s->has_src ||
	    (s->has_src && strcmp(r->src, s->src) != 0))
		DIFF("src differs");
	if (r->usec != s->usec)
		DIFF("time %" PRId64 ", want %" PRId64, r->usec, s->usec);
	if (r->dir != s->dir)
		DIFF("dir %d, want %d", r->dir, s->dir);
	if (r->len != s->len)
		DIFF("len %zu, want %zu", r->len, s->len);
	if (data && s->len > 0 && memcmp(r->data, s->data, s->len) != 0)
		DIFF("payload differs");
	if (r->nfield != s->nfield)
		DIFF("%d fields, want %d", r->nfield, s->nfield);
	for (i = 0; i < s->nfield; i++)
		if (strcmp(r->field[i].key, s->key[i]) != 0 ||
		    strcmp(r->field[i].val, s->val[i]) != 0)
			DIFF("field %d (%s) differs", i, s->key[i]);
	return 1;
}

/*
 * Reads sp[0..n), then sp[0..n2) again (a stream with a part of itself
 * behind it), then the end.  Checks every field, rd->raw against exp (which
 * covers the payload), nrec and off.
 */
static int
read_all(struct rec_reader *rd, const struct spec *sp, size_t n, size_t n2,
    const unsigned char *exp, size_t explen, char *msg, size_t mlen)
{
	const struct spec *s;
	struct rec r;
	char why[256];
	uint64_t k;
	size_t off;
	int rc;

	for (k = 0; k < n + n2; k++) {
		s = &sp[k < n ? k : k - n];
		off = (k < n ? 0 : explen) + s->off;
		if ((rc = recr_next(rd, &r)) != REC_OK) {
			snprintf(msg, mlen, "record %" PRIu64 ": rc %d: %.300s",
			    k + 1, rc, rd->err);
			return 0;
		}
		if (!same(&r, s, 0, why, sizeof(why))) {
			snprintf(msg, mlen, "record %" PRIu64 ": %s", k + 1,
			    why);
			return 0;
		}
		/* From memory, raw points into exp itself. */
		if (rd->rawlen != s->rawlen || (rd->fd == -1 ? rd->raw !=
		    exp + off : memcmp(rd->raw, exp + s->off, rd->rawlen) !=
		    0) || r.data != rd->raw + rd->rawlen - r.len - 1) {
			snprintf(msg, mlen, "record %" PRIu64 ": raw bytes "
			    "differ (%zu, want %zu)", k + 1, rd->rawlen,
			    s->rawlen);
			return 0;
		}
		if (rd->nrec != k + 1 || rd->off != off + s->rawlen) {
			snprintf(msg, mlen, "record %" PRIu64 ": nrec %" PRIu64
			    " off %" PRIu64, k + 1, rd->nrec, rd->off);
			return 0;
		}
	}
	if ((rc = recr_next(rd, &r)) != REC_END) {
		snprintf(msg, mlen, "after the last record: rc %d: %.300s", rc,
		    rd->err);
		return 0;
	}
	if ((rc = recr_next(rd, &r)) != REC_END) {
		snprintf(msg, mlen, "after REC_END: rc %d", rc);
		return 0;
	}
	snprintf(msg, mlen, "%" PRIu64 " records", k);
	return 1;
}

static unsigned char *pool;
static struct spec *specs;
static unsigned char *expected;
static size_t explen;

/* Random records, and the stream they make. */
static void
make_stream(void)
{
	char hdr[8192];
	size_t i, h, total = 0, cap = 0;

	pool = malloc(REC_MAX_PAYLOAD);
	specs = calloc(NREC, sizeof(*specs));
	if (pool == NULL || specs == NULL)
		exit(2);
	/* 256 KiB of random bytes, then copies of it at odd shifts: random
	 * enough for payloads, and quick under valgrind. */
	for (i = 0; i < 257 * 1024; i += 8) {
		uint64_t v = rnd();

		memcpy(pool + i, &v, 8);
	}
	for (; i < REC_MAX_PAYLOAD; i += 256 * 1024)
		memcpy(pool + i, pool + below(1024), REC_MAX_PAYLOAD - i <
		    256 * 1024 ? REC_MAX_PAYLOAD - i : 256 * 1024);
	/* Things a lazy reader would take for a record boundary. */
	for (i = 0; i < 64; i++)
		memcpy(pool + below(REC_MAX_PAYLOAD - 32),
		    "\nTCPMON/1 data len=0\n\n", 22);
	for (i = 0; i < NREC; i++) {
		rand_spec(&specs[i], i, pool);
		h = encode_header(&specs[i], specs[i].len, hdr);
		specs[i].off = total;
		specs[i].rawlen = h + specs[i].len + 1;
		if (total + specs[i].rawlen > cap) {
			cap = (total + specs[i].rawlen) * 2;
			if ((expected = realloc(expected, cap)) == NULL)
				exit(2);
		}
		memcpy(expected + total, hdr, h);
		memcpy(expected + total + h, specs[i].data, specs[i].len);
		expected[total + h + specs[i].len] = '\n';
		total += specs[i].rawlen;
	}
	explen = total;
}

static void
test_roundtrip(void)
{
	struct rec_writer w;
	struct rec_reader rd;
	struct rec r;
	unsigned char *got;
	size_t i, n, nput = 0, nbad = 0, half = NREC / 2;
	char msg[512];
	int fd, fd2, fd3, rc, bad;

	fd = tmpfd();
	/* Two writers, one after the other: a stream is a plain
	 * concatenation of records. */
	recw_init(&w, fd);
	for (i = 0; i < NREC; i++) {
		if (i == half) {
			recw_flush(&w);
			recw_free(&w);
			recw_init(&w, fd);
			nput = 0;	/* w.nrec counts this writer's */
		}
		if (specs[i].raw)
			rc = recw_put_raw(&w, expected + specs[i].off,
			    specs[i].rawlen);
		else if ((rc = build_rec(&specs[i], &r)) == 0) {
			rc = recw_put(&w, &r, specs[i].data, specs[i].len);
			nput++;
		}
		if (rc != 0 && nbad++ == 0)
			snprintf(msg, sizeof(msg), "record %zu: %s", i + 1,
			    strerror(errno));
	}
	ok(nbad == 0, "round trip: recw_put/recw_put_raw of %d records "
	    "(%zu failed%s%s)", NREC, nbad, nbad ? ": " : "", nbad ? msg : "");
	ok(w.nrec == nput && recw_flush(&w) == 0 && w.error == 0,
	    "round trip: w.nrec counts recw_put calls; flush, no error");
	recw_free(&w);

	got = slurp(fd, &n);
	bad = got == NULL || n != explen || memcmp(got, expected, n) != 0;
	if (bad && got != NULL)
		for (i = 0; i < n && i < explen && got[i] == expected[i]; i++)
			;
	else
		i = 0;
	ok(!bad, "round trip: the file holds the expected %zu bytes (got %zu,"
	    " first difference at %zu)", explen, got ? n : 0, i);
	free(got);

	lseek(fd, 0, SEEK_SET);
	recr_init(&rd, fd, "file");
	ok(read_all(&rd, specs, NREC, 0, expected, explen, msg, sizeof(msg)),
	    "round trip: recr_init/recr_next gives every field back: %s", msg);
	recr_free(&rd);

	recr_init_mem(&rd, expected, explen, "mem");
	ok(read_all(&rd, specs, NREC, 0, expected, explen, msg, sizeof(msg)),
	    "round trip: recr_init_mem gives every field back: %s", msg);
	ok(rd.raw == NULL && rd.rawlen == 0, "round trip: no raw at the end");
	recr_free(&rd);

	/* Pass-through: rd.raw as is, and the parsed record written again. */
	fd2 = tmpfd();
	fd3 = tmpfd();
	lseek(fd, 0, SEEK_SET);
	recr_init(&rd, fd, "file");
	{
		struct rec_writer w2, w3;

		recw_init(&w2, fd2);
		recw_init(&w3, fd3);
		nbad = 0;
		while ((rc = recr_next(&rd, &r)) == REC_OK)
			if (recw_put_raw(&w2, rd.raw, rd.rawlen) != 0 ||
			    recw_put(&w3, &r, r.data, r.len) != 0)
				nbad++;
		if (recw_flush(&w2) != 0 || recw_flush(&w3) != 0)
			nbad++;
		recw_free(&w2);
		recw_free(&w3);
	}
	recr_free(&rd);
	got = slurp(fd2, &n);
	ok(rc == REC_END && nbad == 0 && got != NULL && n == explen &&
	    memcmp(got, expected, n) == 0,
	    "pass-through: rd.raw through recw_put_raw is byte-identical");
	free(got);
	got = slurp(fd3, &n);
	ok(got != NULL && n == explen && memcmp(got, expected, n) == 0,
	    "pass-through: parsed records through recw_put are "
	    "byte-identical");
	free(got);
	close(fd2);
	close(fd3);

	/* Another stream behind it (its first NCAT records), in one raw
	 * write bigger than the writer's buffer. */
	recw_init(&w, fd);
	lseek(fd, 0, SEEK_END);
	rc = recw_put_raw(&w, "", 0) == 0 ? recw_put_raw(&w, expected,
	    specs[NCAT].off) : -1;
	ok(rc == 0 && recw_flush(&w) == 0, "concatenation: one big "
	    "recw_put_raw of %zu bytes", specs[NCAT].off);
	recw_free(&w);
	lseek(fd, 0, SEEK_SET);
	recr_init(&rd, fd, "file");
	ok(read_all(&rd, specs, NREC, NCAT, expected, explen, msg,
	    sizeof(msg)), "concatenation: two streams read as one: %s", msg);
	recr_free(&rd);
	close(fd);
}

/* The largest payload, between two small records, then cut short. */
static void
test_max(void)
{
	struct rec_writer w;
	struct rec_reader rd;
	struct rec r, a, c;
	unsigned char *got;
	size_t n, h, off;
	char hdr[REC_MAX_HEADER];
	int fd, rc1, rc2, rc3, rc4;

	fd = tmpfd();
	rec_init(&a, REC_OPEN, 1);
	rec_set(&a, "client", "127.0.0.1:5");
	rec_init(&r, REC_DATA, 1);
	r.dir = REC_C2S;
	rec_init(&c, REC_CLOSE, 1);
	recw_init(&w, fd);
	rc1 = recw_put(&w, &a, "0123456789", 10);
	rc2 = recw_put(&w, &r, pool, REC_MAX_PAYLOAD);
	rc3 = recw_put(&w, &c, NULL, 0);
	rc4 = recw_flush(&w);
	recw_free(&w);
	ok(rc1 == 0 && rc2 == 0 && rc3 == 0 && rc4 == 0,
	    "max: recw_put of REC_MAX_PAYLOAD bytes between small records");

	h = rec_header(&r, REC_MAX_PAYLOAD, hdr, sizeof(hdr));
	lseek(fd, 0, SEEK_SET);
	recr_init(&rd, fd, "max");
	rc1 = recr_next(&rd, &r);
	rc1 = rc1 == REC_OK && r.len == 10 && memcmp(r.data, "0123456789",
	    10) == 0 && strcmp(rec_get(&r, "client"), "127.0.0.1:5") == 0;
	rc2 = recr_next(&rd, &r);
	rc2 = rc2 == REC_OK && r.type == REC_DATA && r.dir == REC_C2S &&
	    r.len == REC_MAX_PAYLOAD && rd.rawlen == h + REC_MAX_PAYLOAD + 1 &&
	    memcmp(rd.raw, hdr, h) == 0 && r.data == rd.raw + h &&
	    memcmp(r.data, pool, REC_MAX_PAYLOAD) == 0;
	rc3 = recr_next(&rd, &r);
	rc3 = rc3 == REC_OK && r.type == REC_CLOSE && r.len == 0;
	rc4 = recr_next(&rd, &r) == REC_END;
	ok(rc1 && rc2 && rc3 && rc4, "max: read back from a file "
	    "(%d %d %d %d) %s", rc1, rc2, rc3, rc4, rd.err);
	recr_free(&rd);

	got = slurp(fd, &n);
	recr_init_mem(&rd, got, n, "max");
	rc1 = recr_next(&rd, &r) == REC_OK;
	off = rd.off;
	rc2 = recr_next(&rd, &r) == REC_OK && r.len == REC_MAX_PAYLOAD &&
	    rd.raw == got + off && r.data == got + off + h;
	rc3 = recr_next(&rd, &r) == REC_OK && recr_next(&rd, &r) == REC_END;
	ok(rc1 && rc2 && rc3, "max: read back from memory %s", rd.err);
	recr_free(&rd);

	/* Cut in the middle of the big payload. */
	recr_init_mem(&rd, got, n / 2, "max");
	rc1 = recr_next(&rd, &r);
	rc2 = recr_next(&rd, &r);
	ok(rc1 == REC_OK && rc2 == REC_ERR && strstr(rd.err, "max: record 2 "
	    "at byte ") == rd.err && strstr(rd.err, "truncated record"),
	    "max: cut in the big payload: %s", rd.err);
	recr_free(&rd);
	free(got);
	close(fd);
}

/* The small records, fed through a non-blocking pipe in random pieces. */
static void
test_pipe_pieces(void)
{
	struct spec *sp;
	struct rec_reader rd;
	struct rec r;
	unsigned char *buf;
	size_t i, n = 0, len = 0, at = 0, chunk, k = 0;
	int p[2], rc, nagain = 0, bad = 0;
	char msg[512] = "", why[256];

	sp = calloc(NREC, sizeof(*sp));
	buf = malloc(explen);
	for (i = 0; i < NREC && n < 600; i++)
		if (specs[i].rawlen < 2000) {
			sp[n] = specs[i];
			memcpy(buf + len, expected + specs[i].off,
			    specs[i].rawlen);
			sp[n].off = len;
			len += sp[n].rawlen;
			n++;
		}
	if (pipe2(p, O_NONBLOCK | O_CLOEXEC) == -1)
		exit(2);
	recr_init(&rd, p[0], "pipe");
	while (!bad) {
		if (at < len) {
			chunk = 1 + below(below(4) == 0 ? 8 : 3000);
			if (chunk > len - at)
				chunk = len - at;
			if (write(p[1], buf + at, chunk) != (ssize_t)chunk)
				exit(2);
			at += chunk;
		} else if (p[1] != -1) {
			close(p[1]);
			p[1] = -1;
		}
		while ((rc = recr_next(&rd, &r)) == REC_OK) {
			if (k >= n || !same(&r, &sp[k], 1, why, sizeof(why)) ||
			    rd.rawlen != sp[k].rawlen || memcmp(rd.raw, buf +
			    sp[k].off, rd.rawlen) != 0) {
				snprintf(msg, sizeof(msg), "record %zu: %s",
				    k + 1, k >= n ? "one too many" : why);
				bad = 1;
				break;
			}
			k++;
		}
		if (rc == REC_AGAIN) {
			nagain++;
			if (rd.err[0] != '\0') {
				snprintf(msg, sizeof(msg), "err set: %.300s",
				    rd.err);
				bad = 1;
			}
			continue;
		}
		if (rc == REC_END)
			break;
		if (!bad) {
			snprintf(msg, sizeof(msg), "rc %d: %.300s", rc, rd.err);
			bad = 1;
		}
	}
	ok(!bad && k == n && nagain > 0, "pipe: %zu records in random pieces "
	    "(%zu bytes, %d REC_AGAIN) %s", k, len, nagain, msg);
	recr_free(&rd);
	close(p[0]);
	if (p[1] != -1)
		close(p[1]);
	free(sp);
	free(buf);
}

/* ---- header parsing ---- */

struct hcase {
	const char	*line;
	size_t		 n;	/* 0: strlen(line) */
	const char	*why;	/* a part of the reason; NULL: valid */
};

static const struct hcase hcases[] = {
	{ "TCPMON/1 x len=0\n", 0, NULL },
	{ "TCPMON/1 note len=16777216\n", 0, NULL },
	{ "TCPMON/1 open conn=18446744073709551615 len=0\n", 0, NULL },
	{ "TCPMON/1 data k= src= len=0\n", 0, NULL },
	{ "TCPMON/1 data len=3 A.b-c_9=x\n", 0, NULL },
	{ "TCPMON/1 data time=2026-11-22T10:00:00Z len=0\n", 0, NULL },
	{ "TCPMON/1 data time=1970-01-01T00:00:00.1Z len=0\n", 0, NULL },
	{ "TCPMON/1 abcdefghijklmnopqrstuvwxyz01234 len=0\n", 0, NULL },
	{ "HTTP/1.1 200 OK\n", 0, "not a tcpmon record" },
	{ "TCPMON\n", 0, "not a tcpmon record" },
	{ "tcpmon/1 data len=0\n", 0, "not a tcpmon record" },
	{ "TCPMON/1 data len=0", 0, "does not end in a newline" },
	{ "TCPMON/2 data len=0\n", 0, "unsupported record format version" },
	{ "TCPMON/10 data len=0\n", 0, "unsupported record format version" },
	{ "TCPMON/1\n", 0, "no record kind" },
	{ "TCPMON/1 data\n", 0, "no len field" },
	{ "TCPMON/1 data conn=1 dir=c2s\n", 0, "no len field" },
	{ "TCPMON/1 data len=\n", 0, "bad length field" },
	{ "TCPMON/1 data len=x\n", 0, "bad length field" },
	{ "TCPMON/1 data len=-1\n", 0, "bad length field" },
	{ "TCPMON/1 data len=+1\n", 0, "bad length field" },
	{ "TCPMON/1 data len=5x\n", 0, "bad length field" },
	{ "TCPMON/1 data len=18446744073709551616\n", 0, "bad length field" },
	{ "TCPMON/1 data len=16777217\n", 0, "over the 16 MiB limit" },
	{ "TCPMON/1 data len=18446744073709551615\n", 0, "over the 16 MiB" },
	{ "TCPMON/1 data len=1 len=1\n", 0, "duplicate len field" },
	{ "TCPMON/1 data conn=1 conn=1 len=0\n", 0, "duplicate conn field" },
	{ "TCPMON/1 data conn=x len=0\n", 0, "bad conn field" },
	{ "TCPMON/1 data conn= len=0\n", 0, "bad conn field" },
	{ "TCPMON/1 data conn=18446744073709551616 len=0\n", 0,
	    "bad conn field" },
	{ "TCPMON/1 data src=a src=a len=0\n", 0, "duplicate src field" },
	{ "TCPMON/1 data time=2026-11-22T10:00:00Z time=2026-11-22T10:00:00Z"
	    " len=0\n", 0, "duplicate time field" },
	{ "TCPMON/1 data dir=c2s dir=s2c len=0\n", 0, "duplicate dir field" },
	{ "TCPMON/1 data a=1 b=2 a=1 len=0\n", 0, "duplicate field" },
	{ "TCPMON/1 data =1 len=0\n", 0, "bad field name" },
	{ "TCPMON/1 data a/b=1 len=0\n", 0, "bad field name" },
	{ "TCPMON/1 data a%41=1 len=0\n", 0, "bad field name" },
	{ "TCPMON/1 data k234567890123456789012345678901234567890123456789"
	    "0123456789abcde=1 len=0\n", 0, "bad field name" },
	{ "TCPMON/1 data novalue len=0\n", 0, "field without '='" },
	{ "TCPMON/1 data src=%0 len=0\n", 0, "bad %-escape" },
	{ "TCPMON/1 data src=%GG len=0\n", 0, "bad %-escape" },
	{ "TCPMON/1 data src=%00 len=0\n", 0, "bad %-escape" },
	{ "TCPMON/1 data k=% len=0\n", 0, "bad %-escape" },
	{ "TCPMON/1 data k=ab%4 len=0\n", 0, "bad %-escape" },
	{ "TCPMON/1 data k=%g0 len=0\n", 0, "bad %-escape" },
	{ "TCPMON/1 data time=yesterday len=0\n", 0, "bad time field" },
	{ "TCPMON/1 data time=2026-11-22T10:00:00.123456 len=0\n", 0,
	    "bad time field" },
	{ "TCPMON/1 data time=2026-11-22T10:00:00.1234567Z len=0\n", 0,
	    "bad time field" },
	{ "TCPMON/1 data time=2026-11-22T10:00:00.Z len=0\n", 0,
	    "bad time field" },
	{ "TCPMON/1 data time=2026-13-01T00:00:00Z len=0\n", 0,
	    "bad time field" },
	{ "TCPMON/1 data time=1969-12-31T23:59:58Z len=0\n", 0,
	    "bad time field" },
	{ "TCPMON/1 data time=2026-11-22T10:00:00.000000000000000000000Z "
	    "len=0\n", 0, "bad time field" },
	{ "TCPMON/1 data dir=x len=0\n", 0, "bad dir field" },
	{ "TCPMON/1 data dir=C2S len=0\n", 0, "bad dir field" },
	{ "TCPMON/1 data dir= len=0\n", 0, "bad dir field" },
	{ "TCPMON/1 data  len=0\n", 0, "empty field" },
	{ "TCPMON/1  data len=0\n", 0, "empty field" },
	{ "TCPMON/1 data len=0 \n", 0, "empty field" },
	{ "TCPMON/1 \n", 0, "empty field" },
	{ "TCPMON/1 Data len=0\n", 0, "bad record kind" },
	{ "TCPMON/1 len=0\n", 0, "bad record kind" },
	{ "TCPMON/1 abcdefghijklmnopqrstuvwxyz012345 len=0\n", 0,
	    "bad record kind" },
	{ "TCPMON/1 data len=0\r\n", 0, "control" },
	{ "TCPMON/1 data a=\tb len=0\n", 0, "control" },
	{ "TCPMON/1 data a=x\0y len=0\n", 26, "control" },
	{ "TCPMON/1 data a=\001 len=0\n", 0, "control" },
	{ "TCPMON/1 data src=\377 len=0\n", 0, "control" },
};

/* A header line fit for a TAP line: no newline, odd bytes as \xNN. */
static const char *
show(const char *s, size_t n)
{
	static char out[600];
	size_t i, o = 0;

	for (i = 0; i < n && o + 5 < sizeof(out); i++)
		if (s[i] == '\n' && i == n - 1)
			break;
		else if ((unsigned char)s[i] < 0x20 ||
		    (unsigned char)s[i] >= 0x7f)
			o += (size_t)snprintf(out + o, 5, "\\x%02x",
			    (unsigned char)s[i]);
		else
			out[o++] = s[i];
	out[o] = '\0';
	return out;
}

static void
test_headers(void)
{
	struct rec r;
	const char *why, *line;
	char big[REC_MAX_HEADER * 2], *p;
	size_t i, n;
	int rc;

	for (i = 0; i < sizeof(hcases) / sizeof(hcases[0]); i++) {
		line = hcases[i].line;
		n = hcases[i].n ? hcases[i].n : strlen(line);
		why = NULL;
		rc = rec_parse_header(line, n, &r, &why);
		if (hcases[i].why == NULL)
			ok(rc == 0, "header ok: %s (%s)", show(line, n),
			    rc == 0 ? "parsed" : why);
		else
			ok(rc == -1 && why != NULL && strstr(why,
			    hcases[i].why) != NULL, "header bad: %s -> %s "
			    "(got: %s)", show(line, n),
			    hcases[i].why, rc == 0 ? "parsed" : why);
	}

	line = "TCPMON/1 data conn=3 src=r41 time=2026-11-22T10:00:00.123456Z "
	    "dir=c2s len=5\n";
	rc = rec_parse_header(line, strlen(line), &r, &why);
	ok(rc == 0 && r.type == REC_DATA && strcmp(r.kind, "data") == 0 &&
	    r.conn == 3 && r.src != NULL && strcmp(r.src, "r41") == 0 &&
	    r.usec == 1795341600123456LL && r.dir == REC_C2S && r.len == 5 &&
	    r.nfield == 0, "header: the example of record.h, every field");

	line = "TCPMON/1 zz-top conn=0 src=a%20b%0a%25%7e%ff len=0 k=%3d%0D "
	    "e=\n";
	rc = rec_parse_header(line, strlen(line), &r, &why);
	ok(rc == 0 && r.type == REC_UNKNOWN && strcmp(r.kind, "zz-top") == 0 &&
	    r.src != NULL && strcmp(r.src, "a b\n%~\xff") == 0 &&
	    r.usec == -1 && r.dir == REC_NODIR && r.nfield == 2 &&
	    strcmp(rec_get(&r, "k"), "=\r") == 0 &&
	    strcmp(rec_get(&r, "e"), "") == 0,
	    "header: %%-escapes (either case), an unknown kind, empty value");

	/* REC_MAX_FIELDS extra fields are fine, one more is not. */
	for (n = REC_MAX_FIELDS; n <= REC_MAX_FIELDS + 1; n++) {
		p = big + sprintf(big, "TCPMON/1 data");
		for (i = 0; i < n; i++)
			p += sprintf(p, " f%zu=%zu", i, i);
		p += sprintf(p, " len=0\n");
		rc = rec_parse_header(big, (size_t)(p - big), &r, &why);
		if (n == REC_MAX_FIELDS)
			ok(rc == 0 && r.nfield == REC_MAX_FIELDS &&
			    strcmp(rec_get(&r, "f31"), "31") == 0,
			    "header: %d extra fields", REC_MAX_FIELDS);
		else
			ok(rc == -1 && strstr(why, "too many fields"),
			    "header bad: %d extra fields -> too many fields "
			    "(got: %s)", REC_MAX_FIELDS + 1, rc ? why : "ok");
	}
}

/* A header of exactly hlen bytes (with its newline) for a payload "hi". */
static size_t
long_header(char *buf, size_t hlen)
{
	size_t n;

	n = (size_t)sprintf(buf, "TCPMON/1 data conn=1 pad=");
	memset(buf + n, 'x', hlen - n - strlen(" len=2\n"));
	n = hlen - strlen(" len=2\n");
	n += (size_t)sprintf(buf + n, " len=2\n");
	memcpy(buf + n, "hi\n", 3);
	return n;
}

static void
test_limits(void)
{
	static char buf[REC_MAX_HEADER * 2 + 16];
	struct rec_reader rd;
	struct rec_writer w;
	struct rec r;
	unsigned char *got;
	size_t h, n;
	int fd, rc;

	/* The longest header the reader takes, and one byte more. */
	h = long_header(buf, REC_MAX_HEADER);
	recr_init_mem(&rd, buf, h + 3, "max");
	rc = recr_next(&rd, &r);
	ok(rc == REC_OK && r.len == 2 && memcmp(r.data, "hi", 2) == 0,
	    "limits: a header of REC_MAX_HEADER bytes is read (%s)",
	    rc == REC_OK ? "ok" : rd.err);
	/* What a reader takes, a writer can write again: a filter that
	 * changes nothing must not fail on it. */
	fd = tmpfd();
	recw_init(&w, fd);
	errno = 0;
	rc = rc == REC_OK ? recw_put(&w, &r, r.data, r.len) : -2;
	recw_flush(&w);
	recw_free(&w);
	got = slurp(fd, &n);
	ok(rc == 0 && got != NULL && n == h + 3 && memcmp(got, buf, n) == 0,
	    "limits: a record with a header of REC_MAX_HEADER bytes is "
	    "written again unchanged by recw_put (rc %d, %s)", rc,
	    strerror(errno));
	free(got);
	close(fd);
	recr_free(&rd);

	h = long_header(buf, REC_MAX_HEADER + 1);
	recr_init_mem(&rd, buf, h + 3, "over");
	rc = recr_next(&rd, &r);
	ok(rc == REC_ERR && strcmp(rd.err, "over: record 1 at byte 0: header "
	    "line too long") == 0, "limits: a header of REC_MAX_HEADER + 1 "
	    "bytes: %s", rd.err);
	recr_free(&rd);

	/* Payload limit on the writing side; the writer stays usable. */
	fd = tmpfd();
	recw_init(&w, fd);
	rec_init(&r, REC_DATA, 1);
	errno = 0;
	rc = recw_put(&w, &r, pool, REC_MAX_PAYLOAD + 1);
	ok(rc == -1 && errno == EMSGSIZE && w.error == 0 && w.len == 0,
	    "limits: recw_put of REC_MAX_PAYLOAD + 1 bytes: EMSGSIZE");
	rc = recw_put(&w, &r, "ok", 2);
	ok(rc == 0 && w.len > 0, "limits: the writer still works after "
	    "EMSGSIZE, and buffers small records");
	ok(recw_flush(&w) == 0 && w.len == 0 && lseek(fd, 0, SEEK_END) > 0,
	    "limits: recw_flush writes the buffer");
	recw_free(&w);
	close(fd);

	/* A failed write sticks. */
	if ((fd = open("/dev/null", O_RDONLY)) == -1)
		exit(2);
	recw_init(&w, fd);
	rc = recw_put(&w, &r, pool, 100000);
	ok(rc == -1 && w.error == EBADF && recw_put(&w, &r, "x", 1) == -1 &&
	    recw_put_raw(&w, "x", 1) == -1 && recw_flush(&w) == -1 &&
	    errno == EBADF, "limits: a write error sticks to the writer");
	recw_free(&w);
	close(fd);
}

/* ---- corrupt and truncated streams ---- */

struct outcome {
	int		 rc;		/* REC_END, REC_ERR; 99: never ended */
	uint64_t	 nok;
	size_t		 used;		/* bytes of the records returned */
	char		 err[512];
	char		 bad[256];	/* a broken invariant, or "" */
};

/* Reads rd to its end, at most len + 2 calls. */
static void
drain(struct rec_reader *rd, const unsigned char *buf, size_t len,
    struct outcome *o)
{
	struct rec r;
	size_t calls;
	int rc;

	memset(o, 0, sizeof(*o));
	o->rc = 99;
	for (calls = 0; calls < len + 2; calls++) {
		if ((rc = recr_next(rd, &r)) == REC_OK) {
			if (o->bad[0] == '\0' && (rd->raw == NULL ||
			    rd->rawlen == 0 || rd->rawlen > len - o->used ||
			    memcmp(rd->raw, buf + o->used, rd->rawlen) != 0 ||
			    r.len + 1 >= rd->rawlen || r.data != rd->raw +
			    rd->rawlen - r.len - 1))
				snprintf(o->bad, sizeof(o->bad), "record %"
				    PRIu64 ": raw/data out of place",
				    o->nok + 1);
			o->nok++;
			o->used += rd->rawlen;
			continue;
		}
		o->rc = rc;
		snprintf(o->err, sizeof(o->err), "%s", rd->err);
		if (rc == REC_ERR && (recr_next(rd, &r) != REC_ERR ||
		    strcmp(rd->err, o->err) != 0) && o->bad[0] == '\0')
			snprintf(o->bad, sizeof(o->bad), "error not sticky");
		if (rc == REC_END && o->used != len && o->bad[0] == '\0')
			snprintf(o->bad, sizeof(o->bad), "REC_END after %zu of "
			    "%zu bytes", o->used, len);
		return;
	}
	snprintf(o->bad, sizeof(o->bad), "no end after %zu calls", calls);
}

/* 1 if err is "NAME: record N at byte O: something". */
static int
err_form(const char *err, const char *name, uint64_t nrec, size_t off)
{
	char want[128];
	int n;

	n = snprintf(want, sizeof(want), "%s: record %" PRIu64 " at byte %zu: ",
	    name, nrec, off);
	return strncmp(err, want, (size_t)n) == 0 && err[n] != '\0';
}

/* A stream of n small records with their offsets. */
static unsigned char *
small_stream(struct spec *sp, size_t n, size_t *len)
{
	char hdr[8192];
	unsigned char *buf, *p;
	size_t i, h;

	if ((buf = malloc(n * 8192)) == NULL)
		exit(2);
	for (p = buf, i = 0; i < n; i++) {
		rand_spec(&sp[i], 1000, pool);
		if (sp[i].nfield > 4)
			sp[i].nfield = 4;
		sp[i].len = below(120);
		if (i == 2) {	/* the known case below */
			sp[i].data = (const unsigned char *)"hello";
			sp[i].len = 5;
		}
		h = encode_header(&sp[i], sp[i].len, hdr);
		sp[i].off = (size_t)(p - buf);
		sp[i].rawlen = h + sp[i].len + 1;
		memcpy(p, hdr, h);
		memcpy(p + h, sp[i].data, sp[i].len);
		p[h + sp[i].len] = '\n';
		p += sp[i].rawlen;
	}
	*len = (size_t)(p - buf);
	return buf;
}

static void
mutate(unsigned char *b, size_t *len, size_t cap)
{
	static const char odd[] = "\n \n%=0123456789TCPMON/1 len=";
	size_t at, k, i;
	unsigned char *l;

	at = below(*len + 1);
	switch (below(6)) {
	case 0:		/* a flipped bit */
		if (*len > 0)
			b[below(*len)] ^= (unsigned char)(1u << below(8));
		break;
	case 1:		/* a random byte */
		if (*len > 0)
			b[below(*len)] = (unsigned char)rnd();
		break;
	case 2:		/* cut short */
		*len = at;
		break;
	case 3:		/* bytes inserted */
		k = 1 + below(8);
		if (*len + k > cap)
			break;
		memmove(b + at + k, b + at, *len - at);
		for (i = 0; i < k; i++)
			b[at + i] = below(2) ? (unsigned char)rnd() :
			    (unsigned char)odd[below(sizeof(odd) - 1)];
		*len += k;
		break;
	case 4:		/* bytes deleted */
		k = 1 + below(16);
		if (at + k > *len)
			k = *len - at;
		memmove(b + at, b + at + k, *len - at - k);
		*len -= k;
		break;
	case 5:		/* a length made wrong */
		if (*len < 8 || (l = memmem(b + at, *len - at, "len=", 4)) ==
		    NULL)
			break;
		l += 4;
		if (l < b + *len && *l >= '0' && *l <= '9')
			*l = (unsigned char)('0' + below(10));
		break;
	}
}

static void
test_corrupt(void)
{
	struct spec sp[NBASE];
	struct rec_reader rd;
	struct outcome om, of;
	unsigned char *base, *buf, *exact;
	size_t blen, len, it;
	int fd, m, nerr = 0, nend = 0;
	char bad1[600] = "", bad2[600] = "", bad3[600] = "";

	base = small_stream(sp, NBASE, &blen);
	buf = malloc(blen + 64);
	fd = tmpfd();
	for (it = 0; it < NCORRUPT; it++) {
		memcpy(buf, base, blen);
		len = blen;
		for (m = 1 + (int)below(3); m > 0; m--)
			mutate(buf, &len, blen + 64);
		/* Exactly len bytes, so that ASan sees any read past them. */
		exact = malloc(len ? len : 1);
		memcpy(exact, buf, len);

		recr_init_mem(&rd, exact, len, "corrupt");
		drain(&rd, exact, len, &om);
		recr_free(&rd);
		/* The fd reader (fill, compaction) on a quarter of them. */
		of = om;
		if (it % 4 == 0) {
			put_file(fd, exact, len);
			recr_init(&rd, fd, "corrupt");
			drain(&rd, exact, len, &of);
			recr_free(&rd);
		}

		if (om.rc == REC_ERR)
			nerr++;
		else
			nend++;
		if (bad1[0] == '\0' && (om.bad[0] || of.bad[0]))
			snprintf(bad1, sizeof(bad1), "iteration %zu: %s%s",
			    it, om.bad, of.bad);
		if (bad2[0] == '\0' && om.rc == REC_ERR && !err_form(om.err,
		    "corrupt", om.nok + 1, om.used))
			snprintf(bad2, sizeof(bad2), "iteration %zu, after %"
			    PRIu64 " records, %zu bytes: %s", it, om.nok,
			    om.used, om.err);
		if (bad3[0] == '\0' && (om.rc != of.rc || om.nok != of.nok ||
		    strcmp(om.err, of.err) != 0))
			snprintf(bad3, sizeof(bad3), "iteration %zu: memory %d "
			    "%" PRIu64 " '%.250s', file %d %" PRIu64 " '%.250s'", it,
			    om.rc, om.nok, om.err, of.rc, of.nok, of.err);
		free(exact);
	}
	ok(bad1[0] == '\0', "corrupt: %d streams end in REC_END or REC_ERR "
	    "within the bound, records in place, errors sticky %s", NCORRUPT,
	    bad1);
	ok(bad2[0] == '\0', "corrupt: every error reads \"NAME: record N at "
	    "byte O: ...\" with O the start of record N %s", bad2);
	ok(bad3[0] == '\0', "corrupt: fd and memory readers agree (%d streams) %s", NCORRUPT / 4, bad3);
	printf("# corrupt: %d errors, %d clean ends\n", nerr, nend);
	close(fd);
	free(buf);
	free(base);
}

/* Cuts the stream at every byte: a cut inside a record is an error that
 * says "truncated", never a clean end. */
static void
test_truncated(void)
{
	struct spec sp[NTRUNC];
	struct rec_reader rd;
	struct outcome o;
	unsigned char *base, *exact;
	size_t blen, cut, k;
	int fd, pass, nlast = 0;
	char bad[2][600] = { "", "" };

	base = small_stream(sp, NTRUNC, &blen);
	fd = tmpfd();
	for (cut = 0; cut <= blen; cut++) {
		for (k = 0; k < NTRUNC && sp[k].off + sp[k].rawlen <= cut; k++)
			;
		exact = malloc(cut ? cut : 1);
		memcpy(exact, base, cut);
		for (pass = 0; pass < 2; pass++) {
			/* The fd reader at every cut of the last record,
			 * every 7th elsewhere. */
			if (pass == 1 && k != NTRUNC - 1 && cut % 11 != 0)
				continue;
			if (pass == 0)
				recr_init_mem(&rd, exact, cut, "cut");
			else {
				put_file(fd, exact, cut);
				recr_init(&rd, fd, "cut");
			}
			drain(&rd, exact, cut, &o);
			recr_free(&rd);
			if (bad[pass][0] != '\0')
				continue;
			if (k == NTRUNC || sp[k].off == cut) {
				if (o.rc != REC_END || o.nok != k)
					snprintf(bad[pass], sizeof(bad[0]),
					    "cut %zu at a record boundary: rc "
					    "%d after %" PRIu64 ": %s", cut,
					    o.rc, o.nok, o.err);
			} else if (o.rc != REC_ERR || o.nok != k ||
			    !err_form(o.err, "cut", k + 1, sp[k].off) ||
			    strstr(o.err, "truncated") == NULL || o.bad[0])
				snprintf(bad[pass], sizeof(bad[0]), "cut %zu "
				    "in record %zu: rc %d after %" PRIu64
				    ": %.300s %.200s", cut, k + 1, o.rc, o.nok, o.err,
				    o.bad);
			if (k == NTRUNC - 1 && pass == 1)
				nlast++;
		}
		free(exact);
	}
	ok(bad[0][0] == '\0', "truncated: all %zu cuts of the stream, from "
	    "memory %s", blen + 1, bad[0]);
	ok(bad[1][0] == '\0' && nlast > 0, "truncated: %d cuts in the last "
	    "record and every 11th cut, from a file %s", nlast, bad[1]);
	close(fd);
	free(base);
}

/* Errors name the record and its offset. */
static void
test_known_errors(void)
{
	struct spec sp[6];
	struct rec_reader rd;
	struct rec r;
	unsigned char *base, *buf;
	char hdr[8192], want[256], *l;
	size_t blen, h, n, off3;
	int rc, i, dfd;

	base = small_stream(sp, 6, &blen);
	off3 = sp[2].off;
	buf = malloc(blen + 64);

	/* len=5 of record 3 becomes len=x */
	memcpy(buf, base, blen);
	l = memmem(buf + off3, sp[2].rawlen, " len=5\n", 7);
	l[5] = 'x';
	recr_init_mem(&rd, buf, blen, "known");
	for (i = 0; (rc = recr_next(&rd, &r)) == REC_OK; i++)
		;
	snprintf(want, sizeof(want), "known: record 3 at byte %zu: bad length "
	    "field", off3);
	ok(rc == REC_ERR && i == 2 && strcmp(rd.err, want) == 0,
	    "known: bad len of record 3: \"%s\" (want \"%s\")", rd.err, want);
	recr_free(&rd);

	/* len one too big, then one too small */
	for (n = 4; n <= 6; n += 2) {
		memcpy(buf, base, off3);
		h = encode_header(&sp[2], n, hdr);
		memcpy(buf + off3, hdr, h);
		memcpy(buf + off3 + h, "hello\n", 6);
		memcpy(buf + off3 + h + 6, base + sp[3].off, blen - sp[3].off);
		recr_init_mem(&rd, buf, off3 + h + 6 + blen - sp[3].off,
		    "known");
		for (i = 0; (rc = recr_next(&rd, &r)) == REC_OK; i++)
			;
		snprintf(want, sizeof(want), "known: record 3 at byte %zu: no "
		    "newline after the payload (wrong length field?)", off3);
		ok(rc == REC_ERR && i == 2 && strcmp(rd.err, want) == 0,
		    "known: len=%zu for 5 bytes in record 3: \"%s\"", n,
		    rd.err);
		recr_free(&rd);
	}

	/* garbage first, and garbage between records 2 and 3 */
	memcpy(buf, "GET / HTTP/1.1\r\n", 16);
	memcpy(buf + 16, base, blen);
	recr_init_mem(&rd, buf, blen + 16, "known");
	rc = recr_next(&rd, &r);
	ok(rc == REC_ERR && strcmp(rd.err, "known: record 1 at byte 0: not a "
	    "tcpmon record stream") == 0, "known: not a stream: \"%s\"",
	    rd.err);
	recr_free(&rd);
	memcpy(buf, base, off3);
	memcpy(buf + off3, "junk\n", 5);
	memcpy(buf + off3 + 5, base + off3, blen - off3);
	recr_init_mem(&rd, buf, blen + 5, "known");
	for (i = 0; (rc = recr_next(&rd, &r)) == REC_OK; i++)
		;
	snprintf(want, sizeof(want), "known: record 3 at byte %zu: no TCPMON/ "
	    "tag where a record should start", off3);
	ok(rc == REC_ERR && i == 2 && strcmp(rd.err, want) == 0,
	    "known: junk before record 3: \"%s\"", rd.err);
	recr_free(&rd);

	/* A read error: REC_ERR naming the stream and the error, sticky. */
	if ((dfd = open("/", O_RDONLY | O_DIRECTORY)) != -1) {
		recr_init(&rd, dfd, "dir");
		rc = recr_next(&rd, &r);
		ok(rc == REC_ERR && strncmp(rd.err, "dir: ", 5) == 0 &&
		    strstr(rd.err, strerror(EISDIR)) != NULL &&
		    recr_next(&rd, &r) == REC_ERR, "known: a read error: %s",
		    rd.err);
		recr_free(&rd);
		close(dfd);
	}

	recr_init_mem(&rd, NULL, 0, "empty");
	ok(recr_next(&rd, &r) == REC_END && rd.err[0] == '\0',
	    "known: an empty stream is REC_END");
	recr_free(&rd);
	free(buf);
	free(base);
}

/* ---- non-blocking reading ---- */

static int nidle;

static void
idle_flush(void *arg)
{
	nidle++;
	recw_flush(arg);
}

static void
test_again(void)
{
	static const char rec1[] = "TCPMON/1 data conn=9 dir=s2c len=5\nhello\n";
	static const char rec2[] = "TCPMON/1 note conn=0 len=0\n\n";
	struct rec_reader rd;
	struct rec_writer w;
	struct rec r;
	int p[2], rc1, rc2, rc3, rc;

	if (pipe2(p, O_NONBLOCK | O_CLOEXEC) == -1)
		exit(2);
	recr_init(&rd, p[0], "pipe");
	rc1 = recr_next(&rd, &r);
	if (write(p[1], rec1, 11) != 11)		/* "TCPMON/1 da" */
		exit(2);
	rc2 = recr_next(&rd, &r);
	if (write(p[1], rec1 + 11, 27) != 27)	/* to "hel" */
		exit(2);
	rc3 = recr_next(&rd, &r);
	ok(rc1 == REC_AGAIN && rc2 == REC_AGAIN && rc3 == REC_AGAIN &&
	    rd.err[0] == '\0' && rd.nrec == 0, "again: nothing, half a header, "
	    "half a payload: REC_AGAIN (%d %d %d)", rc1, rc2, rc3);
	if (write(p[1], rec1 + 38, sizeof(rec1) - 1 - 38) !=
	    (ssize_t)(sizeof(rec1) - 1 - 38))
		exit(2);
	rc = recr_next(&rd, &r);
	ok(rc == REC_OK && r.type == REC_DATA && r.conn == 9 &&
	    r.dir == REC_S2C && r.len == 5 && memcmp(r.data, "hello", 5) == 0 &&
	    rd.rawlen == sizeof(rec1) - 1 && memcmp(rd.raw, rec1, rd.rawlen) ==
	    0 && rd.nrec == 1, "again: the whole record once the rest comes");
	ok(recr_next(&rd, &r) == REC_AGAIN, "again: REC_AGAIN after it");

	/* rd.idle runs before a read: here it flushes the writer that
	 * feeds this very reader, which would otherwise wait forever. */
	recw_init(&w, p[1]);
	rd.idle = idle_flush;
	rd.idle_arg = &w;
	recw_put_raw(&w, rec2, sizeof(rec2) - 1);
	rc = recr_next(&rd, &r);
	ok(rc == REC_OK && r.type == REC_NOTE && w.len == 0 && nidle > 0,
	    "again: rd.idle runs before reading (rc %d, %d calls)", rc, nidle);
	rd.idle = NULL;
	recw_free(&w);
	close(p[1]);
	ok(recr_next(&rd, &r) == REC_END, "again: REC_END when the writer "
	    "closes");
	recr_free(&rd);
	close(p[0]);
}

/* ---- building records ---- */

static void
test_build(void)
{
	struct rec r, c, c2;
	char key[80], val[REC_MAX_HEADER];
	const char *why, *line;
	uint64_t v;
	int64_t now;
	int i, nok;

	now = tm_now_us();
	rec_init(&r, REC_DATA, 7);
	ok(r.type == REC_DATA && strcmp(r.kind, "data") == 0 && r.conn == 7 &&
	    r.src == NULL && r.dir == REC_NODIR && r.nfield == 0 &&
	    r.usec >= now && r.usec < now + 60000000,
	    "build: rec_init sets kind, conn and the time now");
	ok(rec_init_kind(&r, "x-ray_2", 1) == 0 && r.type == REC_UNKNOWN &&
	    strcmp(r.kind, "x-ray_2") == 0 && rec_init_kind(&r, "close", 1) ==
	    0 && r.type == REC_CLOSE, "build: rec_init_kind, known or not");
	ok(rec_init_kind(&r, "", 1) == -1 && rec_init_kind(&r, "Data", 1) ==
	    -1 && rec_init_kind(&r, "a b", 1) == -1 && rec_init_kind(&r,
	    "abcdefghijklmnopqrstuvwxyz012345", 1) == -1,
	    "build: rec_init_kind refuses bad kinds");
	ok(strcmp(rec_type_name(REC_SHUTDOWN), "shutdown") == 0 &&
	    strcmp(rec_type_name((enum rec_type)99), "unknown") == 0 &&
	    strcmp(rec_dir_name(REC_C2S), "c2s") == 0 &&
	    strcmp(rec_dir_name(REC_S2C), "s2c") == 0 &&
	    strcmp(rec_dir_name(REC_NODIR), "") == 0,
	    "build: rec_type_name, rec_dir_name");

	rec_init(&r, REC_OPEN, 1);
	ok(rec_set(&r, "a", "1") == 0 && rec_set(&r, "b", "2") == 0 &&
	    rec_set(&r, "c", "3") == 0 && r.nfield == 3 &&
	    strcmp(rec_get(&r, "a"), "1") == 0 &&
	    strcmp(rec_get(&r, "c"), "3") == 0 && rec_get(&r, "d") == NULL,
	    "build: rec_set, rec_get");
	ok(rec_set(&r, "a", "one") == 0 && r.nfield == 3 &&
	    strcmp(r.field[0].key, "a") == 0 &&
	    strcmp(rec_get(&r, "a"), "one") == 0,
	    "build: rec_set replaces in place");
	ok(rec_set(&r, "len", "1") == -1 && rec_set(&r, "conn", "1") == -1 &&
	    rec_set(&r, "src", "1") == -1 && rec_set(&r, "time", "1") == -1 &&
	    rec_set(&r, "dir", "1") == -1 && rec_set(&r, "", "1") == -1 &&
	    rec_set(&r, "a b", "1") == -1 && rec_set(&r, "a=b", "1") == -1 &&
	    rec_set(&r, "%41", "1") == -1 && r.nfield == 3,
	    "build: rec_set refuses core and bad keys");
	memset(key, 'k', 64);
	key[64] = '\0';
	ok(rec_set(&r, key, "1") == -1 && rec_set(&r, key + 1, "1") == 0,
	    "build: a key of 63 bytes is fine, 64 is not");
	ok(rec_del(&r, "b") == 0 && rec_get(&r, "b") == NULL && r.nfield == 3 &&
	    strcmp(r.field[0].key, "a") == 0 &&
	    strcmp(r.field[1].key, "c") == 0 && rec_del(&r, "b") == -1 &&
	    rec_del(&r, "zz") == -1, "build: rec_del keeps the order");
	ok(rec_setf(&r, "n", "%d-%s", 42, "x") == 0 &&
	    strcmp(rec_get(&r, "n"), "42-x") == 0, "build: rec_setf");
	rec_set(&r, "u", "18446744073709551615");
	rec_set(&r, "k", "1k");
	rec_set(&r, "bad", "12x");
	ok(rec_get_u64(&r, "u", &v) == 0 && v == UINT64_MAX &&
	    rec_get_u64(&r, "k", &v) == -1 && rec_get_u64(&r, "bad", &v) ==
	    -1 && rec_get_u64(&r, "none", &v) == -1 &&
	    rec_get_u64(&r, "n", &v) == -1, "build: rec_get_u64");

	rec_init(&r, REC_NOTE, 1);
	for (nok = 0, i = 0; i < REC_MAX_FIELDS + 1; i++) {
		snprintf(key, sizeof(key), "f%d", i);
		nok += rec_set(&r, key, "v") == 0;
	}
	ok(nok == REC_MAX_FIELDS && r.nfield == REC_MAX_FIELDS &&
	    rec_set(&r, "f3", "w") == 0, "build: %d fields fit, one more does "
	    "not, replacing still works", REC_MAX_FIELDS);
	rec_init(&r, REC_NOTE, 1);
	memset(val, 'v', sizeof(val) - 1);
	val[sizeof(val) - 1] = '\0';
	ok(rec_set(&r, "big", val) == -1 && rec_set_src(&r, val) == -1 &&
	    rec_set(&r, "small", "s") == 0, "build: a full store refuses, and "
	    "the record stays usable");

	/* rec_copy: the copy owns its strings. */
	line = "TCPMON/1 open conn=5 src=r%2041 len=0 client=1.2.3.4:5 x=%25\n";
	ok(rec_parse_header(line, strlen(line), &r, &why) == 0,
	    "build: a header to copy");
	rec_copy(&c, &r);
	line = "TCPMON/1 close conn=6 src=zzzzzzzzzz len=0 reason=eof "
	    "client=9.9.9.9:9\n";
	rec_parse_header(line, strlen(line), &r, &why);
	ok(c.type == REC_OPEN && strcmp(c.kind, "open") == 0 && c.conn == 5 &&
	    strcmp(c.src, "r 41") == 0 && c.nfield == 2 &&
	    strcmp(rec_get(&c, "client"), "1.2.3.4:5") == 0 &&
	    strcmp(rec_get(&c, "x"), "%") == 0,
	    "build: rec_copy survives the source being parsed over");
	memset(&r, 0xa5, sizeof(r));
	ok(strcmp(c.src, "r 41") == 0 && strcmp(c.field[1].val, "%") == 0 &&
	    c.kind >= c.store && c.kind < c.store + sizeof(c.store) &&
	    c.src >= c.store && c.src < c.store + sizeof(c.store),
	    "build: rec_copy survives the source being overwritten");
	rec_copy(&c2, &c);
	rec_set(&c, "client", "changed");
	rec_del(&c, "x");
	ok(strcmp(rec_get(&c2, "client"), "1.2.3.4:5") == 0 &&
	    strcmp(rec_get(&c2, "x"), "%") == 0 && c2.nfield == 2,
	    "build: a copy of a copy is independent of it");
	rec_init(&r, REC_DATA, 3);
	rec_copy(&c, &r);
	rec_set(&r, "late", "1");
	ok(strcmp(c.kind, "data") == 0 && c.nfield == 0 && rec_set(&c, "own",
	    "1") == 0 && rec_get(&r, "own") == NULL,
	    "build: rec_copy of a built record");
	rec_copy(&c, &c);
	ok(strcmp(c.kind, "data") == 0, "build: rec_copy onto itself");

	{
		char hb[REC_MAX_HEADER];
		size_t h;

		rec_init(&r, REC_DATA, 3);
		r.usec = -1;
		h = rec_header(&r, 5, hb, sizeof(hb));
		ok(h == strlen("TCPMON/1 data conn=3 len=5\n") && memcmp(hb,
		    "TCPMON/1 data conn=3 len=5\n", h) == 0 &&
		    rec_header(&r, 5, hb, 10) == 0,
		    "build: rec_header, and 0 when it does not fit");
	}
}

int
main(void)
{
	const char *s = getenv("TCPMON_SEED");
	uint64_t seed = s ? strtoull(s, NULL, 0) : 20261122;

	signal(SIGPIPE, SIG_IGN);
	alarm(120);	/* a hang is a failure, not a stuck suite */
	printf("# seed %" PRIu64 " (TCPMON_SEED to change)\n", seed);
	rng = seed;
	make_stream();
	test_roundtrip();
	test_max();
	test_pipe_pieces();
	test_headers();
	test_limits();
	test_corrupt();
	test_truncated();
	test_known_errors();
	test_again();
	test_build();
	free(expected);
	free(specs);
	free(pool);
	return t_done();
}
