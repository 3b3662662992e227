/* tls.c - TLS on either side of a connection, with OpenSSL: a transport
 * (struct transport) like the plain socket's, so that the data path, the
 * stages and the records are the same whatever carries the bytes.  The
 * relay terminates TLS for clients of a `tls:` listener (--cert, --key) and
 * originates it to a `tls:` target, verifying the server against Debian's
 * trust store (--ca-file adds to it, --insecure skips it and says so). */
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "relay.h"
#include "util.h"

/* The most plaintext one TLS record carries (RFC 8446, 5.1).  A read is
 * given at least this much room, so that OpenSSL never keeps part of a
 * record it decrypted: epoll could not tell that bytes wait there. */
#define TLS_RECORD_MAX	16384

struct tls {
	SSL		*ssl;
	unsigned	 want;		/* events the last call waited for */
	int		 started;	/* the handshake has begun */
	char		 host[256];	/* the name checked (server side); the
					 * name of a minted certificate when
					 * the client asks for none */
};

struct tlsctx {
	SSL_CTX		*server;	/* toward clients of tls: listeners */
	SSL_CTX		*client;	/* toward tls: targets */
	struct ca	*ca;		/* minting, or NULL: --cert */
	int		 insecure;
	const char	*sni;
	int		 keylog;	/* descriptor, or -1 */
};

/* OpenSSL's reason for the last failure, for a message. */
static const char *
ossl_why(void)
{
	unsigned long e = ERR_peek_last_error();
	const char *s;

	if (e == 0 || (s = ERR_reason_error_string(e)) == NULL)
		return "unknown error";
	return s;
}

static void
keylog_line(const SSL *ssl, const char *line)
{
	struct tlsctx *tc = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
	struct iovec iov[2];

	if (tc == NULL || tc->keylog == -1)
		return;
	/* One write per line (O_APPEND): lines of several relays, or of
	 * a browser sharing SSLKEYLOGFILE, never mix. */
	iov[0].iov_base = (void *)(uintptr_t)line;
	iov[0].iov_len = strlen(line);
	iov[1].iov_base = "\n";
	iov[1].iov_len = 1;
	if (writev(tc->keylog, iov, 2) == -1)
		return;		/* a key log is best effort, as browsers' */
}

/* The client offers ALPN: only HTTP/1.1 is chosen, the one the tools show;
 * a client that offers only others gets none. */
static int
alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
    const unsigned char *in, unsigned inlen, void *arg)
{
	static const unsigned char h1[] = "\x08http/1.1";
	unsigned i;

	(void)ssl;
	(void)arg;
	for (i = 0; i < inlen && in[i] > 0 && i + 1 + in[i] <= inlen;
	    i += 1 + in[i])
		if (in[i] == 8 && memcmp(in + i, h1, 9) == 0) {
			*out = in + i + 1;
			*outlen = 8;
			return SSL_TLSEXT_ERR_OK;
		}
	return SSL_TLSEXT_ERR_NOACK;
}

/* The client said which name it wants (or not): a leaf for it, signed by
 * the relay's CA. */
static int
mint_for(SSL *ssl, int *alert, void *arg)
{
	struct tlsctx *tc = arg;
	struct tls *t = SSL_get_app_data(ssl);
	const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	EVP_PKEY *key;
	X509 *cert;

	/* A name that cannot go into a certificate (any bytes may come
	 * as SNI) is no name. */
	if (name == NULL || !ca_name_ok(name))
		name = t->host;
	if (!ca_name_ok(name)) {
		*alert = SSL_AD_UNRECOGNIZED_NAME;
		return SSL_TLSEXT_ERR_ALERT_FATAL;
	}
	if (ca_leaf(tc->ca, name, &cert, &key) == -1 ||
	    SSL_use_certificate(ssl, cert) != 1 ||
	    SSL_use_PrivateKey(ssl, key) != 1) {
		*alert = SSL_AD_INTERNAL_ERROR;
		return SSL_TLSEXT_ERR_ALERT_FATAL;
	}
	return SSL_TLSEXT_ERR_OK;
}

static SSL_CTX *
ctx_new(struct tlsctx *tc, int server)
{
	SSL_CTX *ctx;

	if ((ctx = SSL_CTX_new(server ? TLS_server_method() :
	    TLS_client_method())) == NULL)
		errx(TM_EXIT_FAIL, "TLS: %s", ossl_why());
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	/* Many servers end without close_notify: that is an end, not an
	 * error; writes move (h->off) between a retry and the next. */
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF |
	    SSL_OP_NO_RENEGOTIATION);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_app_data(ctx, tc);
	SSL_CTX_set_keylog_callback(ctx, keylog_line);
	return ctx;
}

