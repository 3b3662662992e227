/* safe_test.c - unit tests for common/safe.c: what may reach a terminal.
 * Every output is checked to hold no C0 control but tab and LF (in text),
 * no DEL, no C1 in either form and only well-formed UTF-8; cut points are
 * tried everywhere, and random bytes in random pieces. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "safe.h"
#include "t.h"

/* Whether out is fit for a terminal: see safe.h. */
static int
clean(const char *o, size_t n, int text)
{
	const unsigned char *p = (const unsigned char *)o;
	size_t i = 0, k, need;
	uint32_t cp;

	while (i < n) {
		if (p[i] < 0x80) {
			if ((p[i] < 0x20 && !(text && (p[i] == '\t' ||
			    p[i] == '\n'))) || p[i] == 0x7f)
				return 0;
			i++;
			continue;
		}
		if (p[i] >= 0xc2 && p[i] <= 0xdf)
			need = 1, cp = p[i] & 0x1f;
		else if (p[i] >= 0xe0 && p[i] <= 0xef)
			need = 2, cp = p[i] & 0x0f;
		else if (p[i] >= 0xf0 && p[i] <= 0xf4)
			need = 3, cp = p[i] & 0x07;
		else
			return 0;
		for (k = 1; k <= need; k++) {
			if (i + k >= n || (p[i + k] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (p[i + k] & 0x3f);
		}
		if (cp < 0xa0 || (need == 2 && cp < 0x800) ||
		    (cp >= 0xd800 && cp <= 0xdfff) || (need == 3 &&
		    (cp < 0x10000 || cp > 0x10ffff)))
			return 0;
		i += need + 1;
	}
	return 1;
}

/* in fed whole, with flags; the result in a static buffer. */
static const char *
run(const char *in, size_t n, int flags, size_t *outn)
{
	static char out[SAFE_ROOM(256)];
	struct safe s;
	size_t k;

	safe_init(&s, flags);
	k = safe_feed(&s, in, n, out);
	k += safe_end(&s, out + k);
	out[k] = '\0';
	*outn = k;
	return out;
}

struct scase {
	const char	*in;
	const char	*text;		/* SAFE_TEXT */
	const char	*esc;		/* \xNN */
};

static const struct scase cases[] = {
	{ "plain text", "plain text", "plain text" },
	{ "a\tb\nc", "a\tb\nc", "a\\x09b\\x0ac" },
	{ "\033]52;c;aGk=\007", ".]52;c;aGk=.", "\\x1b]52;c;aGk=\\x07" },
	{ "\033]0;owned\033\\", ".]0;owned.\\", "\\x1b]0;owned\\x1b\\" },
	{ "\033[2J\033[31mred", ".[2J.[31mred", "\\x1b[2J\\x1b[31mred" },
	{ "x\302\233" "31mC1", "x.31mC1", "x\\xc2\\x9b31mC1" },	/* CSI */
	{ "\302\235" "0;t\302\234", ".0;t.", "\\xc2\\x9d0;t\\xc2\\x9c" },
	{ "raw \233 and \205", "raw . and .", "raw \\x9b and \\x85" },
	{ "del\177", "del.", "del\\x7f" },
	{ "caf\303\251 \342\202\254 \360\237\231\202", "caf\303\251 \342\202\254 "
	    "\360\237\231\202", "caf\303\251 \342\202\254 \360\237\231\202" },
	{ "nbsp\302\240", "nbsp\302\240", "nbsp\302\240" },
	{ "overlong \300\233 \340\202\233", "overlong .. ...",
	    "overlong \\xc0\\x9b \\xe0\\x82\\x9b" },
	{ "surrogate \355\240\200", "surrogate ...",
	    "surrogate \\xed\\xa0\\x80" },
	{ "cut \342\202", "cut ..", "cut \\xe2\\x82" },
	{ "cr\r", "cr.", "cr\\x0d" },
};

static void
test_cases(void)
{
	size_t i, n;
	const char *o;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		o = run(cases[i].in, strlen(cases[i].in), SAFE_TEXT, &n);
		ok(strcmp(o, cases[i].text) == 0 && clean(o, n, 1),
		    "text %zu", i);
		o = run(cases[i].in, strlen(cases[i].in), 0, &n);
		ok(strcmp(o, cases[i].esc) == 0 && clean(o, n, 0),
		    "escaped %zu", i);
	}
}

/* Every case cut in two at every point gives what it gives whole. */
static void
test_cuts(void)
{
	char out[SAFE_ROOM(256)], whole[SAFE_ROOM(256)];
	const char *o;
	struct safe s;
	size_t i, c, n, k, wn;
	int bad = 0;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		n = strlen(cases[i].in);
		o = run(cases[i].in, n, SAFE_TEXT, &wn);
		memcpy(whole, o, wn);
		for (c = 0; c <= n; c++) {
			safe_init(&s, SAFE_TEXT);
			k = safe_feed(&s, cases[i].in, c, out);
			k += safe_feed(&s, cases[i].in + c, n - c, out + k);
			k += safe_end(&s, out + k);
			if (k != wn || memcmp(out, whole, k) != 0)
				bad++;
		}
	}
	ok(bad == 0, "a character cut between pieces is shown as if whole "
	    "(%d differ)", bad);
}

