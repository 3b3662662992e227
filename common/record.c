/* record.c - reading, writing and building tcpmon records (tcpmon-record(5)). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>
#include <zlib.h>

#include "record.h"
#include "util.h"

#define TAG_PREFIX	"TCPMON/"
#define READ_CHUNK	(256 * 1024)
#define WRITE_BUF	(64 * 1024)

static const char *const type_names[] = {
	[REC_UNKNOWN] = "unknown",
	[REC_STREAM] = "stream",
	[REC_OPEN] = "open",
	[REC_DATA] = "data",
	[REC_SHUTDOWN] = "shutdown",
	[REC_CLOSE] = "close",
	[REC_NOTE] = "note",
};

const char *
rec_type_name(enum rec_type t)
{
	if ((unsigned)t >= sizeof(type_names) / sizeof(type_names[0]))
		return "unknown";
	return type_names[t];
}

const char *
rec_dir_name(enum rec_dir d)
{
	return d == REC_C2S ? "c2s" : d == REC_S2C ? "s2c" : "";
}

static enum rec_type
type_of(const char *kind)
{
	size_t i;

	for (i = 1; i < sizeof(type_names) / sizeof(type_names[0]); i++)
		if (strcmp(kind, type_names[i]) == 0)
			return (enum rec_type)i;
	return REC_UNKNOWN;
}

static int
valid_kind(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > 31)
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' &&
		    s[i] <= '9') || s[i] == '_' || s[i] == '-'))
			return 0;
	return 1;
}

static int
valid_key(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > 63)
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' &&
		    s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
		    s[i] == '_' || s[i] == '-' || s[i] == '.'))
			return 0;
	return 1;
}

/* Copies n bytes of s into the record's store; NULL when it is full. */
static char *
store(struct rec *r, const char *s, size_t n)
{
	char *p;

	if (n + 1 > sizeof(r->store) - r->nstore)
		return NULL;
	p = r->store + r->nstore;
	memcpy(p, s, n);
	p[n] = '\0';
	r->nstore += n + 1;
	return p;
}

static void
clear(struct rec *r)
{
	r->type = REC_UNKNOWN;
	r->kind = "";
	r->conn = 0;
	r->src = NULL;
	r->usec = -1;
	r->dir = REC_NODIR;
	r->len = 0;
	r->data = NULL;
	r->nfield = 0;
	r->nstore = 0;
}

void
rec_init(struct rec *r, enum rec_type t, uint64_t conn)
{
	const char *name = rec_type_name(t);

	clear(r);
	r->type = t;
	r->kind = store(r, name, strlen(name));
	r->conn = conn;
	r->usec = tm_now_us();
}

int
rec_init_kind(struct rec *r, const char *kind, uint64_t conn)
{
	if (!valid_kind(kind, strlen(kind)))
		return -1;
	clear(r);
	r->type = type_of(kind);
	r->kind = store(r, kind, strlen(kind));
	r->conn = conn;
	r->usec = tm_now_us();
	return 0;
}

int
rec_set_src(struct rec *r, const char *src)
{
	char *p;

	if (src == NULL) {
		r->src = NULL;
		return 0;
	}
	if ((p = store(r, src, strlen(src))) == NULL)
		return -1;
	r->src = p;
	return 0;
}

const char *
rec_get(const struct rec *r, const char *key)
{
	int i;

	for (i = 0; i < r->nfield; i++)
		if (strcmp(r->field[i].key, key) == 0)
			return r->field[i].val;
	return NULL;
}

int
rec_get_u64(const struct rec *r, const char *key, uint64_t *v)
{
	const char *s, *e;

	if ((s = rec_get(r, key)) == NULL)
		return -1;
	if (num_parse(s, 0, UINT64_MAX, v, &e) == -1 || strchr(s, 'k') ||
	    strchr(s, 'm') || strchr(s, 'g') || strchr(s, 'K') ||
	    strchr(s, 'M') || strchr(s, 'G'))
		return -1;
	return 0;
}

