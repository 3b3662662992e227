/* fuzz_safe.c - common/safe.c: whatever the bytes and however they are cut
 * into pieces, the output holds nothing a terminal obeys (no C0 but tab and
 * LF in text, no DEL, no C1 in either form, only well-formed UTF-8), and
 * text cut anywhere gives what it gives whole.  The first byte picks the
 * flags and the cut. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "safe.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check(const unsigned char *p, size_t n, int text)
{
	size_t i = 0, k, need;
	uint32_t cp;

	while (i < n) {
		if (p[i] < 0x80) {
			if ((p[i] < 0x20 && !(text && (p[i] == '\t' ||
			    p[i] == '\n'))) || p[i] == 0x7f)
				abort();
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
			abort();
		for (k = 1; k <= need; k++) {
			if (i + k >= n || (p[i + k] & 0xc0) != 0x80)
				abort();
			cp = cp << 6 | (p[i + k] & 0x3f);
		}
		if (cp < 0xa0 || (need == 2 && cp < 0x800) ||
		    (cp >= 0xd800 && cp <= 0xdfff) || (need == 3 &&
		    (cp < 0x10000 || cp > 0x10ffff)))
			abort();
		i += need + 1;
	}
}

static size_t
render(const uint8_t *p, size_t n, int flags, size_t cut, char *out)
{
	struct safe s;
	size_t k;

	safe_init(&s, flags);
	k = safe_feed(&s, p, cut, out);
	k += safe_feed(&s, p + cut, n - cut, out + k);
	return k + safe_end(&s, out + k);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char a[SAFE_ROOM(65536)], b[SAFE_ROOM(65536)];
	char str[256];
	size_t na, nb, cut;
	int flags;

	if (size == 0 || size > 65536)
		return 0;
	flags = data[0] & 3;
	if (flags == SAFE_CRLF)
		flags = 0;		/* SAFE_CRLF goes with SAFE_TEXT */
	data++;
	size--;
	cut = size > 0 ? data[0] % (size + 1) : 0;
	na = render(data, size, flags, 0, a);
	nb = render(data, size, flags, cut, b);
	check((unsigned char *)a, na, flags & SAFE_TEXT);
	if (na != nb || memcmp(a, b, na) != 0)
		abort();
	safe_mem(data, size, str, sizeof(str));
	check((unsigned char *)str, strlen(str), 0);
	return 0;
}
