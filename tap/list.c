/* list.c - tcpmon-tap --list, TCPMon's connection table as text, and
 * --json, the records as JSON Lines for jq and log pipelines. */
#include <err.h>
#include <stdlib.h>
#include <string.h>

#include "list.h"
#include "safe.h"
#include "util.h"

#define FIRST_MAX	60	/* characters of the first request line */

struct lconn {
	int64_t		 start, last;
	char		 client[48], target[48];
	char		 first[FIRST_MAX + 1];
	int		 have_first;
	uint64_t	 up, down;
};

void
list_init(struct list *l, FILE *out, int color, size_t max_conns)
{
	memset(l, 0, sizeof(*l));
	l->out = out;
	l->color = color;
	l->max_conns = max_conns;
	ctab_init(&l->conns, sizeof(struct lconn));
}

static void	line(struct list *, struct lconn *, const char *, uint64_t,
		    uint64_t, int64_t);

static struct lconn *
lconn_get(struct list *l, const struct rec *r)
{
	struct lconn *c, *old;
	int isnew;

	if ((c = ctab_find(&l->conns, r->src, r->conn, &isnew)) == NULL ||
	    !isnew)
		return c;
	c->start = r->usec;
	strcpy(c->client, "?");
	strcpy(c->target, "?");
	/* Over --max-conns: the connection longest without a record gets
	 * its line now, as dropped; its later records, if any, another. */
	if (l->conns.n > l->max_conns) {
		if (l->dropped++ == 0)
			warnx("over %zu connections at once: the one longest "
			    "without a record is listed as dropped "
			    "(--max-conns)", l->max_conns);
		old = ctab_lru(&l->conns);
		line(l, old, "dropped", old->up, old->down, old->last);
		ctab_del(&l->conns, old);
	}
	return c;
}

size_t
list_wants(struct list *l, const struct rec *r)
{
	struct lconn *c;

	if (r->type != REC_DATA || r->dir != REC_C2S)
		return 0;
	c = ctab_get(&l->conns, r->src, r->conn);
	return c == NULL || !c->have_first ? 256 : 0;
}

/* The first line the client sent (a request line), or its first bytes,
 * printable. */
static void
first_line(struct lconn *c, const unsigned char *p, size_t n)
{
	size_t i, k = 0;

	for (i = 0; i < n && k < FIRST_MAX; i++) {
		if (p[i] == '\r' || p[i] == '\n')
			break;
		c->first[k++] = p[i] >= 0x20 && p[i] < 0x7f ? (char)p[i] : '.';
	}
	c->first[k] = '\0';
	c->have_first = 1;
}

static void
fmt_elapsed(int64_t us, char *buf, size_t n)
{
	if (us < 0)
		snprintf(buf, n, "-");
	else if (us < 1000000)
		snprintf(buf, n, "%.1fms", (double)us / 1000);
	else if (us < 60000000)
		snprintf(buf, n, "%.3fs", (double)us / 1000000);
	else
		snprintf(buf, n, "%lldm%02llds", (long long)(us / 60000000),
		    (long long)(us / 1000000 % 60));
}

