/* pretty.c - the choice of formatter for a body shown to a person: XML for
 * an XML media type, JSON for a JSON one, the first byte when no type was
 * given (as the filters do), nothing for other types. */
#include <string.h>

#include "jsonfmt.h"
#include "pretty.h"
#include "xmlfmt.h"

/* Indentation adds to a document; past this it is shown as it came. */
#define PRETTY_MAX	(64u * 1024 * 1024)

char *
fmt_pretty(const char *ct, const unsigned char *p, size_t n, size_t *outlen,
    const char **kind)
{
	struct fmt_opts o = { 2, 0, NULL };
	struct fmt_buf out;
	struct fmt_err e;
	size_t i = 0;
	int typed = ct != NULL && *ct != '\0', rc = -1;

	*outlen = 0;
	*kind = NULL;
	memset(&out, 0, sizeof(out));
	out.max = n < PRETTY_MAX / 8 ? 8 * n + 4096 : PRETTY_MAX;
	while (i < n && FMT_IS_WS(p[i]))
		i++;
	if (typed ? xmlfmt_media(ct) : i < n && p[i] == '<') {
		*kind = "XML";
		rc = xmlfmt_format(p, n, &o, &out, &e);
	} else if (typed ? jsonfmt_media(ct) : i < n && (p[i] == '{' ||
	    p[i] == '[')) {
		*kind = "JSON";
		rc = jsonfmt_format(p, n, &o, &out, &e);
	}
	if (rc != 0) {
		fmt_buf_free(&out);
		*kind = NULL;
		return NULL;
	}
	*outlen = out.len;
	return (char *)out.p;
}
