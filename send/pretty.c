/* pretty.c - --pretty: a body formatted for a person with the same code as
 * the formatters tcpmon-fmt-xml and tcpmon-fmt-json (fmt/xmlfmt.c and
 * fmt/jsonfmt.c), so the two never disagree on what "pretty" means. */
#include <stddef.h>
#include <string.h>

#include "jsonfmt.h"
#include "send.h"
#include "xmlfmt.h"

/* A formatted body may be larger than the original by its indentation;
 * past this it is shown as it came. */
#define PRETTY_MAX	(64u * 1024 * 1024)

/*
 * Returns the body formatted (malloc'ed, its length in *outlen), or NULL
 * to show it as it came: a type we do not format, or a body that does not
 * parse.  Without a Content-Type, the first byte decides, as in the
 * formatters.
 */
char *
pretty_body(const char *content_type, const unsigned char *p, size_t n,
    size_t *outlen)
{
	struct fmt_opts o = { 2, 0, NULL };
	struct fmt_buf out;
	struct fmt_err e;
	size_t i = 0;
	int rc = -1;

	*outlen = 0;
	memset(&out, 0, sizeof(out));
	out.max = PRETTY_MAX;
	while (i < n && FMT_IS_WS(p[i]))
		i++;
	if (content_type != NULL && *content_type != '\0' ?
	    xmlfmt_media(content_type) : i < n && p[i] == '<')
		rc = xmlfmt_format(p, n, &o, &out, &e);
	else if (content_type != NULL && *content_type != '\0' ?
	    jsonfmt_media(content_type) : i < n && (p[i] == '{' ||
	    p[i] == '['))
		rc = jsonfmt_format(p, n, &o, &out, &e);
	if (rc != 0) {
		fmt_buf_free(&out);
		return NULL;
	}
	*outlen = out.len;
	return (char *)out.p;
}
