/* filter.h - the record filter that tcpmon-fmt-xml and tcpmon-fmt-json
 * share: it reassembles HTTP messages (or documents in a stream that is not
 * HTTP) per connection and direction, has them formatted, and writes every
 * record on, in order, with formatted messages in place of the originals. */
#ifndef TCPMON_FILTER_H
#define TCPMON_FILTER_H

#include <stddef.h>

#include "fmt.h"

struct fmt_kind {
	const char	*prog;		/* "tcpmon-fmt-xml" */
	const char	*xform;		/* the xform token: "xml" */
	const char	*lang;		/* for notes: "XML" */
	int		 mtom;		/* formats the root of multipart/related */
	int		 (*media)(const char *content_type);
	int		 (*starts)(int c);	/* a byte that starts a document */
	int		 (*format)(const unsigned char *, size_t,
			    const struct fmt_opts *, struct fmt_buf *,
			    struct fmt_err *);
	void		 (*frame_init)(struct fmt_frame *);
	size_t		 (*frame)(struct fmt_frame *, const unsigned char *,
			    size_t);
};

/* Options, input and output: the whole tool.  Returns the exit status. */
int	 fmt_main(int argc, char **argv, const struct fmt_kind *);

#endif