static int
is_core_key(const char *key)
{
	return strcmp(key, "conn") == 0 || strcmp(key, "src") == 0 ||
	    strcmp(key, "time") == 0 || strcmp(key, "dir") == 0 ||
	    strcmp(key, "len") == 0;
}

int
rec_set(struct rec *r, const char *key, const char *val)
{
	char *k, *v;
	int i;

	if (!valid_key(key, strlen(key)) || is_core_key(key))
		return -1;
	if ((v = store(r, val, strlen(val))) == NULL)
		return -1;
	for (i = 0; i < r->nfield; i++)
		if (strcmp(r->field[i].key, key) == 0) {
			r->field[i].val = v;
			return 0;
		}
	if (r->nfield == REC_MAX_FIELDS || (k = store(r, key,
	    strlen(key))) == NULL)
		return -1;
	r->field[r->nfield].key = k;
	r->field[r->nfield].val = v;
	r->nfield++;
	return 0;
}

int
rec_setf(struct rec *r, const char *key, const char *fmt, ...)
{
	char buf[REC_MAX_HEADER];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return -1;
	return rec_set(r, key, buf);
}

int
rec_del(struct rec *r, const char *key)
{
	int i;

	for (i = 0; i < r->nfield; i++)
		if (strcmp(r->field[i].key, key) == 0) {
			memmove(&r->field[i], &r->field[i + 1],
			    (size_t)(r->nfield - i - 1) * sizeof(r->field[0]));
			r->nfield--;
			return 0;
		}
	return -1;
}

static const char *
rebase(const char *p, const struct rec *from, struct rec *to)
{
	if (p >= from->store && p < from->store + sizeof(from->store))
		return to->store + (p - from->store);
	return p;
}

void
rec_copy(struct rec *dst, const struct rec *src)
{
	int i;

	if (dst == src)
		return;
	*dst = *src;
	dst->kind = rebase(src->kind, src, dst);
	if (src->src != NULL)
		dst->src = rebase(src->src, src, dst);
	for (i = 0; i < src->nfield; i++) {
		dst->field[i].key = rebase(src->field[i].key, src, dst);
		dst->field[i].val = rebase(src->field[i].val, src, dst);
	}
}

/* Appends s to buf at *at, %XX-escaping what is not a visible ASCII
 * character or is '%'.  Returns -1 when it does not fit. */
static int
put_esc(char *buf, size_t n, size_t *at, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p;

	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p > 0x20 && *p < 0x7f && *p != '%') {
			if (*at + 1 > n)
				return -1;
			buf[(*at)++] = (char)*p;
		} else {
			if (*at + 3 > n)
				return -1;
			buf[(*at)++] = '%';
			buf[(*at)++] = hex[*p >> 4];
			buf[(*at)++] = hex[*p & 15];
		}
	}
	return 0;
}

static int
put_str(char *buf, size_t n, size_t *at, const char *s)
{
	size_t l = strlen(s);

	if (*at + l > n)
		return -1;
	memcpy(buf + *at, s, l);
	*at += l;
	return 0;
}

