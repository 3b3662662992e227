/* ca.c - the relay's own certificate authority: made on first use in
 * --ca-dir (default $XDG_DATA_HOME/tcpmon), and the leaf certificates it
 * signs for the names clients ask for (SNI) when the relay terminates their
 * TLS without --cert: proxy mode's --mitm, and a tls: listener without a
 * certificate of its own.  Users trust ca.pem; ca.key never leaves the
 * directory (0600, in a 0700 directory, refused when others can read it).
 * Leaves share one key made at start, are valid for a short time from a
 * day back (clocks differ), and are kept in memory, the least recently used
 * going first. */
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "relay.h"
#include "util.h"

#define LEAF_CACHE	1024		/* names kept, least recent out */
#define LEAF_DAYS	30		/* a leaf's life from now */
#define CA_DAYS		3650

struct leaf {
	char		*name;
	X509		*cert;
	struct leaf	*prev, *next;	/* most recent first */
};

struct ca {
	X509		*cert;
	EVP_PKEY	*key;
	EVP_PKEY	*leafkey;	/* one key for every leaf */
	struct leaf	*head, *tail;
	int		 n;
};

static const char *
why(void)
{
	unsigned long e = ERR_peek_last_error();
	const char *s = e != 0 ? ERR_reason_error_string(e) : NULL;

	return s != NULL ? s : strerror(errno != 0 ? errno : EINVAL);
}

static EVP_PKEY *
ec_key(void)
{
	EVP_PKEY *k;

	if ((k = EVP_EC_gen("P-256")) == NULL)
		errx(TM_EXIT_FAIL, "CA: making a key: %s", why());
	return k;
}

static void
ext(X509 *x, X509 *issuer, int nid, const char *val)
{
	X509V3_CTX ctx;
	X509_EXTENSION *e;

	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	if ((e = X509V3_EXT_conf_nid(NULL, &ctx, nid, val)) == NULL ||
	    X509_add_ext(x, e, -1) != 1)
		errx(TM_EXIT_FAIL, "CA: extension %s: %s", val, why());
	X509_EXTENSION_free(e);
}

/* A certificate with a random serial, valid from a day ago for days. */
static X509 *
cert_new(const char *cn, EVP_PKEY *key, int days)
{
	unsigned char serial[16];
	X509_NAME *name;
	BIGNUM *bn;
	X509 *x;

	if ((x = X509_new()) == NULL ||
	    RAND_bytes(serial, sizeof(serial)) != 1)
		errx(TM_EXIT_FAIL, "CA: %s", why());
	serial[0] &= 0x7f;	/* positive */
	if ((bn = BN_bin2bn(serial, sizeof(serial), NULL)) == NULL ||
	    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL)
		errx(TM_EXIT_FAIL, "CA: serial: %s", why());
	BN_free(bn);
	X509_set_version(x, 2);
	X509_gmtime_adj(X509_getm_notBefore(x), -86400);
	X509_gmtime_adj(X509_getm_notAfter(x), (long)days * 86400);
	X509_set_pubkey(x, key);
	name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
	    (const unsigned char *)cn, -1, -1, 0);
	return x;
}

/* The directory is the owner's alone, or it is refused with the fix. */
static void
check_private(const char *path, int dir)
{
	struct stat sb;

	if (stat(path, &sb) == -1)
		err(TM_EXIT_FAIL, "CA: %s", path);
	if (sb.st_uid != geteuid())
		errx(TM_EXIT_USAGE, "CA: %s belongs to another user", path);
	if ((sb.st_mode & 077) != 0)
		errx(TM_EXIT_USAGE, "CA: %s can be read by others (mode %03o):"
		    " chmod %s %s", path, (unsigned)(sb.st_mode & 0777),
		    dir ? "700" : "600", path);
}

