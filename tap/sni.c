/* sni.c - the host name in a TLS ClientHello.  The handshake message may
 * be cut over several TLS records; their fragments are joined (up to
 * SNI_MAX bytes) before the message is read.  Every length is checked
 * against what is there: the bytes are a stranger's. */
#include <string.h>

#include "sni.h"

#define REC_HDR		5	/* type, version, length */
#define HS_CLIENT_HELLO	1
#define EXT_SERVER_NAME	0

/* A cursor over bytes that fails, once and for all, at the first read past
 * the end. */
struct cur {
	const unsigned char	*p;
	size_t			 n, at;
	int			 bad;
};

static unsigned
get(struct cur *c, size_t k)
{
	unsigned v = 0;

	if (c->bad || c->n - c->at < k) {
		c->bad = 1;
		return 0;
	}
	while (k-- > 0)
		v = v << 8 | c->p[c->at++];
	return v;
}

static void
skip(struct cur *c, size_t k)
{
	if (c->bad || c->n - c->at < k)
		c->bad = 1;
	else
		c->at += k;
}

/* The server_name extension's body (RFC 6066, 3): a list of names, of
 * which the host_name one is taken. */
static enum sni_result
server_name(struct cur *c, char *name, size_t namelen)
{
	struct cur l;
	unsigned type, len;

	l.n = get(c, 2);
	if (c->bad || c->n - c->at < l.n)
		return SNI_NONAME;
	l.p = c->p + c->at;
	l.at = 0;
	l.bad = 0;
	while (l.at < l.n) {
		type = get(&l, 1);
		len = get(&l, 2);
		if (l.bad || l.n - l.at < len)
			return SNI_NONAME;
		if (type == 0 && len > 0 && namelen > 0) {
			if (len >= namelen)
				len = (unsigned)namelen - 1;
			memcpy(name, l.p + l.at, len);
			name[len] = '\0';
			return SNI_NAME;
		}
		l.at += len;
	}
	return SNI_NONAME;
}

/* The ClientHello's body (RFC 8446, 4.1.2; the same in TLS 1.0 to 1.2). */
static enum sni_result
client_hello(const unsigned char *p, size_t n, char *name, size_t namelen)
{
	struct cur c = { p, n, 0, 0 };
	size_t end;
	unsigned type, len;

	skip(&c, 2 + 32);		/* legacy_version, random */
	skip(&c, get(&c, 1));		/* legacy_session_id */
	skip(&c, get(&c, 2));		/* cipher_suites */
	skip(&c, get(&c, 1));		/* legacy_compression_methods */
	if (c.bad || c.at == c.n)
		return SNI_NONAME;	/* SSL 3.0 style: no extensions */
	len = get(&c, 2);
	if (c.bad || c.n - c.at < len)
		return SNI_NONAME;
	end = c.at + len;
	while (c.at + 4 <= end) {
		type = get(&c, 2);
		len = get(&c, 2);
		if (end - c.at < len)
			return SNI_NONAME;
		if (type == EXT_SERVER_NAME) {
			c.n = c.at + len;
			return server_name(&c, name, namelen);
		}
		c.at += len;
	}
	return SNI_NONAME;
}

enum sni_result
sni_parse(const unsigned char *p, size_t n, char *name, size_t namelen)
{
	unsigned char hs[SNI_MAX];
	size_t at = 0, have = 0, want = 0, len, take;

	if (namelen > 0)
		name[0] = '\0';
	/* Each record: handshake (22), a 3.x version, a length that TLS
	 * allows (2^14 plus room for compression, never 0). */
	while (at < n) {
		if (p[at] != 22)
			return have == 0 ? SNI_NOT_TLS : SNI_NONAME;
		if (n - at < REC_HDR) {
			if (n - at >= 2 && p[at + 1] != 3)
				return have == 0 ? SNI_NOT_TLS : SNI_NONAME;
			return SNI_MORE;
		}
		len = (size_t)p[at + 3] << 8 | p[at + 4];
		if (p[at + 1] != 3 || p[at + 2] > 4 || len == 0 ||
		    len > 16384 + 2048)
			return have == 0 ? SNI_NOT_TLS : SNI_NONAME;
		at += REC_HDR;
		take = n - at < len ? n - at : len;
		if (take > sizeof(hs) - have)
			take = sizeof(hs) - have;
		memcpy(hs + have, p + at, take);
		have += take;
		if (want == 0 && have >= 4) {
			if (hs[0] != HS_CLIENT_HELLO)
				return SNI_NOT_TLS;
			want = 4 + ((size_t)hs[1] << 16 | (size_t)hs[2] << 8 |
			    hs[3]);
		}
		if (want != 0 && have >= want)
			return client_hello(hs + 4, want - 4, name, namelen);
		if (have == sizeof(hs))
			return SNI_NONAME;	/* larger than we read */
		if (n - at < len)
			return SNI_MORE;	/* the record is cut */
		at += len;
	}
	return SNI_MORE;
}
