/* fuzz_mint.c - libFuzzer target: the names a client may ask for (SNI, any
 * bytes) on their way into a certificate of the relay's CA (relay/ca.c).
 * A name that ca_name_ok takes is minted, and the certificate must name it
 * and nothing else: one subjectAltName entry, of the right kind, with the
 * name's own bytes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/x509v3.h>

#include "relay.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct ca *ca;
static char dir[64];

/* The CA is made in a directory of the run's own, gone at its end. */
static void
cleanup(void)
{
	char p[128];

	snprintf(p, sizeof(p), "%s/ca.key", dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/ca.pem", dir);
	unlink(p);
	rmdir(dir);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char name[300];
	GENERAL_NAMES *sans;
	const GENERAL_NAME *g;
	EVP_PKEY *key;
	X509 *cert;

	if (size >= sizeof(name))
		return 0;
	memcpy(name, data, size);
	name[size] = '\0';
	if (strlen(name) != size || !ca_name_ok(name))
		return 0;
	if (ca == NULL) {
		snprintf(dir, sizeof(dir), "/tmp/fuzz_mint.%d", (int)getpid());
		ca = ca_open(dir, 1);
		atexit(cleanup);
	}
	if (ca_leaf(ca, name, &cert, &key) == -1)
		abort();
	sans = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	if (sans == NULL || sk_GENERAL_NAME_num(sans) != 1)
		abort();
	g = sk_GENERAL_NAME_value(sans, 0);
	if (g->type == GEN_DNS) {
		if ((size_t)ASN1_STRING_length(g->d.dNSName) != size ||
		    memcmp(ASN1_STRING_get0_data(g->d.dNSName), name, size) != 0)
			abort();
	} else if (g->type != GEN_IPADD)
		abort();
	GENERAL_NAMES_free(sans);
	return 0;
}