static int
mkdir_p(const char *path)
{
	char p[4096], *s;

	if (snprintf(p, sizeof(p), "%s", path) >= (int)sizeof(p)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (s = p + 1; *s != '\0'; s++)
		if (*s == '/') {
			*s = '\0';
			if (mkdir(p, 0700) == -1 && errno != EEXIST)
				return -1;
			*s = '/';
		}
	return mkdir(p, 0700) == -1 && errno != EEXIST ? -1 : 0;
}

/* Makes ca.key and ca.pem in dir. */
static void
ca_create(struct ca *ca, const char *dir, const char *kpath,
    const char *cpath)
{
	char cn[128], host[64];
	FILE *f;
	int fd;

	ca->key = ec_key();
	if (gethostname(host, sizeof(host)) == -1)
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	snprintf(cn, sizeof(cn), "tcpmon CA (%s)", host);
	ca->cert = cert_new(cn, ca->key, CA_DAYS);
	X509_set_issuer_name(ca->cert, X509_get_subject_name(ca->cert));
	ext(ca->cert, ca->cert, NID_basic_constraints, "critical,CA:TRUE");
	ext(ca->cert, ca->cert, NID_key_usage, "critical,keyCertSign,cRLSign");
	ext(ca->cert, ca->cert, NID_subject_key_identifier, "hash");
	if (X509_sign(ca->cert, ca->key, EVP_sha256()) == 0)
		errx(TM_EXIT_FAIL, "CA: signing: %s", why());
	/* The key first, created 0600 and not there before. */
	if ((fd = open(kpath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC |
	    O_NOFOLLOW, 0600)) == -1 || (f = fdopen(fd, "w")) == NULL)
		err(TM_EXIT_FAIL, "CA: %s", kpath);
	if (PEM_write_PrivateKey(f, ca->key, NULL, NULL, 0, NULL, NULL) != 1 ||
	    fclose(f) != 0)
		errx(TM_EXIT_FAIL, "CA: writing %s: %s", kpath, why());
	if ((fd = open(cpath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC |
	    O_NOFOLLOW, 0644)) == -1 || (f = fdopen(fd, "w")) == NULL)
		err(TM_EXIT_FAIL, "CA: %s", cpath);
	if (PEM_write_X509(f, ca->cert) != 1 || fclose(f) != 0)
		errx(TM_EXIT_FAIL, "CA: writing %s: %s", cpath, why());
	(void)dir;
}

struct ca *
ca_open(const char *dir, int quiet)
{
	char kpath[4200], cpath[4200];
	struct ca *ca;
	FILE *f;

	if ((ca = calloc(1, sizeof(*ca))) == NULL)
		err(TM_EXIT_FAIL, "malloc");
	if (mkdir_p(dir) == -1)
		err(TM_EXIT_FAIL, "CA: %s", dir);
	check_private(dir, 1);
	snprintf(kpath, sizeof(kpath), "%s/ca.key", dir);
	snprintf(cpath, sizeof(cpath), "%s/ca.pem", dir);
	if (access(kpath, F_OK) == -1 && errno == ENOENT) {
		ca_create(ca, dir, kpath, cpath);
		if (!quiet)
			warnx("CA: made %s (trust it in your clients; "
			    "see tcpmon-relay(1), TLS)", cpath);
	} else {
		check_private(kpath, 0);
		if ((f = fopen(kpath, "re")) == NULL)
			err(TM_EXIT_FAIL, "CA: %s", kpath);
		ca->key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
		fclose(f);
		if (ca->key == NULL)
			errx(TM_EXIT_USAGE, "CA: %s: %s", kpath, why());
		if ((f = fopen(cpath, "re")) == NULL)
			err(TM_EXIT_FAIL, "CA: %s", cpath);
		ca->cert = PEM_read_X509(f, NULL, NULL, NULL);
		fclose(f);
		if (ca->cert == NULL)
			errx(TM_EXIT_USAGE, "CA: %s: %s", cpath, why());
		if (X509_check_private_key(ca->cert, ca->key) != 1)
			errx(TM_EXIT_USAGE, "CA: %s does not match %s", kpath,
			    cpath);
	}
	ca->leafkey = ec_key();
	return ca;
}

void
ca_print(const struct ca *ca, FILE *f)
{
	if (PEM_write_X509(f, ca->cert) != 1 || fflush(f) != 0)
		errx(TM_EXIT_FAIL, "write stdout: %s", why());
}

static void
lru_unlink(struct ca *ca, struct leaf *l)
{
	if (l->prev != NULL)
		l->prev->next = l->next;
	else
		ca->head = l->next;
	if (l->next != NULL)
		l->next->prev = l->prev;
	else
		ca->tail = l->prev;
	l->prev = l->next = NULL;
}

static void
lru_front(struct ca *ca, struct leaf *l)
{
	l->next = ca->head;
	if (ca->head != NULL)
		ca->head->prev = l;
	ca->head = l;
	if (ca->tail == NULL)
		ca->tail = l;
}

int
ca_name_ok(const char *name)
{
	unsigned char b[16];
	size_t n = strlen(name), i;

	if (inet_pton(AF_INET, name, b) == 1 ||
	    inet_pton(AF_INET6, name, b) == 1)
		return 1;
	if (n == 0 || n > 253 || name[0] == '.' || strstr(name, "..") != NULL)
		return 0;
	for (i = 0; i < n; i++)
		if (strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "0123456789-_.*", name[i]) == NULL)
			return 0;
	return 1;
}

