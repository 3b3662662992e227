/* jsonfmt.c - a JSON re-indenter: a strict RFC 8259 scanner that copies
 * every token as it is and only chooses the white space between them, so
 * number text, escapes, key order and duplicate keys survive exactly (a
 * library that builds a tree would convert numbers and merge keys). */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "jsonfmt.h"

int
jsonfmt_media(const char *ct)
{
	return fmt_media(ct, "application/json") ||
	    fmt_media(ct, "text/json") || fmt_media(ct, "+json");
}

struct scan {
	const unsigned char *p, *end;
	long		 line;
	struct fmt_buf	*out;
	const struct fmt_opts *o;
	struct fmt_err	*err;
	char		 stack[JSONFMT_MAX_DEPTH];	/* '{' or '[' */
	int		 depth;
	int		 full;		/* the output hit its cap */
};

static int
fail(struct scan *s, const char *what)
{
	if (s->full)
		what = "formatted document over the size limit";
	snprintf(s->err->msg, sizeof(s->err->msg), "%s", what);
	s->err->line = s->line;
	return -1;
}

static void
skip_ws(struct scan *s)
{
	for (; s->p < s->end && FMT_IS_WS(*s->p); s->p++)
		if (*s->p == '\n')
			s->line++;
}

static int
put(struct scan *s, const void *p, size_t n)
{
	if (fmt_buf_add(s->out, p, n) == -1) {
		s->full = 1;
		return -1;
	}
	return 0;
}

/* A new line and the indentation of the current depth. */
static int
newline(struct scan *s)
{
	int i;

	if (s->o->compact)
		return 0;
	if (fmt_buf_addc(s->out, '\n') == -1)
		return s->full = 1, -1;
	for (i = 0; i < s->depth * s->o->indent; i++)
		if (fmt_buf_addc(s->out, ' ') == -1)
			return s->full = 1, -1;
	return 0;
}

static int
is_hex(int c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
	    (c >= 'A' && c <= 'F');
}

static int
string(struct scan *s)
{
	const unsigned char *b = s->p++;
	int i;

	for (;;) {
		if (s->p >= s->end)
			return fail(s, "unterminated string");
		if (*s->p == '"')
			break;
		if (*s->p < 0x20)
			return fail(s, "control character in a string");
		if (*s->p == '\\') {
			if (++s->p >= s->end)
				return fail(s, "unterminated string");
			if (*s->p == 'u') {
				for (i = 1; i <= 4; i++)
					if (s->p + i >= s->end ||
					    !is_hex(s->p[i]))
						return fail(s, "bad \\u escape");
				s->p += 4;
			} else if (strchr("\"\\/bfnrt", *s->p) == NULL ||
			    *s->p == '\0')
				return fail(s, "bad escape in a string");
		}
		s->p++;
	}
	s->p++;
	return put(s, b, (size_t)(s->p - b)) == -1 ? fail(s, "") : 0;
}

static int
digits(struct scan *s)
{
	const unsigned char *b = s->p;

	while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
		s->p++;
	return s->p > b;
}

static int
number(struct scan *s)
{
	const unsigned char *b = s->p;

	if (*s->p == '-')
		s->p++;
	if (s->p < s->end && *s->p == '0')
		s->p++;
	else if (!digits(s))
		return fail(s, "bad number");
	if (s->p < s->end && *s->p == '.') {
		s->p++;
		if (!digits(s))
			return fail(s, "bad number");
	}
	if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
		s->p++;
		if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
			s->p++;
		if (!digits(s))
			return fail(s, "bad number");
	}
	return put(s, b, (size_t)(s->p - b)) == -1 ? fail(s, "") : 0;
}

static int
literal(struct scan *s)
{
	static const char *const lits[] = { "true", "false", "null" };
	size_t i, n;

	for (i = 0; i < 3; i++) {
		n = strlen(lits[i]);
		if ((size_t)(s->end - s->p) >= n &&
		    memcmp(s->p, lits[i], n) == 0) {
			s->p += n;
			return put(s, lits[i], n) == -1 ? fail(s, "") : 0;
		}
	}
	return fail(s, "unexpected character");
}

/* One scalar, or the opening of a container (pushed). */
static int
value(struct scan *s, int *opened)
{
	*opened = 0;
	skip_ws(s);
	if (s->p >= s->end)
		return fail(s, "unexpected end of data");
	switch (*s->p) {
	case '{':
	case '[':
		if (s->depth == JSONFMT_MAX_DEPTH)
			return fail(s, "nested too deeply");
		if (fmt_buf_addc(s->out, *s->p) == -1)
			return s->full = 1, fail(s, "");
		s->stack[s->depth++] = (char)*s->p++;
		*opened = 1;
		return 0;
	case '"':
		return string(s);
	case '-':
	case '0': case '1': case '2': case '3': case '4':
	case '5': case '6': case '7': case '8': case '9':
		return number(s);
	default:
		return literal(s);
	}
}

