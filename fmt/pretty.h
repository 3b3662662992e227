/* pretty.h - a body indented for a person by the formatting cores
 * (xmlfmt.h, jsonfmt.h), chosen by its Content-Type or, without one, by
 * its first byte: what tcpmon-tap --pretty shows. */
#ifndef TCPMON_PRETTY_H
#define TCPMON_PRETTY_H

#include <stddef.h>

/* Returns the body indented (malloc'ed, *outlen bytes; *kind "XML" or
 * "JSON"), or NULL to show it as it came: a type that is not formatted,
 * or a body that does not parse. */
char	*fmt_pretty(const char *content_type, const unsigned char *, size_t,
	    size_t *outlen, const char **kind);

#endif