static void
test_random(void)
{
	unsigned char in[256];
	char out[SAFE_ROOM(256) * 2];
	struct safe s;
	size_t n, k, at, take;
	int i, j, bad = 0;

	srand(7);
	for (i = 0; i < 20000; i++) {
		n = (size_t)rand() % sizeof(in);
		for (j = 0; j < (int)n; j++)	/* biased to the hard bytes */
			in[j] = (unsigned char)(rand() % 3 == 0 ? rand() :
			    "\033\302\233\340\355\360\364\200\237\240\277a\n"
			    [rand() % 13]);
		safe_init(&s, i & 1 ? SAFE_TEXT | (i & 2 ? SAFE_CRLF : 0) : 0);
		for (at = 0, k = 0; at < n; at += take) {
			take = 1 + (size_t)rand() % (n - at);
			k += safe_feed(&s, in + at, take, out + k);
		}
		k += safe_end(&s, out + k);
		if (!clean(out, k, i & 1))
			bad++;
	}
	ok(bad == 0, "20000 random inputs in random pieces come out clean "
	    "(%d did not)", bad);
}

static void
test_crlf(void)
{
	static const char in[] = "a\r\nb\rc\r";
	char out[SAFE_ROOM(sizeof(in))];
	struct safe s;
	size_t c, k;
	int bad = 0;

	for (c = 0; c < sizeof(in); c++) {
		safe_init(&s, SAFE_TEXT | SAFE_CRLF);
		k = safe_feed(&s, in, c, out);
		k += safe_feed(&s, in + c, sizeof(in) - 1 - c, out + k);
		k += safe_end(&s, out + k);
		if (k != 6 || memcmp(out, "a\nb.c.", 6) != 0)
			bad++;
	}
	ok(bad == 0, "SAFE_CRLF: CR LF is LF, a lone CR a dot, wherever "
	    "the text is cut (%d differ)", bad);
}

static void
test_str(void)
{
	char out[16];

	ok(strcmp(safe_str("a\033[31mb", out, sizeof(out)),
	    "a\\x1b[31mb") == 0, "safe_str escapes: %s", out);
	ok(strcmp(safe_str("0123456789\342\202\254\342\202\254", out,
	    sizeof(out)), "0123456789\342\202\254") == 0,
	    "safe_str cuts where a character begins: %s", out);
	ok(strcmp(safe_str("\033\033\033\033", out, sizeof(out)),
	    "\\x1b\\x1b\\x1b") == 0 || strlen(out) < sizeof(out),
	    "safe_str stays within its room: %s", out);
	ok(strcmp(safe_str("", out, sizeof(out)), "") == 0, "empty string");
}

int
main(void)
{
	test_cases();
	test_cuts();
	test_random();
	test_crlf();
	test_str();
	return t_done();
}