size_t
rec_header(const struct rec *r, size_t len, char *buf, size_t n)
{
	char tmp[64];
	size_t at = 0;
	int i;

	if (n > REC_MAX_HEADER)
		n = REC_MAX_HEADER;
	snprintf(tmp, sizeof(tmp), " conn=%llu", (unsigned long long)r->conn);
	if (put_str(buf, n, &at, REC_TAG " ") == -1 ||
	    put_str(buf, n, &at, r->kind) == -1 ||
	    put_str(buf, n, &at, tmp) == -1)
		return 0;
	if (r->src != NULL && (put_str(buf, n, &at, " src=") == -1 ||
	    put_esc(buf, n, &at, r->src) == -1))
		return 0;
	if (r->usec >= 0 && (put_str(buf, n, &at, " time=") == -1 ||
	    put_str(buf, n, &at, tm_fmt_time(r->usec, tmp, sizeof(tmp))) == -1))
		return 0;
	if (r->dir != REC_NODIR && (put_str(buf, n, &at, " dir=") == -1 ||
	    put_str(buf, n, &at, rec_dir_name(r->dir)) == -1))
		return 0;
	for (i = 0; i < r->nfield; i++)
		if (put_str(buf, n, &at, " ") == -1 ||
		    put_str(buf, n, &at, r->field[i].key) == -1 ||
		    put_str(buf, n, &at, "=") == -1 ||
		    put_esc(buf, n, &at, r->field[i].val) == -1)
			return 0;
	snprintf(tmp, sizeof(tmp), " len=%zu\n", len);
	if (put_str(buf, n, &at, tmp) == -1)
		return 0;
	return at;
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Unescapes n bytes of s into the store. */
static char *
store_unesc(struct rec *r, const char *s, size_t n, const char **why)
{
	char *p, *o;
	size_t i;
	int hi, lo;

	if ((p = store(r, s, n)) == NULL) {
		*why = "header too large";
		return NULL;
	}
	for (i = 0, o = p; i < n; i++) {
		if (s[i] != '%') {
			*o++ = s[i];
			continue;
		}
		if (i + 2 >= n) {
			*why = "bad %-escape in a field value";
			return NULL;
		}
		hi = hexval((unsigned char)s[i + 1]);
		lo = hexval((unsigned char)s[i + 2]);
		if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
			*why = "bad %-escape in a field value";
			return NULL;
		}
		*o++ = (char)(hi << 4 | lo);
		i += 2;
	}
	*o = '\0';
	return p;
}

static int
parse_dec(const char *s, size_t n, uint64_t max, uint64_t *v)
{
	uint64_t x = 0;
	size_t i;

	if (n == 0 || n > 20)
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		if (x > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
			return -1;
		x = x * 10 + (uint64_t)(s[i] - '0');
	}
	if (x > max)
		return -1;
	*v = x;
	return 0;
}

/* The header line's frame: a newline at its end, the tag of this version
 * and a kind after it. */
static int
check_tag(const char *line, size_t n, const char **why)
{
	const char *end;

	if (n == 0 || line[n - 1] != '\n') {
		*why = "header line does not end in a newline";
		return -1;
	}
	end = line + n - 1;
	if ((size_t)(end - line) < sizeof(TAG_PREFIX) - 1 ||
	    memcmp(line, TAG_PREFIX, sizeof(TAG_PREFIX) - 1) != 0) {
		*why = "not a tcpmon record (no TCPMON/ tag)";
		return -1;
	}
	if ((size_t)(end - line) == sizeof(REC_TAG) - 1 &&
	    memcmp(line, REC_TAG, sizeof(REC_TAG) - 1) == 0) {
		*why = "no record kind";
		return -1;
	}
	if ((size_t)(end - line) < sizeof(REC_TAG) ||
	    memcmp(line, REC_TAG " ", sizeof(REC_TAG)) != 0) {
		*why = "unsupported record format version (this reader knows "
		    REC_TAG ")";
		return -1;
	}
	return 0;
}

/* One key=value of a header: the core fields into r's members, any other
 * into r's fields, each at most once. */