/* A file OpenSSL is given must be readable: its own reason for one that
 * is not ("system lib") says nothing. */
static void
readable(const char *opt, const char *path)
{
	if (path != NULL && access(path, R_OK) == -1)
		err(TM_EXIT_USAGE, "%s %s", opt, path);
}

/* A certificate and key that cannot be used is bad usage: exit 2 before
 * anything listens, naming the file and OpenSSL's reason (never the key's
 * bytes). */
static void
load_pair(SSL_CTX *ctx, const char *cert, const char *key, const char *copt,
    const char *kopt)
{
	unsigned long e;

	readable(copt, cert);
	readable(kopt, key);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1)
		errx(TM_EXIT_USAGE, "%s %s: %s", copt, cert, ossl_why());
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		e = ERR_peek_last_error();
		if (ERR_GET_LIB(e) == ERR_LIB_X509 &&
		    ERR_GET_REASON(e) == X509_R_KEY_VALUES_MISMATCH)
			errx(TM_EXIT_USAGE, "%s %s: does not match %s %s",
			    kopt, key, copt, cert);
		errx(TM_EXIT_USAGE, "%s %s: %s", kopt, key, ossl_why());
	}
	if (SSL_CTX_check_private_key(ctx) != 1)
		errx(TM_EXIT_USAGE, "%s %s: does not match %s %s", kopt, key,
		    copt, cert);
}

void
tls_init(struct relay *r, const struct tls_opts *o, int need_server,
    int need_client)
{
	struct tlsctx *tc;
	const char *kl;

	if ((tc = calloc(1, sizeof(*tc))) == NULL)
		err(TM_EXIT_FAIL, "malloc");
	tc->keylog = -1;
	tc->insecure = o->insecure;
	tc->sni = o->sni;
	kl = o->keylog != NULL ? o->keylog : getenv("SSLKEYLOGFILE");
	if (kl != NULL && *kl != '\0' && (tc->keylog = open(kl, O_WRONLY |
	    O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600)) == -1)
		err(TM_EXIT_USAGE, "%s %s", o->keylog != NULL ? "--keylog" :
		    "SSLKEYLOGFILE", kl);
	if (need_server) {
		tc->server = ctx_new(tc, 1);
		if (o->cert != NULL)
			load_pair(tc->server, o->cert, o->key, "--cert",
			    "--key");
		else {
			tc->ca = ca_open(o->ca_dir, 0);
			SSL_CTX_set_tlsext_servername_callback(tc->server,
			    mint_for);
			SSL_CTX_set_tlsext_servername_arg(tc->server, tc);
		}
		SSL_CTX_set_alpn_select_cb(tc->server, alpn_select, NULL);
		/* No session cache: nothing of a conversation outlives it. */
		SSL_CTX_set_session_cache_mode(tc->server, SSL_SESS_CACHE_OFF);
		SSL_CTX_set_num_tickets(tc->server, 0);
	}
	if (need_client) {
		tc->client = ctx_new(tc, 0);
		if (SSL_CTX_set_default_verify_paths(tc->client) != 1)
			errx(TM_EXIT_FAIL, "TLS: the system's trusted "
			    "certificates: %s", ossl_why());
		readable("--ca-file", o->ca_file);
		if (o->ca_file != NULL &&
		    SSL_CTX_load_verify_locations(tc->client, o->ca_file,
		    NULL) != 1)
			errx(TM_EXIT_USAGE, "--ca-file %s: %s", o->ca_file,
			    ossl_why());
		if (o->client_cert != NULL)
			load_pair(tc->client, o->client_cert, o->client_key,
			    "--client-cert", "--client-key");
		SSL_CTX_set_verify(tc->client, o->insecure ? SSL_VERIFY_NONE :
		    SSL_VERIFY_PEER, NULL);
	}
	r->tls = tc;
}

void
tls_finish(struct relay *r)
{
	struct tlsctx *tc = r->tls;

	if (tc == NULL)
		return;
	SSL_CTX_free(tc->server);
	SSL_CTX_free(tc->client);
	ca_free(tc->ca);
	if (tc->keylog != -1)
		close(tc->keylog);
	free(tc);
	r->tls = NULL;
}

static int
is_ip(const char *host)
{
	unsigned char b[16];
	char h[64];
	size_t n = strlen(host);

	/* [::1] as written in a target */
	if (n > 2 && n < sizeof(h) && host[0] == '[' && host[n - 1] == ']') {
		memcpy(h, host + 1, n - 2);
		h[n - 2] = '\0';
		host = h;
	}
	return inet_pton(AF_INET, host, b) == 1 ||
	    inet_pton(AF_INET6, host, b) == 1;
}