/* Signs a leaf for name: a DNS name, or an address (ca_name_ok: the
 * name goes into OpenSSL's configuration syntax, where a comma or an @
 * would mean more than a name). */
static X509 *
mint(struct ca *ca, const char *name)
{
	unsigned char b[16];
	char san[300];
	X509 *x;

	x = cert_new(name, ca->leafkey, LEAF_DAYS);
	X509_set_issuer_name(x, X509_get_subject_name(ca->cert));
	snprintf(san, sizeof(san), "%s:%s", inet_pton(AF_INET, name, b) == 1 ||
	    inet_pton(AF_INET6, name, b) == 1 ? "IP" : "DNS", name);
	ext(x, ca->cert, NID_subject_alt_name, san);
	ext(x, ca->cert, NID_basic_constraints, "critical,CA:FALSE");
	ext(x, ca->cert, NID_key_usage, "critical,digitalSignature");
	ext(x, ca->cert, NID_ext_key_usage, "serverAuth");
	ext(x, ca->cert, NID_authority_key_identifier, "keyid:always");
	if (X509_sign(x, ca->key, EVP_sha256()) == 0)
		errx(TM_EXIT_FAIL, "CA: signing for %s: %s", name, why());
	return x;
}

/* The linear search is over at most LEAF_CACHE names, and a hit moves
 * the name to the front: the names a relay serves are few and hot. */
int
ca_leaf(struct ca *ca, const char *name, X509 **cert, EVP_PKEY **key)
{
	struct leaf *l;

	for (l = ca->head; l != NULL; l = l->next)
		if (strcmp(l->name, name) == 0)
			break;
	if (l == NULL) {
		if (ca->n == LEAF_CACHE) {
			l = ca->tail;
			lru_unlink(ca, l);
			free(l->name);
			X509_free(l->cert);
			free(l);
			ca->n--;
		}
		if ((l = calloc(1, sizeof(*l))) == NULL ||
		    (l->name = strdup(name)) == NULL)
			return -1;
		l->cert = mint(ca, name);
		ca->n++;
	} else
		lru_unlink(ca, l);
	lru_front(ca, l);
	*cert = l->cert;
	*key = ca->leafkey;
	return 0;
}

void
ca_free(struct ca *ca)
{
	struct leaf *l;

	if (ca == NULL)
		return;
	while ((l = ca->head) != NULL) {
		ca->head = l->next;
		free(l->name);
		X509_free(l->cert);
		free(l);
	}
	X509_free(ca->cert);
	EVP_PKEY_free(ca->key);
	EVP_PKEY_free(ca->leafkey);
	free(ca);
}