static int
take_field(struct rec *r, const char *key, size_t kl, const char *val,
    size_t vl, int *have_len, int *have_conn, const char **why)
{
	char tbuf[40];
	uint64_t v;

#define KEY(s) (kl == sizeof(s) - 1 && memcmp(key, s, kl) == 0)
	if (KEY("len")) {
		if ((*have_len)++) {
			*why = "duplicate len field";
			return -1;
		}
		if (parse_dec(val, vl, UINT64_MAX, &v) == -1) {
			*why = "bad length field";
			return -1;
		}
		if (v > REC_MAX_PAYLOAD) {
			*why = "payload length over the 16 MiB limit";
			return -1;
		}
		r->len = (size_t)v;
	} else if (KEY("conn")) {
		if ((*have_conn)++) {
			*why = "duplicate conn field";
			return -1;
		}
		if (parse_dec(val, vl, UINT64_MAX, &r->conn) == -1) {
			*why = "bad conn field";
			return -1;
		}
	} else if (KEY("src")) {
		if (r->src != NULL) {
			*why = "duplicate src field";
			return -1;
		}
		if ((r->src = store_unesc(r, val, vl, why)) == NULL)
			return -1;
	} else if (KEY("time")) {
		if (r->usec != -1) {
			*why = "duplicate time field";
			return -1;
		}
		if (vl >= sizeof(tbuf)) {
			*why = "bad time field";
			return -1;
		}
		memcpy(tbuf, val, vl);
		tbuf[vl] = '\0';
		if (tm_parse_time(tbuf, &r->usec) == -1 || r->usec < 0) {
			*why = "bad time field";
			return -1;
		}
	} else if (KEY("dir")) {
		if (r->dir != REC_NODIR) {
			*why = "duplicate dir field";
			return -1;
		}
		if (vl == 3 && memcmp(val, "c2s", 3) == 0)
			r->dir = REC_C2S;
		else if (vl == 3 && memcmp(val, "s2c", 3) == 0)
			r->dir = REC_S2C;
		else {
			*why = "bad dir field";
			return -1;
		}
	} else {
		int j;

		for (j = 0; j < r->nfield; j++)
			if (strlen(r->field[j].key) == kl &&
			    memcmp(r->field[j].key, key, kl) == 0) {
				*why = "duplicate field";
				return -1;
			}
		if (r->nfield == REC_MAX_FIELDS) {
			*why = "too many fields";
			return -1;
		}
		if ((r->field[r->nfield].key = store(r, key, kl)) ==
		    NULL) {
			*why = "header too large";
			return -1;
		}
		if ((r->field[r->nfield].val = store_unesc(r, val, vl,
		    why)) == NULL)
			return -1;
		r->nfield++;
	}
#undef KEY
	return 0;
}

int
rec_parse_header(const char *line, size_t n, struct rec *r, const char **why)
{
	const char *p, *end, *tok, *eq;
	size_t tl, kl, k;
	int have_len = 0, have_conn = 0, i;

	clear(r);
	if (check_tag(line, n, why) == -1)
		return -1;
	end = line + n - 1;
	p = line + sizeof(REC_TAG);
	for (i = 0; p <= end; i++) {
		tok = p;
		while (p < end && *p != ' ')
			p++;
		tl = (size_t)(p - tok);
		p++;			/* past the space or the newline */
		if (tl == 0) {
			*why = "empty field (two spaces, or a trailing space)";
			return -1;
		}
		for (k = 0; k < tl; k++)
			if ((unsigned char)tok[k] <= 0x20 ||
			    (unsigned char)tok[k] >= 0x7f) {
				/* Writers escape these: a header that has
				 * them was not written by a tcpmon tool. */
				*why = "control or non-ASCII byte in the header";
				return -1;
			}
		if (i == 0) {
			if (!valid_kind(tok, tl)) {
				*why = "bad record kind";
				return -1;
			}
			r->kind = store(r, tok, tl);
			r->type = type_of(r->kind);
			continue;
		}
		if ((eq = memchr(tok, '=', tl)) == NULL) {
			*why = "field without '='";
			return -1;
		}
		kl = (size_t)(eq - tok);
		if (!valid_key(tok, kl)) {
			*why = "bad field name";
			return -1;
		}
		eq++;
		tl -= kl + 1;
		if (take_field(r, tok, kl, eq, tl, &have_len, &have_conn,
		    why) == -1)
			return -1;
	}
	if (!have_len) {
		*why = "no len field";
		return -1;
	}
	return 0;
}

