/* sni.h - the server name a TLS client asks for (SNI, RFC 6066), read from
 * the ClientHello at the start of what it sends, so that a view can say
 * where an encrypted connection goes instead of showing its bytes. */
#ifndef TCPMON_SNI_H
#define TCPMON_SNI_H

#include <stddef.h>

/* The most a ClientHello is read for: past it the answer is SNI_NONAME. */
#define SNI_MAX		16384

enum sni_result {
	SNI_NOT_TLS = -1,	/* the bytes do not start a TLS handshake */
	SNI_MORE = 0,		/* a ClientHello so far: give more bytes */
	SNI_NONAME = 1,		/* TLS, but no host name to be had */
	SNI_NAME = 2		/* name holds the host name */
};

/* Reads the first n bytes a client sent (from its first byte; n may grow
 * between calls as more come).  With SNI_NAME, name holds the host name,
 * cut to namelen with its NUL; its bytes are as sent, for the caller to
 * make safe. */
enum sni_result	sni_parse(const unsigned char *, size_t n, char *name,
		    size_t namelen);

#endif
