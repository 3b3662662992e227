/* pretty.c - --pretty: a body formatted for a person with the same code as
 * the formatters tcpmon-fmt-xml and tcpmon-fmt-json, so the two never
 * disagree on what "pretty" means. */
#include <stddef.h>

#include "send.h"

/*
 * Returns the body formatted (malloc'ed, its length in *outlen), or NULL
 * to show it as it came: a type we do not format, or a body that does not
 * parse.
 *
 * TODO: the formatting cores are being written with tcpmon-fmt-xml and
 * tcpmon-fmt-json, planned as fmt/xmlfmt.{h,c} and fmt/jsonfmt.{h,c}; they
 * are not on this branch.  When they land, call the XML core for XML types
 * (text/xml, application/xml, application/soap+xml, +xml) and the JSON core
 * for application/json and +json, and link them into tcpmon-send.  Until
 * then every body is shown unchanged.
 */
char *
pretty_body(const char *content_type, const unsigned char *p, size_t n,
    size_t *outlen)
{
	(void)content_type;
	(void)p;
	(void)n;
	*outlen = 0;
	return NULL;
}