int
recr_init(struct rec_reader *rd, int fd, const char *name)
{
	memset(rd, 0, sizeof(*rd));
	rd->fd = fd;
	rd->name = name;
	rd->own = 1;
	rd->cap = READ_CHUNK;
	if ((rd->buf = malloc(rd->cap)) == NULL)
		return -1;
	return 0;
}

int
recr_init_mem(struct rec_reader *rd, const void *p, size_t n, const char *name)
{
	memset(rd, 0, sizeof(*rd));
	rd->fd = -1;
	rd->name = name;
	rd->buf = (unsigned char *)p;	/* never written: fill() reads no fd */
	rd->cap = rd->end = n;
	rd->eof = 1;
	return 0;
}

void
recr_free(struct rec_reader *rd)
{
	if (rd->own)
		free(rd->buf);
	rd->buf = NULL;
	if (rd->gz != NULL) {
		inflateEnd(rd->gz);
		free(rd->gz);
		rd->gz = NULL;
	}
	free(rd->zbuf);
	rd->zbuf = NULL;
}

#define GZ_CHUNK	(64 * 1024)

/* read(2) for the reader: with a gzip'd input, what inflating it gives.
 * Returns as read(2), with errno set; EILSEQ for a damaged gzip stream. */
static ssize_t
rd_read(struct rec_reader *rd, unsigned char *dst, size_t cap)
{
	z_stream *z = rd->gz;
	ssize_t n;
	int zr;

	if (z == NULL)
		return read(rd->fd, dst, cap);
	for (;;) {
		if (rd->zpos == rd->zend) {
			if ((n = read(rd->fd, rd->zbuf, GZ_CHUNK)) <= 0) {
				if (n == 0 && !rd->zdone) {
					errno = EILSEQ;	/* cut short */
					return -1;
				}
				return n;
			}
			rd->zpos = 0;
			rd->zend = (size_t)n;
		}
		if (rd->zdone) {
			/* Members of a gzip file, concatenated (cat a.gz
			 * b.gz), are one stream. */
			if (inflateReset(z) != Z_OK) {
				errno = EILSEQ;
				return -1;
			}
			rd->zdone = 0;
		}
		z->next_in = rd->zbuf + rd->zpos;
		z->avail_in = (uInt)(rd->zend - rd->zpos);
		z->next_out = dst;
		z->avail_out = (uInt)(cap > 0x40000000 ? 0x40000000 : cap);
		zr = inflate(z, Z_NO_FLUSH);
		rd->zpos = rd->zend - z->avail_in;
		if (zr == Z_STREAM_END)
			rd->zdone = 1;
		else if (zr != Z_OK && zr != Z_BUF_ERROR) {
			errno = EILSEQ;
			return -1;
		}
		if ((n = (ssize_t)(z->next_out - dst)) > 0)
			return n;
	}
}

/* At the first bytes of an fd: a gzip magic number switches the reader to
 * inflating what it reads, the bytes already read included. */
static int
sniff_gzip(struct rec_reader *rd, size_t n)
{
	unsigned char *at = rd->buf + rd->end;

	rd->sniffed = 1;
	if (n < 2 || at[0] != 0x1f || at[1] != 0x8b)
		return 0;
	if ((rd->gz = calloc(1, sizeof(z_stream))) == NULL ||
	    (rd->zbuf = malloc(n > GZ_CHUNK ? n : GZ_CHUNK)) == NULL ||
	    inflateInit2(rd->gz, 15 + 16) != Z_OK) {
		free(rd->gz);
		rd->gz = NULL;
		errno = ENOMEM;
		return -1;
	}
	memcpy(rd->zbuf, at, n);
	rd->zpos = 0;
	rd->zend = n;
	return 1;
}

