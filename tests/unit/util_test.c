/* util_test.c - unit tests for common/util.c: checked numbers, durations,
 * the record time format.  TCPMON_SEED=N replays another seed. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util.h"
#include "t.h"

#define NTIME	20000	/* random times through tm_fmt_time/tm_parse_time */
#define MAXUSEC	253402300800000000LL	/* 10000-01-01T00:00:00Z */

static uint64_t rng;

static uint64_t
rnd(void)
{
	uint64_t z = (rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

struct ncase {
	const char	*s;
	uint64_t	 min, max;
	int		 rc;
	uint64_t	 want;		/* rc 0 */
	const char	*err;		/* rc -1 */
};

#define ALL	0, UINT64_MAX

static const struct ncase ncases[] = {
	{ "0", ALL, 0, 0, NULL },
	{ "7", ALL, 0, 7, NULL },
	{ "007", ALL, 0, 7, NULL },
	{ "18446744073709551615", ALL, 0, UINT64_MAX, NULL },
	{ "18446744073709551616", ALL, -1, 0, "too large" },
	{ "99999999999999999999999", ALL, -1, 0, "too large" },
	{ "1k", ALL, 0, 1024, NULL },
	{ "1K", ALL, 0, 1024, NULL },
	{ "2m", ALL, 0, 2097152, NULL },
	{ "2M", ALL, 0, 2097152, NULL },
	{ "3g", ALL, 0, 3221225472ULL, NULL },
	{ "0k", ALL, 0, 0, NULL },
	{ "17179869183g", ALL, 0, 18446744072635809792ULL, NULL },
	{ "17179869184g", ALL, -1, 0, "too large" },
	{ "18014398509481984k", ALL, -1, 0, "too large" },
	{ "", ALL, -1, 0, "invalid" },
	{ "-1", ALL, -1, 0, "invalid" },
	{ "+1", ALL, -1, 0, "invalid" },
	{ "1x", ALL, -1, 0, "invalid" },
	{ " 1", ALL, -1, 0, "invalid" },
	{ "1 ", ALL, -1, 0, "invalid" },
	{ "1kk", ALL, -1, 0, "invalid" },
	{ "1kb", ALL, -1, 0, "invalid" },
	{ "k", ALL, -1, 0, "invalid" },
	{ "0x10", ALL, -1, 0, "invalid" },
	{ "1.5", ALL, -1, 0, "invalid" },
	{ "1k", 0, 1023, -1, 0, "too large" },
	{ "1k", 0, 1024, 0, 1024, NULL },
	{ "65536", 0, 65535, -1, 0, "too large" },
	{ "5", 10, 20, -1, 0, "too small" },
	{ "10", 10, 10, 0, 10, NULL },
};

static void
test_num(void)
{
	const struct ncase *c;
	const char *e;
	uint64_t v;
	size_t i;
	int rc;

	for (i = 0; i < sizeof(ncases) / sizeof(ncases[0]); i++) {
		c = &ncases[i];
		v = 12345;
		e = "unset";
		rc = num_parse(c->s, c->min, c->max, &v, &e);
		if (c->rc == 0)
			ok(rc == 0 && v == c->want && e == NULL,
			    "num_parse \"%s\" [%" PRIu64 ", %" PRIu64 "] -> %"
			    PRIu64 " (got %d, %" PRIu64 ", %s)", c->s, c->min,
			    c->max, c->want, rc, v, e ? e : "NULL");
		else
			ok(rc == -1 && e != NULL && strcmp(e, c->err) == 0 &&
			    v == 12345, "num_parse \"%s\" [%" PRIu64 ", %"
			    PRIu64 "] -> %s (got %d, %s)", c->s, c->min,
			    c->max, c->err, rc, e ? e : "NULL");
	}
}

struct dcase {
	const char	*s;
	uint64_t	 max;
	int		 rc;
	uint64_t	 want;
};

static const struct dcase dcases[] = {
	{ "100ms", UINT64_MAX, 0, 100 },
	{ "5s", UINT64_MAX, 0, 5000 },
	{ "5", UINT64_MAX, 0, 5000 },
	{ "2m", UINT64_MAX, 0, 120000 },
	{ "1h", UINT64_MAX, 0, 3600000 },
	{ "0", UINT64_MAX, 0, 0 },
	{ "0ms", UINT64_MAX, 0, 0 },
	{ "1000ms", 1000, 0, 1000 },
	{ "1001ms", 1000, -1, 0 },
	{ "2s", 1000, -1, 0 },
	{ "18446744073709551615ms", UINT64_MAX, 0, UINT64_MAX },
	{ "18446744073709551616ms", UINT64_MAX, -1, 0 },
	{ "18446744073709551615s", UINT64_MAX, -1, 0 },
	{ "5124095576030h", UINT64_MAX, 0, 18446744073708000000ULL },
	{ "5124095576031h", UINT64_MAX, -1, 0 },
	{ "", UINT64_MAX, -1, 0 },
	{ "ms", UINT64_MAX, -1, 0 },
	{ "s", UINT64_MAX, -1, 0 },
	{ "1.5s", UINT64_MAX, -1, 0 },
	{ "-1s", UINT64_MAX, -1, 0 },
	{ "5x", UINT64_MAX, -1, 0 },
	{ "5 s", UINT64_MAX, -1, 0 },
	{ " 5s", UINT64_MAX, -1, 0 },
	{ "5sec", UINT64_MAX, -1, 0 },
	{ "5S", UINT64_MAX, -1, 0 },
	{ "1d", UINT64_MAX, -1, 0 },
	{ "5k", UINT64_MAX, -1, 0 },
	{ "5mss", UINT64_MAX, -1, 0 },
	{ "5hm", UINT64_MAX, -1, 0 },
};

static void
test_dur(void)
{
	const struct dcase *c;
	const char *e;
	uint64_t v;
	size_t i;
	int rc;

	for (i = 0; i < sizeof(dcases) / sizeof(dcases[0]); i++) {
		c = &dcases[i];
		v = 12345;
		e = NULL;
		rc = dur_parse(c->s, c->max, &v, &e);
		if (c->rc == 0)
			ok(rc == 0 && v == c->want, "dur_parse \"%s\" -> %"
			    PRIu64 " ms (got %d, %" PRIu64 ")", c->s, c->want,
			    rc, v);
		else
			ok(rc == -1 && e != NULL && v == 12345, "dur_parse "
			    "\"%s\" (max %" PRIu64 ") fails (got %d, %s)", c->s,
			    c->max, rc, e ? e : "no errstr");
	}
}

struct tcase {
	int64_t		 usec;
	const char	*text;
};

static const struct tcase tcases[] = {
	{ 0, "1970-01-01T00:00:00.000000Z" },
	{ 1, "1970-01-01T00:00:00.000001Z" },
	{ 1795341600123456LL, "2026-11-22T10:00:00.123456Z" },
	{ 951782400000000LL, "2000-02-29T00:00:00.000000Z" },
	{ 1709251199999999LL, "2024-02-29T23:59:59.999999Z" },
	{ 4107542400000000LL, "2100-03-01T00:00:00.000000Z" },
	{ MAXUSEC - 1, "9999-12-31T23:59:59.999999Z" },
};

static const char *const bad_times[] = {
	"",
	"2026-11-22",
	"2026-11-22T10:00:00",
	"2026-11-22T10:00:00.123456",
	"2026-11-22T10:00:00z",
	"2026-11-22T10:00:00Z ",
	" 2026-11-22T10:00:00Z",
	"2026-11-22 10:00:00Z",
	"2026-11-22t10:00:00Z",
	"2026-11-22T10:00:00.Z",
	"2026-11-22T10:00:00.1234567Z",
	"2026-11-22T10:00:00.12a456Z",
	"2026-11-22T10:00:00,5Z",
	"2026-11-22T10:00:00+00:00",
	"2026-11-22T10:00:00.5+01:00",
	"2026-13-01T00:00:00Z",
	"2026-00-01T00:00:00Z",
	"2026-11-00T00:00:00Z",
	"2026-11-31T00:00:00Z",
	"2026-02-29T00:00:00Z",
	"2100-02-29T00:00:00Z",
	"2026-02-30T00:00:00Z",
	"2026-11-22T24:00:00Z",
	"2026-11-22T10:60:00Z",
	"2026-11-22T10:00:60Z",
	"2026-1-2T3:4:5Z",
	"2026-11-22T1:00:00Z",
	"+2026-11-22T10:00:00Z",
	"-2026-11-22T10:00:00Z",
	"10000-01-01T00:00:00Z",
	"yesterday",
};

/* n fraction digits of a formatted time, as a writer with less precision
 * would send them: "...:00.12Z" (n = 2), "...:00Z" (n = 0). */
static void
cut_fraction(const char *full, int n, char *out)
{
	memcpy(out, full, 19);
	if (n == 0)
		strcpy(out + 19, "Z");
	else {
		memcpy(out + 19, full + 19, (size_t)n + 1);
		strcpy(out + 20 + n, "Z");
	}
}

static void
test_time(void)
{
	static const int64_t pow10[] = { 1000000, 100000, 10000, 1000, 100,
	    10, 1 };
	char buf[TM_TIME_LEN], cut[TM_TIME_LEN], bad[256] = "";
	int64_t u, got, want;
	size_t i;
	int n, rc;

	for (i = 0; i < sizeof(tcases) / sizeof(tcases[0]); i++) {
		tm_fmt_time(tcases[i].usec, buf, sizeof(buf));
		got = -7;
		rc = tm_parse_time(tcases[i].text, &got);
		ok(strcmp(buf, tcases[i].text) == 0 && rc == 0 &&
		    got == tcases[i].usec, "time %" PRId64 " <-> %s (got %s, "
		    "%" PRId64 ")", tcases[i].usec, tcases[i].text, buf, got);
	}

	for (i = 0; i < NTIME && bad[0] == '\0'; i++) {
		/* All of 1970..9999, and often the last few years. */
		u = (int64_t)(rnd() % (i % 2 ? (uint64_t)MAXUSEC :
		    2000000000000000ULL));
		if (i % 5 == 0)		/* whole seconds */
			u -= u % 1000000;
		tm_fmt_time(u, buf, sizeof(buf));
		if (strlen(buf) != 27 || buf[4] != '-' || buf[10] != 'T' ||
		    buf[19] != '.' || buf[26] != 'Z') {
			snprintf(bad, sizeof(bad), "%" PRId64 " formats as %s",
			    u, buf);
			break;
		}
		if (tm_parse_time(buf, &got) != 0 || got != u) {
			snprintf(bad, sizeof(bad), "%" PRId64 " -> %s -> %"
			    PRId64, u, buf, got);
			break;
		}
		n = (int)(rnd() % 7);
		cut_fraction(buf, n, cut);
		want = u - u % pow10[n];
		if (tm_parse_time(cut, &got) != 0 || got != want)
			snprintf(bad, sizeof(bad), "%s (%d digits) -> %" PRId64
			    ", want %" PRId64, cut, n, got, want);
	}
	ok(bad[0] == '\0', "time: %d random times round-trip, also with 0 to "
	    "6 fraction digits %s", NTIME, bad);

	for (i = 0; i < sizeof(bad_times) / sizeof(bad_times[0]); i++) {
		got = -7;
		rc = tm_parse_time(bad_times[i], &got);
		ok(rc == -1 && got == -7, "time bad: \"%s\" (got %d, %" PRId64
		    ")", bad_times[i], rc, got);
	}

	memset(buf, '#', sizeof(buf));
	tm_fmt_time(1795341600123456LL, buf, 8);
	ok(strcmp(buf, "2026-11") == 0 && buf[8] == '#',
	    "time: tm_fmt_time stays within a short buffer");
	tm_fmt_time(-1, buf, sizeof(buf));
	ok(strcmp(buf, "1969-12-31T23:59:59.999999Z") == 0,
	    "time: tm_fmt_time before the epoch: %s", buf);
}

static void
test_misc(void)
{
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	unsigned char *big;
	struct stat st;
	int64_t now, m1, m2;
	int fd;

	now = tm_now_us();
	ok(now > 1577836800000000LL && now < MAXUSEC, "tm_now_us: %" PRId64,
	    now);
	m1 = tm_mono_ms();
	nanosleep(&ts, NULL);
	m2 = tm_mono_ms();
	ok(m2 - m1 >= 19 && m2 - m1 < 10000, "tm_mono_ms: +%" PRId64 " ms "
	    "over a 20 ms sleep", m2 - m1);

	{
		char a0[] = "./bin/tcpmon-x", *av[] = { a0, NULL };

		tm_setprogname(av, "tcpmon-test");
		ok(strcmp(program_invocation_short_name, "tcpmon-test") == 0 &&
		    strcmp(av[0], "tcpmon-test") == 0,
		    "tm_setprogname names the program for err(3) and getopt");
	}

	big = calloc(1, 3 << 20);
	if ((fd = memfd_create("util_test", MFD_CLOEXEC)) == -1)
		fd = open("/dev/null", O_WRONLY);
	ok(write_all(fd, big, 3 << 20) == 0 && fstat(fd, &st) == 0 &&
	    (st.st_size == 3 << 20 || S_ISCHR(st.st_mode)),
	    "write_all: 3 MiB");
	close(fd);
	errno = 0;
	ok(write_all(fd, big, 10) == -1 && errno == EBADF,
	    "write_all: -1 on a bad fd");
	ok(write_all(-1, big, 0) == 0, "write_all: nothing to write");
	free(big);
}

/* RFC 4648 section 10's vectors, and a proxy credential. */
static void
test_b64(void)
{
	static const char *in[] = { "", "f", "fo", "foo", "foob", "fooba",
	    "foobar", "Aladdin:open sesame" };
	static const char *want[] = { "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==",
	    "Zm9vYmE=", "Zm9vYmFy", "QWxhZGRpbjpvcGVuIHNlc2FtZQ==" };
	char out[64];
	size_t i, n;

	for (i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		n = b64_encode(in[i], strlen(in[i]), out);
		ok(n == strlen(want[i]) && strcmp(out, want[i]) == 0,
		    "b64_encode \"%s\": %s", in[i], out);
	}
}

int
main(void)
{
	const char *s = getenv("TCPMON_SEED");
	uint64_t seed = s ? strtoull(s, NULL, 0) : 20261122;

	alarm(60);
	printf("# seed %" PRIu64 " (TCPMON_SEED to change)\n", seed);
	rng = seed;
	test_num();
	test_dur();
	test_time();
	test_misc();
	test_b64();
	return t_done();
}