static void
line(struct list *l, struct lconn *c, const char *state, uint64_t up,
    uint64_t down, int64_t end)
{
	char id[96], t[TM_TIME_LEN], el[32], sid[64], st[64];
	const char *src = ctab_src(c), *cl = "", *rs = "";

	if (!l->header) {
		fprintf(l->out, "%s%-6s %-8s %-26s %-21s    %-21s  %-40s "
		    "%10s %10s %9s%s\n", l->color ? "\033[1m" : "", "CONN",
		    "STATE", "START", "CLIENT", "TARGET", "REQUEST", "UP",
		    "DOWN", "TIME", l->color ? "\033[0m" : "");
		l->header = 1;
	}
	if (!l->have_src0) {
		snprintf(l->src0, sizeof(l->src0), "%s", src);
		l->have_src0 = 1;
	}
	if (strcmp(src, l->src0) != 0)
		snprintf(id, sizeof(id), "%s#%llu", safe_str(src, sid,
		    sizeof(sid)), (unsigned long long)ctab_conn(c));
	else
		snprintf(id, sizeof(id), "#%llu",
		    (unsigned long long)ctab_conn(c));
	if (c->start >= 0) {
		tm_fmt_time(c->start, t, sizeof(t));
		t[10] = ' ';
		t[26] = '\0';
	} else
		strcpy(t, "?");
	fmt_elapsed(c->start >= 0 && end >= 0 ? end - c->start : -1, el,
	    sizeof(el));
	if (l->color) {
		cl = strcmp(state, "eof") == 0 ? "\033[32m" :
		    strcmp(state, "open") == 0 ? "\033[36m" : "\033[1;31m";
		rs = "\033[0m";
	}
	fprintf(l->out, "%-6s %s%-8s%s %-26s %-21s -> %-21s  %-40s %10llu "
	    "%10llu %9s\n", id, cl, safe_str(state, st, sizeof(st)), rs, t,
	    c->client, c->target,
	    c->first, (unsigned long long)up, (unsigned long long)down, el);
}

void
list_record(struct list *l, const struct rec *r)
{
	struct lconn *c;
	const char *v;
	uint64_t up, down;

	if (r->conn == 0)
		return;
	c = lconn_get(l, r);
	if (r->usec >= 0)
		c->last = r->usec;
	switch (r->type) {
	case REC_OPEN:
		if ((v = rec_get(r, "client")) != NULL)
			safe_str(v, c->client, sizeof(c->client));
		if ((v = rec_get(r, "target")) != NULL)
			safe_str(v, c->target, sizeof(c->target));
		if (r->usec >= 0)
			c->start = r->usec;
		break;
	case REC_DATA:
		if (r->dir == REC_C2S) {
			if (!c->have_first && r->len > 0)
				first_line(c, r->data, r->len);
			c->up += r->len;
		} else if (r->dir == REC_S2C)
			c->down += r->len;
		break;
	case REC_CLOSE:
		/* The relay's totals count what went over the wire even
		 * when a filter took records out. */
		if (rec_get_u64(r, "c2s", &up) == -1)
			up = c->up;
		if (rec_get_u64(r, "s2c", &down) == -1)
			down = c->down;
		v = rec_get(r, "reason");
		line(l, c, v != NULL ? v : "closed", up, down, r->usec);
		ctab_del(&l->conns, c);
		break;
	default:
		break;
	}
}

void
list_end(struct list *l)
{
	struct lconn *c;
	void **v;
	size_t n, i;

	v = ctab_list(&l->conns, &n);
	for (i = 0; i < n; i++) {
		c = v[i];
		line(l, c, "open", c->up, c->down, c->last);
		ctab_del(&l->conns, c);
	}
	free(v);
	ctab_free(&l->conns);
}