int
tls_start(struct relay *r, struct conn *c, enum side s, const char *host,
    char *msg, size_t n)
{
	struct tlsctx *tc = r->tls;
	struct tls *t;
	const char *sni;

	if ((t = calloc(1, sizeof(*t))) == NULL ||
	    (t->ssl = SSL_new(s == CLIENT ? tc->server : tc->client)) == NULL ||
	    SSL_set_fd(t->ssl, conn_fd(c, s)) != 1) {
		snprintf(msg, n, "TLS: %s", t == NULL ? strerror(errno) :
		    ossl_why());
		if (t != NULL)
			SSL_free(t->ssl);
		free(t);
		return -1;
	}
	c->tls[s] = t;
	SSL_set_app_data(t->ssl, t);
	snprintf(t->host, sizeof(t->host), "%s", host);
	if (s == CLIENT) {
		SSL_set_accept_state(t->ssl);
		return 0;
	}
	SSL_set_connect_state(t->ssl);
	if (t->host[0] == '[') {	/* [::1]: the address inside */
		memmove(t->host, t->host + 1, strlen(t->host));
		t->host[strcspn(t->host, "]")] = '\0';
	}
	/* SNI names a host, never an address (RFC 6066, 3). */
	sni = tc->sni != NULL ? tc->sni : is_ip(t->host) ? NULL : t->host;
	if (sni != NULL)
		SSL_set_tlsext_host_name(t->ssl, sni);
	/* What the certificate must be for: the name asked for, else the
	 * address connected to. */
	if (!tc->insecure) {
		if (sni != NULL)
			SSL_set1_host(t->ssl, sni);
		else
			X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl),
			    t->host);
	}
	return 0;
}

/* Why a handshake or a transfer failed, in words. */
static void
fail_msg(struct tls *t, int e, char *msg, size_t n)
{
	long v = SSL_get_verify_result(t->ssl);

	if (v != X509_V_OK && SSL_get_peer_certificate(t->ssl) != NULL)
		snprintf(msg, n, "certificate verify failed: %s",
		    X509_verify_cert_error_string(v));
	else if (v != X509_V_OK && ERR_peek_last_error() != 0 &&
	    ERR_GET_REASON(ERR_peek_last_error()) ==
	    SSL_R_CERTIFICATE_VERIFY_FAILED)
		snprintf(msg, n, "certificate verify failed: %s",
		    X509_verify_cert_error_string(v));
	else if (ERR_peek_last_error() != 0)
		snprintf(msg, n, "%s", ossl_why());
	else if (e == SSL_ERROR_SYSCALL && errno != 0)
		snprintf(msg, n, "%s", strerror(errno));
	else
		snprintf(msg, n, "the peer closed the connection in the "
		    "handshake");
}

int
tls_handshake(struct conn *c, enum side s, char *msg, size_t n)
{
	struct tls *t = c->tls[s];
	int rc, e;

	t->started = 1;
	ERR_clear_error();
	errno = 0;
	if ((rc = SSL_do_handshake(t->ssl)) == 1) {
		t->want = 0;
		return 1;
	}
	switch ((e = SSL_get_error(t->ssl, rc))) {
	case SSL_ERROR_WANT_READ:
		t->want = LOOP_READ;
		return 0;
	case SSL_ERROR_WANT_WRITE:
		t->want = LOOP_WRITE;
		return 0;
	}
	fail_msg(t, e, msg, n);
	return -1;
}

unsigned
tls_handshake_wants(const struct conn *c, enum side s)
{
	const struct tls *t = c->tls[s];

	return t->started ? t->want : (s == CLIENT ? LOOP_READ : LOOP_WRITE);
}

/* A failure in the data phase: an errno the connection code knows. */
static ssize_t
io_failed(struct tls *t, int e)
{
	if (e == SSL_ERROR_SYSCALL && errno != 0)
		return -1;
	(void)t;
	errno = EPROTO;
	return -1;
}