/* After '{' or ',' in an object: "key": */
static int
key(struct scan *s)
{
	skip_ws(s);
	if (s->p >= s->end || *s->p != '"')
		return fail(s, "expected a string key");
	if (string(s) == -1)
		return -1;
	skip_ws(s);
	if (s->p >= s->end || *s->p != ':')
		return fail(s, "expected ':' after a key");
	s->p++;
	if (put(s, s->o->compact ? ":" : ": ", s->o->compact ? 1 : 2) == -1)
		return fail(s, "");
	return 0;
}

/* Right after a container opened: its first member, or its end. */
static int
first(struct scan *s)
{
	char close = s->stack[s->depth - 1] == '{' ? '}' : ']';

	skip_ws(s);
	if (s->p < s->end && *s->p == close) {
		s->p++;
		s->depth--;
		if (fmt_buf_addc(s->out, close) == -1)
			return s->full = 1, fail(s, "");
		return 0;
	}
	if (newline(s) == -1)
		return fail(s, "");
	if (close == '}')
		return key(s) == -1 ? -1 : 1;
	return 1;
}

int
jsonfmt_format(const unsigned char *in, size_t n, const struct fmt_opts *o,
    struct fmt_buf *out, struct fmt_err *err)
{
	struct scan *s, sc;
	int opened, rc;
	char close;

	memset(err, 0, sizeof(*err));
	s = &sc;
	s->p = in;
	s->end = in + n;
	s->line = 1;
	s->out = out;
	s->o = o;
	s->err = err;
	s->depth = 0;
	s->full = 0;
	/* A byte-order mark is not JSON, but it is kept, as received. */
	if (n >= 3 && memcmp(in, "\xef\xbb\xbf", 3) == 0) {
		if (put(s, in, 3) == -1)
			return fail(s, "");
		s->p += 3;
	}
	if (value(s, &opened) == -1)
		return -1;
	for (;;) {
		if (opened) {
			if ((rc = first(s)) == -1)
				return -1;
			if (rc == 1) {
				/* A member: its value. */
				if (value(s, &opened) == -1)
					return -1;
				continue;
			}
		}
		if (s->depth == 0)
			break;
		/* After a value inside a container: ',' or its end. */
		close = s->stack[s->depth - 1] == '{' ? '}' : ']';
		skip_ws(s);
		if (s->p >= s->end)
			return fail(s, "unexpected end of data");
		if (*s->p == ',') {
			s->p++;
			if (fmt_buf_addc(out, ',') == -1 || newline(s) == -1)
				return s->full = 1, fail(s, "");
			if (close == '}' && key(s) == -1)
				return -1;
			if (value(s, &opened) == -1)
				return -1;
		} else if (*s->p == close) {
			s->p++;
			s->depth--;
			if (newline(s) == -1 ||
			    fmt_buf_addc(out, close) == -1)
				return s->full = 1, fail(s, "");
			opened = 0;
		} else
			return fail(s, close == '}' ?
			    "expected ',' or '}'" : "expected ',' or ']'");
	}
	skip_ws(s);
	if (s->p != s->end)
		return fail(s, "data after the JSON text");
	if (fmt_buf_addc(out, '\n') == -1)
		return s->full = 1, fail(s, "");
	return 0;
}

enum { J_BOM, J_START, J_IN, J_STR, J_ESC };

void
jsonfmt_frame_init(struct fmt_frame *f)
{
	memset(f, 0, sizeof(*f));
	f->state = J_BOM;
}

size_t
jsonfmt_frame(struct fmt_frame *f, const unsigned char *p, size_t n)
{
	size_t i;
	int c, rc;

	for (i = 0; i < n && !f->done && !f->bad; i++) {
		c = p[i];
		switch (f->state) {
		case J_BOM:
			if ((rc = fmt_frame_bom(f, c)) == 1)
				break;
			if (rc == -1) {
				f->bad = 1;
				break;
			}
			/* FALLTHROUGH */
		case J_START:
			if (c != '{' && c != '[') {
				f->bad = 1;
				break;
			}
			f->depth = 1;
			f->state = J_IN;
			break;
		case J_IN:
			if (c == '"')
				f->state = J_STR;
			else if (c == '{' || c == '[')
				f->depth++;
			else if ((c == '}' || c == ']') && --f->depth == 0)
				f->done = 1;
			break;
		case J_STR:
			if (c == '\\')
				f->state = J_ESC;
			else if (c == '"')
				f->state = J_IN;
			break;
		case J_ESC:
			f->state = J_STR;
			break;
		}
	}
	return i;
}
