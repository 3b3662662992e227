/* safe.c - text for a terminal, whatever its bytes: a byte passes only as
 * printable ASCII or as part of a well-formed UTF-8 character that is not
 * a C1 control (U+0080 to U+009F, which a terminal takes as ESC and a
 * letter).  Overlong forms and surrogates are not well-formed, so no other
 * spelling of a control gets through either. */
#include <string.h>

#include "safe.h"

void
safe_init(struct safe *s, int flags)
{
	memset(s, 0, sizeof(*s));
	s->flags = flags;
}

/* The UTF-8 character at b: 1 to 4 (its length), 0 not well-formed, -1
 * well-formed as far as the n bytes go but cut. */
static int
seq(const unsigned char *b, size_t n)
{
	int need, i;
	unsigned char lo = 0x80, hi = 0xbf;

	if (b[0] < 0x80)
		return 1;
	if (b[0] >= 0xc2 && b[0] <= 0xdf)
		need = 2;
	else if (b[0] >= 0xe0 && b[0] <= 0xef)
		need = 3;
	else if (b[0] >= 0xf0 && b[0] <= 0xf4)
		need = 4;
	else
		return 0;
	if (b[0] == 0xe0)
		lo = 0xa0;
	else if (b[0] == 0xed)
		hi = 0x9f;
	else if (b[0] == 0xf0)
		lo = 0x90;
	else if (b[0] == 0xf4)
		hi = 0x8f;
	for (i = 1; i < need; i++) {
		if ((size_t)i >= n)
			return -1;
		if (b[i] < lo || b[i] > hi)
			return 0;
		lo = 0x80;
		hi = 0xbf;
	}
	return need;
}

static size_t
bad(const struct safe *s, const unsigned char *b, size_t n, char *o)
{
	static const char hx[] = "0123456789abcdef";
	size_t i, k = 0;

	if (s->flags & SAFE_TEXT) {
		o[0] = '.';
		return 1;
	}
	for (i = 0; i < n; i++) {
		o[k++] = '\\';
		o[k++] = 'x';
		o[k++] = hx[b[i] >> 4];
		o[k++] = hx[b[i] & 15];
	}
	return k;
}

/* One character (or one byte that is none) at b, rendered into o. */
static size_t
one(const struct safe *s, const unsigned char *b, int len, char *o)
{
	if (len == 1) {
		if ((b[0] >= 0x20 && b[0] < 0x7f) || ((s->flags & SAFE_TEXT) &&
		    (b[0] == '\t' || b[0] == '\n'))) {
			o[0] = (char)b[0];
			return 1;
		}
		return bad(s, b, 1, o);
	}
	if (b[0] == 0xc2 && b[1] < 0xa0)	/* C1 */
		return bad(s, b, 2, o);
	memcpy(o, b, (size_t)len);
	return (size_t)len;
}

size_t
safe_feed(struct safe *s, const void *v, size_t n, char *out)
{
	const unsigned char *p = v;
	unsigned char t[8];
	size_t i = 0, k = 0, j, take;
	int len;

	if (s->ncut > 0 && s->cut[0] == '\r') {
		/* A CR at the end of the last piece (SAFE_CRLF). */
		if (n == 0)
			return 0;
		if (p[0] == '\n') {
			out[k++] = '\n';
			i = 1;
		} else
			k += bad(s, s->cut, 1, out);
		s->ncut = 0;
	} else if (s->ncut > 0) {
		/* The cut character with what follows it. */
		take = n < sizeof(t) - s->ncut ? n : sizeof(t) - s->ncut;
		memcpy(t, s->cut, s->ncut);
		memcpy(t + s->ncut, p, take);
		len = seq(t, s->ncut + take);
		if (len == -1) {
			memcpy(s->cut + s->ncut, p, n);	/* n < 4 - ncut */
			s->ncut += n;
			return 0;
		}
		if (len > 0) {
			k = one(s, t, len, out);
			i = (size_t)len - s->ncut;
		} else
			for (j = 0; j < s->ncut; j++)
				k += bad(s, s->cut + j, 1, out + k);
		s->ncut = 0;
	}
	while (i < n) {
		/* Printable ASCII, the usual case, in runs. */
		for (j = i; j < n && p[j] >= 0x20 && p[j] < 0x7f; j++)
			;
		if (j > i) {
			memcpy(out + k, p + i, j - i);
			k += j - i;
			i = j;
			continue;
		}
		if (p[i] == '\r' && (s->flags & SAFE_CRLF)) {
			if (i + 1 == n) {
				s->cut[0] = '\r';
				s->ncut = 1;
				break;
			}
			if (p[i + 1] == '\n') {
				out[k++] = '\n';
				i += 2;
				continue;
			}
		}
		if ((len = seq(p + i, n - i)) == -1) {
			memcpy(s->cut, p + i, n - i);
			s->ncut = n - i;
			break;
		}
		if (len == 0) {
			k += bad(s, p + i, 1, out + k);
			i++;
		} else {
			k += one(s, p + i, len, out + k);
			i += (size_t)len;
		}
	}
	return k;
}

size_t
safe_end(struct safe *s, char *out)
{
	size_t j, k = 0;

	for (j = 0; j < s->ncut; j++)
		k += bad(s, s->cut + j, 1, out + k);
	s->ncut = 0;
	return k;
}

char *
safe_mem(const void *v, size_t n, char *out, size_t outlen)
{
	const unsigned char *p = v;
	struct safe s;
	char buf[SAFE_ROOM(64)];
	size_t i = 0, k, o = 0, take;

	if (outlen == 0)
		return out;
	safe_init(&s, 0);
	do {
		take = n - i < 64 ? n - i : 64;
		k = safe_feed(&s, p + i, take, buf);
		i += take;
		if (i == n)
			k += safe_end(&s, buf + k);
		if (k > outlen - 1 - o) {
			/* Cut where a character begins. */
			k = outlen - 1 - o;
			while (k > 0 && ((unsigned char)buf[k] & 0xc0) == 0x80)
				k--;
			i = n;
		}
		memcpy(out + o, buf, k);
		o += k;
	} while (i < n);
	out[o] = '\0';
	return out;
}

char *
safe_str(const char *str, char *out, size_t outlen)
{
	return safe_mem(str, strlen(str), out, outlen);
}
