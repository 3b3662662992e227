/* fmt.h - what the formatting cores (xmlfmt.h, jsonfmt.h) share: an output
 * buffer with a cap, options, an error with its line, and the framing of
 * documents that follow each other in a stream that is not HTTP.
 * tcpmon-fmt-xml, tcpmon-fmt-json and tcpmon-send --pretty use them. */
#ifndef TCPMON_FMT_H
#define TCPMON_FMT_H

#include <stddef.h>
#include <stdint.h>

/* A growing byte buffer that refuses to grow past max (0: no cap), so that
 * formatting cannot turn a small hostile document into gigabytes. */
struct fmt_buf {
	unsigned char	*p;
	size_t		 len, cap, max;
};

/* Returns 0, or -1 when over the cap or out of memory. */
int	 fmt_buf_add(struct fmt_buf *, const void *, size_t);
int	 fmt_buf_addc(struct fmt_buf *, int);
void	 fmt_buf_free(struct fmt_buf *);

struct fmt_opts {
	int		 indent;	/* spaces per level */
	int		 compact;	/* minify instead of indenting */
	const char	*charset;	/* XML: the HTTP charset, or NULL */
};

struct fmt_err {
	char		 msg[256];	/* the parser's message, one line */
	long		 line;		/* 1-based; 0 when unknown */
};

/* Whether a byte is JSON/XML white space, which may precede a document. */
#define FMT_IS_WS(c)	((c) == ' ' || (c) == '\t' || (c) == '\r' || \
			    (c) == '\n')

/*
 * Finds where a document ends in a stream of them.  Feed the bytes from
 * the first byte of the document ('<', '{' or '[', or a UTF-8 byte-order
 * mark); each call returns how many bytes it took, and sets done once the
 * document ended with the last of them.  A byte that cannot be where it is
 * sets bad: the stream is not a sequence of documents.  Framing only looks
 * at brackets, quotes and markup delimiters; the formatter checks the rest.
 */
struct fmt_frame {
	int		 state;
	int		 done, bad;
	uint64_t	 depth;		/* open elements, objects or arrays */
	uint64_t	 sub;		/* DOCTYPE: '[' depth */
	int		 quote;		/* the quote we are inside, or 0 */
	int		 root;		/* XML: the root element started */
	char		 win[8];	/* the last bytes, for "-->" and the like */
	size_t		 nwin;
};

/* Whether the media type of a Content-Type value (parameters ignored) is
 * name, or ends in name when name starts with '+' ("+xml"). */
int	 fmt_media(const char *content_type, const char *name);

/* The framers' first step: 1 if c is a byte of a UTF-8 byte-order mark
 * at the start, 0 if it is the first byte after it (or there is none), -1
 * if a mark was cut short. */
int	 fmt_frame_bom(struct fmt_frame *, int c);

#endif
