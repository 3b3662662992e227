/* inflate.h - decoding gzip and deflate bodies (zlib), bounded.  Tools that
 * use it link with -lz. */
#ifndef TCPMON_INFLATE_H
#define TCPMON_INFLATE_H

#include <stddef.h>
#include <stdint.h>

typedef void infl_out_fn(void *, const unsigned char *, size_t);

struct inflater {
	void		*z;		/* z_stream */
	int		 raw_tried;	/* deflate: zlib-wrapped, then raw */
	int		 done;
	uint64_t	 out, max_out;	/* a bomb stops at max_out */
	unsigned char	 first[2];	/* deflate: the bytes that decide */
	size_t		 nfirst;
	int		 deflate;
};

/* Whether coding is one we decode: gzip, x-gzip, deflate. */
int	 infl_supported(const char *coding);
/* Returns 0, or -1 for an unknown coding or no memory. */
int	 infl_init(struct inflater *, const char *coding, uint64_t max_out);
/* Decodes n bytes, passing output to fn.  Returns 0 (more wanted), 1 (the
 * compressed stream ended), or -1 with *why set. */
int	 infl_feed(struct inflater *, const unsigned char *, size_t,
	    infl_out_fn *fn, void *arg, const char **why);
void	 infl_free(struct inflater *);
/* A whole body decoded at once (the viewers' and --har's): a malloc'd
 * buffer of *outlen bytes, or NULL with *why set (an unknown coding, bad
 * data, more than max_out bytes).  Out of memory ends the program (exit
 * 1), as grow.h's buffers do. */
unsigned char *infl_decode(const char *coding, const void *, size_t n,
	    uint64_t max_out, size_t *outlen, const char **why);

#endif