static int
fail(struct rec_reader *rd, const char *why, size_t a, size_t b)
{
	char msg[128];

	if (a != 0 || b != 0)
		snprintf(msg, sizeof(msg), why, a, b);
	else
		snprintf(msg, sizeof(msg), "%s", why);
	snprintf(rd->err, sizeof(rd->err), "%s: record %llu at byte %llu: %s",
	    rd->name, (unsigned long long)rd->nrec + 1,
	    (unsigned long long)rd->off, msg);
	return REC_ERR;
}

/*
 * Makes room for need bytes from pos and reads once.  Returns the bytes
 * read, 0 at the end of the input, REC_ERR or REC_AGAIN.
 */
static int
fill(struct rec_reader *rd, size_t need)
{
	unsigned char *nb;
	size_t ncap;
	ssize_t n;
	int gz;

	if (rd->eof || rd->fd == -1)
		return 0;
	if (rd->cap - rd->pos < need || rd->end == rd->cap) {
		if (rd->pos > 0) {
			memmove(rd->buf, rd->buf + rd->pos, rd->end - rd->pos);
			rd->end -= rd->pos;
			rd->pos = 0;
		}
		if (rd->cap < need) {
			ncap = rd->cap * 2 > need ? rd->cap * 2 : need;
			if ((nb = realloc(rd->buf, ncap)) == NULL) {
				snprintf(rd->err, sizeof(rd->err), "%s: %s",
				    rd->name, strerror(errno));
				return REC_ERR;
			}
			rd->buf = nb;
			rd->cap = ncap;
		}
	}
	if (rd->idle != NULL)
		rd->idle(rd->idle_arg);
	for (;;) {
		n = rd_read(rd, rd->buf + rd->end, rd->cap - rd->end);
		if (n > 0 && !rd->sniffed) {
			if ((gz = sniff_gzip(rd, (size_t)n)) == 1)
				continue;	/* now inflating */
			if (gz == -1) {
				n = -1;
				break;
			}
		}
		if (n >= 0)
			break;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return REC_AGAIN;
		break;
	}
	if (n < 0) {
		if (errno == EILSEQ)	/* bad input, as a bad record is */
			return fail(rd, "damaged or cut gzip data", 0, 0);
		snprintf(rd->err, sizeof(rd->err), "%s: read: %s", rd->name,
		    strerror(errno));
		return REC_ERR;
	}
	if (n == 0) {
		rd->eof = 1;
		return 0;
	}
	rd->end += (size_t)n;
	return (int)(n > 0x7fffffff ? 0x7fffffff : n);
}

int
recr_next(struct rec_reader *rd, struct rec *r)
{
	const unsigned char *nl;
	const char *why;
	size_t avail, k, hlen, total;
	int rc;

	rd->raw = NULL;
	rd->rawlen = 0;
	if (rd->err[0] != '\0')
		return REC_ERR;	/* a broken stream stays broken */
	for (;;) {
		avail = rd->end - rd->pos;
		if (avail > 0) {
			k = avail < sizeof(TAG_PREFIX) - 1 ? avail :
			    sizeof(TAG_PREFIX) - 1;
			if (memcmp(rd->buf + rd->pos, TAG_PREFIX, k) != 0)
				return fail(rd, rd->nrec == 0 ?
				    "not a tcpmon record stream" :
				    "no TCPMON/ tag where a record should start",
				    0, 0);
			nl = memchr(rd->buf + rd->pos, '\n',
			    avail < REC_MAX_HEADER ? avail : REC_MAX_HEADER);
			if (nl != NULL)
				break;
			if (avail >= REC_MAX_HEADER)
				return fail(rd, "header line too long", 0, 0);
		}
		if ((rc = fill(rd, avail + 1 > 4096 ? avail + 1 : 4096)) < 0)
			return rc == REC_ERR && rd->err[0] == '\0' ?
			    fail(rd, "read error", 0, 0) : rc;
		if (rc == 0) {
			if (avail == 0)
				return REC_END;
			return fail(rd, "truncated record header", 0, 0);
		}
	}
	hlen = (size_t)(nl - (rd->buf + rd->pos)) + 1;
	if (rec_parse_header((const char *)rd->buf + rd->pos, hlen, r,
	    &why) == -1)
		return fail(rd, why, 0, 0);
	total = hlen + r->len + 1;
	while (rd->end - rd->pos < total) {
		if ((rc = fill(rd, total)) < 0)
			return rc;
		if (rc == 0)
			return fail(rd, "truncated record: %zu of %zu bytes",
			    rd->end - rd->pos, total);
	}
	if (rd->buf[rd->pos + hlen + r->len] != '\n')
		return fail(rd, "no newline after the payload "
		    "(wrong length field?)", 0, 0);
	r->data = rd->buf + rd->pos + hlen;
	rd->raw = rd->buf + rd->pos;
	rd->rawlen = total;
	rd->pos += total;
	rd->off += total;
	rd->nrec++;
	return REC_OK;
}

