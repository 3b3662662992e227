/* safe.h - the one way text from records and peers reaches a terminal:
 * payload text, field values and error messages that quote a peer all go
 * through it, so that nothing in the traffic can send the terminal an
 * escape sequence (SECURITY.md).  What comes out is printable ASCII and
 * UTF-8 characters from U+00A0 on; every other byte is shown visibly. */
#ifndef TCPMON_SAFE_H
#define TCPMON_SAFE_H

#include <stddef.h>

/* Payload text: tab and LF pass, and each control character or byte that
 * is not UTF-8 becomes '.' (the views' convention).  Without it each
 * becomes \xNN, so a message stays on one line. */
#define SAFE_TEXT	1
/* With SAFE_TEXT: CR LF becomes LF (a lone CR is still a '.'). */
#define SAFE_CRLF	2

/* The state of one stream of text given in pieces: a UTF-8 character cut
 * at the end of a piece is held until the next one tells what it is. */
struct safe {
	int		 flags;
	unsigned char	 cut[4];
	size_t		 ncut;
};

/* The room safe_feed needs for n bytes, and safe_end at most. */
#define SAFE_ROOM(n)	(4 * (n) + 16)

void	 safe_init(struct safe *, int flags);
/* Renders n bytes into out (SAFE_ROOM(n) bytes); returns the length. */
size_t	 safe_feed(struct safe *, const void *, size_t n, char *out);
/* Renders what is held of a cut character: the text ends, or something
 * else is written to the terminal now. */
size_t	 safe_end(struct safe *, char *out);
/* A string of one piece, rendered with \xNN into out (cut to outlen, with
 * its NUL); returns out, for printf. */
char	*safe_str(const char *, char *out, size_t outlen);
/* The same, for n bytes that need not end in a NUL. */
char	*safe_mem(const void *, size_t n, char *out, size_t outlen);

#endif
