/* xmlfmt.h - XML in, indented (or minified) XML out, with libxml2 set up
 * for hostile input: no network, no external entities or DTDs, no entity
 * expansion.  Shared by tcpmon-fmt-xml and tcpmon-send --pretty; link with
 * -lxml2. */
#ifndef TCPMON_XMLFMT_H
#define TCPMON_XMLFMT_H

#include "fmt.h"

/* Whether a Content-Type names XML: text/xml, application/xml,
 * application/xop+xml, any +xml.  Parameters are ignored. */
int	 xmlfmt_media(const char *content_type);

/*
 * Formats the document in[0..n).  The XML declaration is copied as it was
 * and the output is in the document's encoding.  Returns 0 with the result
 * appended to out, or -1 with err set (out may then hold part of it).
 */
int	 xmlfmt_format(const unsigned char *in, size_t n,
	    const struct fmt_opts *, struct fmt_buf *out, struct fmt_err *err);

void	 xmlfmt_frame_init(struct fmt_frame *);
size_t	 xmlfmt_frame(struct fmt_frame *, const unsigned char *, size_t);

#endif
