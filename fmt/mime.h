/* mime.h - the bits of MIME the formatters need: Content-Type parameters
 * and the root part of a multipart/related body (MTOM/XOP). */
#ifndef TCPMON_MIME_H
#define TCPMON_MIME_H

#include <stddef.h>

/* Copies the value of parameter name (unquoted) into buf; -1 if absent or
 * too long. */
int	 mime_param(const char *ct, const char *name, char *buf, size_t n);

struct mime_part {
	size_t	 start, end;		/* the content, as offsets in the body */
	char	 ctype[256];		/* its Content-Type, or "" */
	char	 cte[32];		/* its Content-Transfer-Encoding */
};

/* Finds the root part of a multipart/related body: the part whose
 * Content-ID is the start parameter, else the first.  Returns 0 or -1. */
int	 mime_root(const unsigned char *body, size_t n, const char *ct,
	    struct mime_part *);

#endif