/* Length of the valid UTF-8 sequence at p (1 to 4), or 0. */
static size_t
utf8_len(const unsigned char *p, size_t n)
{
	uint32_t cp;
	size_t k, i;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		k = 2, cp = p[0] & 0x1f;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		k = 3, cp = p[0] & 0x0f;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		k = 4, cp = p[0] & 0x07;
	else
		return 0;
	if (n < k)
		return 0;
	for (i = 1; i < k; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((k == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (k == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return k;
}

static int
utf8_valid(const unsigned char *p, size_t n)
{
	size_t i = 0, k;

	while (i < n) {
		if ((k = utf8_len(p + i, n - i)) == 0)
			return 0;
		i += k;
	}
	return 1;
}

/* A JSON string; bytes that are not UTF-8 become \u00XX (Latin-1), so the
 * line stays valid JSON whatever a field holds, and every control
 * character is escaped, so that it is also safe on a terminal. */
static void
json_str(FILE *f, const unsigned char *p, size_t n)
{
	static const char hx[] = "0123456789abcdef";
	size_t i = 0, j, k;

	fputc('"', f);
	while (i < n) {
		for (j = i; j < n && p[j] >= 0x20 && p[j] < 0x7f &&
		    p[j] != '"' && p[j] != '\\'; j++)
			;
		fwrite(p + i, 1, j - i, f);
		if ((i = j) == n)
			break;
		/* C1 controls (U+0080 to U+009F) are escaped like C0 and DEL:
		 * the same string, and none that drives a terminal. */
		if (p[i] == 0xc2 && i + 1 < n && p[i + 1] >= 0x80 &&
		    p[i + 1] < 0xa0) {
			fprintf(f, "\\u00%c%c", hx[p[i + 1] >> 4],
			    hx[p[i + 1] & 15]);
			i += 2;
			continue;
		}
		if (p[i] >= 0x80 && (k = utf8_len(p + i, n - i)) > 0) {
			fwrite(p + i, 1, k, f);
			i += k;
			continue;
		}
		switch (p[i]) {
		case '"':	fputs("\\\"", f); break;
		case '\\':	fputs("\\\\", f); break;
		case '\n':	fputs("\\n", f); break;
		case '\r':	fputs("\\r", f); break;
		case '\t':	fputs("\\t", f); break;
		default:
			fprintf(f, "\\u00%c%c", hx[p[i] >> 4], hx[p[i] & 15]);
		}
		i++;
	}
	fputc('"', f);
}

static void
json_cstr(FILE *f, const char *s)
{
	json_str(f, (const unsigned char *)s, strlen(s));
}

static void
base64(FILE *f, const unsigned char *p, size_t n)
{
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char out[4096];
	size_t i, k = 0;
	uint32_t v;

	fputc('"', f);
	for (i = 0; i + 3 <= n; i += 3) {
		v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		out[k++] = b64[v >> 18];
		out[k++] = b64[v >> 12 & 63];
		out[k++] = b64[v >> 6 & 63];
		out[k++] = b64[v & 63];
		if (k == sizeof(out)) {
			fwrite(out, 1, k, f);
			k = 0;
		}
	}
	if (n - i == 1) {
		v = (uint32_t)p[i] << 16;
		out[k++] = b64[v >> 18];
		out[k++] = b64[v >> 12 & 63];
		out[k++] = '=';
		out[k++] = '=';
	} else if (n - i == 2) {
		v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
		out[k++] = b64[v >> 18];
		out[k++] = b64[v >> 12 & 63];
		out[k++] = b64[v >> 6 & 63];
		out[k++] = '=';
	}
	fwrite(out, 1, k, f);
	fputc('"', f);
}

void
json_record(FILE *f, const struct rec *r)
{
	char t[TM_TIME_LEN];
	int i;

	fputs("{\"kind\":", f);
	json_cstr(f, r->kind);
	fprintf(f, ",\"conn\":%llu", (unsigned long long)r->conn);
	if (r->src != NULL) {
		fputs(",\"src\":", f);
		json_cstr(f, r->src);
	}
	if (r->usec >= 0)
		fprintf(f, ",\"time\":\"%s\"", tm_fmt_time(r->usec, t,
		    sizeof(t)));
	if (r->dir != REC_NODIR)
		fprintf(f, ",\"dir\":\"%s\"", rec_dir_name(r->dir));
	fprintf(f, ",\"len\":%zu", r->len);
	if (r->nfield > 0) {
		fputs(",\"fields\":{", f);
		for (i = 0; i < r->nfield; i++) {
			if (i > 0)
				fputc(',', f);
			json_cstr(f, r->field[i].key);
			fputc(':', f);
			json_cstr(f, r->field[i].val);
		}
		fputc('}', f);
	}
	if (r->len > 0) {
		if (utf8_valid(r->data, r->len)) {
			fputs(",\"text\":", f);
			json_str(f, r->data, r->len);
		} else {
			fputs(",\"base64\":", f);
			base64(f, r->data, r->len);
		}
	}
	fputs("}\n", f);
}
