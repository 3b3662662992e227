/* tls.c - https:// and -t tls:HOST:PORT for tcpmon-send, with OpenSSL, as
 * curl does it: the server verified against the system's trusted
 * certificates and --cacert for the URL's host (or its address), SNI for a
 * name, -k to skip the verification, --cert and --key for a server that
 * asks for a client certificate.  The connection's bytes go through here
 * once the handshake is done (exchange.c). */
#include <err.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "send.h"
#include "util.h"

/* The most plaintext a TLS record carries: a read is given at least this
 * much, so that OpenSSL keeps no decrypted bytes epoll cannot see. */
#define TLS_RECORD_MAX	16384

static SSL_CTX *ctx;
static int insecure;

static const char *
why(void)
{
	unsigned long e = ERR_peek_last_error();
	const char *s = e != 0 ? ERR_reason_error_string(e) : NULL;

	return s != NULL ? s : "unknown error";
}

/* A file OpenSSL is given must be readable: its own reason for one that
 * is not ("system lib") says nothing. */
static void
readable(const char *opt, const char *path)
{
	if (path != NULL && access(path, R_OK) == -1)
		err(TM_EXIT_USAGE, "%s %s", opt, path);
}

void
stls_init(const struct opts *o)
{
	if (ctx != NULL)
		return;
	readable("--cacert", o->cacert);
	readable("--cert", o->cert);
	readable("--key", o->key);
	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		errx(TM_EXIT_FAIL, "TLS: %s", why());
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (SSL_CTX_set_default_verify_paths(ctx) != 1)
		errx(TM_EXIT_FAIL, "TLS: the system's trusted certificates: %s",
		    why());
	if (o->cacert != NULL &&
	    SSL_CTX_load_verify_locations(ctx, o->cacert, NULL) != 1)
		errx(TM_EXIT_USAGE, "--cacert %s: %s", o->cacert, why());
	if (o->cert != NULL) {
		if (SSL_CTX_use_certificate_chain_file(ctx, o->cert) != 1)
			errx(TM_EXIT_USAGE, "--cert %s: %s", o->cert, why());
		if (SSL_CTX_use_PrivateKey_file(ctx, o->key != NULL ? o->key :
		    o->cert, SSL_FILETYPE_PEM) != 1 ||
		    SSL_CTX_check_private_key(ctx) != 1)
			errx(TM_EXIT_USAGE, "--key %s: %s", o->key != NULL ?
			    o->key : o->cert, why());
	}
	insecure = o->insecure;
	SSL_CTX_set_verify(ctx, insecure ? SSL_VERIFY_NONE : SSL_VERIFY_PEER,
	    NULL);
}

void
stls_done(void)
{
	SSL_CTX_free(ctx);
	ctx = NULL;
}

int
stls_start(struct xchg *x)
{
	const char *host = x->plan->addr.host;
	unsigned char b[16];
	int ip = inet_pton(AF_INET, host, b) == 1 ||
	    inet_pton(AF_INET6, host, b) == 1;

	if ((x->ssl = SSL_new(ctx)) == NULL ||
	    SSL_set_fd(x->ssl, x->fd) != 1) {
		snprintf(x->tlswhy, sizeof(x->tlswhy), "TLS: %s", why());
		return -1;
	}
	SSL_set_connect_state(x->ssl);
	if (!ip)
		SSL_set_tlsext_host_name(x->ssl, host);
	if (!insecure) {
		if (ip)
			X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(x->ssl),
			    host);
		else
			SSL_set1_host(x->ssl, host);
	}
	x->tlswant = LOOP_WRITE;
	return 0;
}

int
stls_handshake(struct xchg *x)
{
	long v;
	int rc, e;

	ERR_clear_error();
	errno = 0;
	if ((rc = SSL_do_handshake(x->ssl)) == 1) {
		x->tlswant = 0;
		return 1;
	}
	e = SSL_get_error(x->ssl, rc);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		x->tlswant = e == SSL_ERROR_WANT_READ ? LOOP_READ : LOOP_WRITE;
		return 0;
	}
	v = SSL_get_verify_result(x->ssl);
	if (v != X509_V_OK)
		snprintf(x->tlswhy, sizeof(x->tlswhy), "certificate verify "
		    "failed: %s", X509_verify_cert_error_string(v));
	else if (ERR_peek_last_error() != 0)
		snprintf(x->tlswhy, sizeof(x->tlswhy), "TLS: %s", why());
	else if (e == SSL_ERROR_SYSCALL && errno != 0)
		snprintf(x->tlswhy, sizeof(x->tlswhy), "TLS: %s",
		    strerror(errno));
	else
		snprintf(x->tlswhy, sizeof(x->tlswhy), "TLS: the server "
		    "closed the connection in the handshake");
	return -1;
}

ssize_t
stls_recv(struct xchg *x, void *buf, size_t n)
{
	size_t got = 0, k;
	int rc, e;

	do {
		ERR_clear_error();
		errno = 0;
		if ((rc = SSL_read_ex(x->ssl, (char *)buf + got, n - got,
		    &k)) == 1) {
			got += k;
			continue;
		}
		if (got > 0)
			break;
		e = SSL_get_error(x->ssl, rc);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
			errno = EAGAIN;
			return -1;
		}
		if (e == SSL_ERROR_ZERO_RETURN)
			return 0;
		if (!(e == SSL_ERROR_SYSCALL && errno != 0))
			errno = EPROTO;
		return -1;
	} while (n - got >= TLS_RECORD_MAX);
	return (ssize_t)got;
}

ssize_t
stls_send(struct xchg *x, const void *p, size_t n)
{
	size_t k;
	int rc, e;

	ERR_clear_error();
	errno = 0;
	if ((rc = SSL_write_ex(x->ssl, p, n, &k)) == 1)
		return (ssize_t)k;
	e = SSL_get_error(x->ssl, rc);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		errno = EAGAIN;
		return -1;
	}
	if (!(e == SSL_ERROR_SYSCALL && errno != 0))
		errno = EPIPE;
	return -1;
}

void
stls_shut(struct xchg *x)
{
	ERR_clear_error();
	(void)SSL_shutdown(x->ssl);
}

void
stls_free(struct xchg *x)
{
	SSL_free(x->ssl);
	x->ssl = NULL;
}
