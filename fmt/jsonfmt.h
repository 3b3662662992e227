/* jsonfmt.h - JSON in, indented (or minified) JSON out.  Only the white
 * space between tokens changes: strings, numbers and keys are copied byte
 * for byte, in their order, duplicates included.  Shared by tcpmon-fmt-json
 * and tcpmon-send --pretty. */
#ifndef TCPMON_JSONFMT_H
#define TCPMON_JSONFMT_H

#include "fmt.h"

#define JSONFMT_MAX_DEPTH	1000

/* Whether a Content-Type names JSON: application/json, text/json, any
 * +json.  Parameters are ignored. */
int	 jsonfmt_media(const char *content_type);

/* Formats the JSON text in[0..n) (RFC 8259, one value).  Returns 0 with
 * the result appended to out, or -1 with err set. */
int	 jsonfmt_format(const unsigned char *in, size_t n,
	    const struct fmt_opts *, struct fmt_buf *out, struct fmt_err *err);

void	 jsonfmt_frame_init(struct fmt_frame *);
size_t	 jsonfmt_frame(struct fmt_frame *, const unsigned char *, size_t);

#endif