static ssize_t
tls_recv(struct conn *c, enum side s, void *buf, size_t n)
{
	struct tls *t = c->tls[s];
	size_t got = 0, k;
	int rc, e;

	t->want = 0;
	do {
		ERR_clear_error();
		errno = 0;
		if ((rc = SSL_read_ex(t->ssl, (char *)buf + got, n - got,
		    &k)) == 1) {
			got += k;
			continue;
		}
		e = SSL_get_error(t->ssl, rc);
		if (got > 0)
			break;	/* the bytes first; the rest comes again */
		switch (e) {
		case SSL_ERROR_WANT_WRITE:
			t->want = LOOP_WRITE;
			/* FALLTHROUGH */
		case SSL_ERROR_WANT_READ:
			errno = EAGAIN;
			return -1;
		case SSL_ERROR_ZERO_RETURN:
			return 0;
		}
		return io_failed(t, e);
	} while (n - got >= TLS_RECORD_MAX);
	return (ssize_t)got;
}

static ssize_t
tls_send(struct conn *c, enum side s, const void *p, size_t n)
{
	struct tls *t = c->tls[s];
	size_t k;
	int rc, e;

	t->want = 0;
	ERR_clear_error();
	errno = 0;
	if ((rc = SSL_write_ex(t->ssl, p, n, &k)) == 1)
		return (ssize_t)k;
	switch ((e = SSL_get_error(t->ssl, rc))) {
	case SSL_ERROR_WANT_READ:
		t->want = LOOP_READ;
		/* FALLTHROUGH */
	case SSL_ERROR_WANT_WRITE:
		errno = EAGAIN;
		return -1;
	}
	if (e == SSL_ERROR_SYSCALL && errno != 0)
		return -1;
	errno = EPIPE;
	return -1;
}

/* The sender's end: close_notify, then the FIN, so that the peer knows
 * the end is the end and not a cut (TLS 1.3 carries the other direction
 * on). */
static void
tls_shut(struct conn *c, enum side s)
{
	ERR_clear_error();
	(void)SSL_shutdown(c->tls[s]->ssl);
	shutdown(conn_fd(c, s), SHUT_WR);
}

static unsigned
tls_wants(const struct conn *c, enum side s)
{
	return c->tls[s] != NULL ? c->tls[s]->want : 0;
}

const struct transport tls_transport = { "tls", tls_recv, tls_send,
    tls_shut, tls_wants, 0 };

const char *
tls_sni(const struct conn *c, enum side s)
{
	const char *n;

	if (c->tls[s] == NULL)
		return NULL;
	n = SSL_get_servername(c->tls[s]->ssl, TLSEXT_NAMETYPE_host_name);
	return n != NULL && *n != '\0' ? n : NULL;
}

void
tls_free(struct conn *c, enum side s)
{
	if (c->tls[s] == NULL)
		return;
	SSL_free(c->tls[s]->ssl);
	free(c->tls[s]);
	c->tls[s] = NULL;
}

/* The open record's fields of side s: client-tls, client-cipher, ... */
void
tls_rec(const struct relay *r, const struct conn *c, enum side s,
    struct rec *rec)
{
	const struct tls *t = c->tls[s];
	const char *pre = s == CLIENT ? "client" : "server";
	const unsigned char *alpn;
	unsigned alen;
	char key[32], hex[EVP_MAX_MD_SIZE * 2 + 1], subj[256];
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen, i;
	const char *sni;
	X509 *peer;
	long v;

	if (t == NULL)
		return;
	snprintf(key, sizeof(key), "%s-tls", pre);
	rec_set(rec, key, SSL_get_version(t->ssl));
	snprintf(key, sizeof(key), "%s-cipher", pre);
	rec_set(rec, key, SSL_get_cipher_name(t->ssl));
	sni = SSL_get_servername(t->ssl, TLSEXT_NAMETYPE_host_name);
	if (sni != NULL) {
		snprintf(key, sizeof(key), "%s-sni", pre);
		rec_set(rec, key, sni);
	}
	SSL_get0_alpn_selected(t->ssl, &alpn, &alen);
	if (alen > 0) {
		snprintf(key, sizeof(key), "%s-alpn", pre);
		rec_setf(rec, key, "%.*s", (int)alen, (const char *)alpn);
	}
	if (s == CLIENT)
		return;
	v = SSL_get_verify_result(t->ssl);
	rec_set(rec, "server-verify", r->tls->insecure ? "skipped" :
	    v == X509_V_OK ? "ok" : X509_verify_cert_error_string(v));
	if ((peer = SSL_get1_peer_certificate(t->ssl)) == NULL)
		return;
	X509_NAME_oneline(X509_get_subject_name(peer), subj, sizeof(subj));
	rec_set(rec, "server-cert", subj);
	if (X509_digest(peer, EVP_sha256(), md, &mdlen) == 1) {
		for (i = 0; i < mdlen; i++)
			snprintf(hex + 2 * i, 3, "%02x", md[i]);
		rec_set(rec, "server-cert-sha256", hex);
	}
	X509_free(peer);
}