int
recw_init(struct rec_writer *w, int fd)
{
	memset(w, 0, sizeof(*w));
	w->fd = fd;
	w->cap = WRITE_BUF;
	if ((w->buf = malloc(w->cap)) == NULL)
		return -1;
	return 0;
}

void
recw_free(struct rec_writer *w)
{
	free(w->buf);
	w->buf = NULL;
}

static int
writev_all(struct rec_writer *w, struct iovec *iov, int n)
{
	ssize_t k;

	while (n > 0) {
		if ((k = writev(w->fd, iov, n)) == -1) {
			if (errno == EINTR)
				continue;
			w->error = errno;
			return -1;
		}
		while (n > 0 && (size_t)k >= iov->iov_len) {
			k -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (char *)iov->iov_base + k;
			iov->iov_len -= (size_t)k;
		}
	}
	return 0;
}

int
recw_flush(struct rec_writer *w)
{
	struct iovec iov;

	if (w->error != 0) {
		errno = w->error;
		return -1;
	}
	if (w->len == 0)
		return 0;
	iov.iov_base = w->buf;
	iov.iov_len = w->len;
	w->len = 0;
	return writev_all(w, &iov, 1);
}

int
recw_put(struct rec_writer *w, const struct rec *r, const void *data,
    size_t len)
{
	char hdr[REC_MAX_HEADER];
	struct iovec iov[4];
	size_t h;

	if (w->error != 0) {
		errno = w->error;
		return -1;
	}
	if (len > REC_MAX_PAYLOAD || (h = rec_header(r, len, hdr,
	    sizeof(hdr))) == 0) {
		errno = EMSGSIZE;
		return -1;
	}
	w->nrec++;
	if (w->len + h + len + 1 <= w->cap) {
		memcpy(w->buf + w->len, hdr, h);
		if (len > 0)
			memcpy(w->buf + w->len + h, data, len);
		w->buf[w->len + h + len] = '\n';
		w->len += h + len + 1;
		return 0;
	}
	/* Too big for what is left of the buffer: hand everything to the
	 * kernel in one writev, the payload straight from the caller. */
	iov[0].iov_base = w->buf;
	iov[0].iov_len = w->len;
	iov[1].iov_base = hdr;
	iov[1].iov_len = h;
	iov[2].iov_base = (void *)(uintptr_t)data;
	iov[2].iov_len = len;
	iov[3].iov_base = "\n";
	iov[3].iov_len = 1;
	w->len = 0;
	return writev_all(w, iov, 4);
}

int
recw_put_raw(struct rec_writer *w, const void *p, size_t n)
{
	struct iovec iov[2];

	if (w->error != 0) {
		errno = w->error;
		return -1;
	}
	if (w->len + n <= w->cap) {
		memcpy(w->buf + w->len, p, n);
		w->len += n;
		return 0;
	}
	iov[0].iov_base = w->buf;
	iov[0].iov_len = w->len;
	iov[1].iov_base = (void *)(uintptr_t)p;
	iov[1].iov_len = n;
	w->len = 0;
	return writev_all(w, iov, 2);
}
