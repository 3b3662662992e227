/* inflate.c - gzip and deflate bodies decoded with zlib, with a cap on the
 * output so that a small bomb cannot become gigabytes. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#include "grow.h"
#include "inflate.h"

int
infl_supported(const char *c)
{
	return strcasecmp(c, "gzip") == 0 || strcasecmp(c, "x-gzip") == 0 ||
	    strcasecmp(c, "deflate") == 0;
}

int
infl_init(struct inflater *in, const char *coding, uint64_t max_out)
{
	z_stream *z;

	memset(in, 0, sizeof(*in));
	if (!infl_supported(coding))
		return -1;
	if ((z = calloc(1, sizeof(*z))) == NULL)
		return -1;
	in->z = z;
	in->max_out = max_out;
	in->deflate = strcasecmp(coding, "deflate") == 0;
	/* gzip: 16+; deflate waits for its first two bytes (below). */
	if (!in->deflate && inflateInit2(z, 15 + 16) != Z_OK) {
		free(z);
		in->z = NULL;
		return -1;
	}
	return 0;
}

static int
run(struct inflater *in, const unsigned char *p, size_t n, infl_out_fn *fn,
    void *arg, const char **why)
{
	z_stream *z = in->z;
	unsigned char out[16384];
	size_t got;
	int rc;

	z->next_in = (unsigned char *)(uintptr_t)p;
	z->avail_in = (uInt)n;
	do {
		z->next_out = out;
		z->avail_out = sizeof(out);
		rc = inflate(z, Z_NO_FLUSH);
		if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) {
			*why = z->msg != NULL ? z->msg : "corrupt data";
			return -1;
		}
		got = sizeof(out) - z->avail_out;
		if (in->out + got > in->max_out) {
			*why = "decoded body over the size limit";
			return -1;
		}
		in->out += got;
		if (got > 0)
			fn(arg, out, got);
		if (rc == Z_STREAM_END) {
			in->done = 1;
			return 1;
		}
		if (rc == Z_BUF_ERROR && got == 0)
			break;
	} while (z->avail_in > 0 || z->avail_out == 0);
	return 0;
}

int
infl_feed(struct inflater *in, const unsigned char *p, size_t n,
    infl_out_fn *fn, void *arg, const char **why)
{
	unsigned cmf;
	int rc;

	if (in->done)
		return n == 0 ? 1 : (*why = "data after the end of the "
		    "compressed stream", -1);
	if (in->deflate && !in->raw_tried) {
		/* "deflate" is zlib-wrapped by the standard and raw by
		 * many servers: the first two bytes tell. */
		while (in->nfirst < 2 && n > 0) {
			in->first[in->nfirst++] = *p++;
			n--;
		}
		if (in->nfirst < 2)
			return 0;
		cmf = in->first[0];
		in->raw_tried = 1;
		if (inflateInit2((z_stream *)in->z, (cmf & 0x0f) == 8 &&
		    ((cmf << 8) | in->first[1]) % 31 == 0 ? 15 : -15) != Z_OK) {
			*why = "out of memory";
			return -1;
		}
		if ((rc = run(in, in->first, 2, fn, arg, why)) != 0)
			return rc;
	}
	return run(in, p, n, fn, arg, why);
}

void
infl_free(struct inflater *in)
{
	if (in->z != NULL) {
		if (!in->deflate || in->raw_tried)
			inflateEnd(in->z);
		free(in->z);
	}
	in->z = NULL;
}

struct whole {
	unsigned char	*b;
	size_t		 len, cap;
};

static void
whole_out(void *arg, const unsigned char *p, size_t n)
{
	struct whole *w = arg;

	grow_put(&w->b, &w->len, &w->cap, 4096, p, n);
}

unsigned char *
infl_decode(const char *coding, const void *p, size_t n, uint64_t max_out,
    size_t *outlen, const char **why)
{
	struct inflater in;
	struct whole w = { NULL, 0, 0 };
	int rc;

	*why = NULL;
	if (infl_init(&in, coding, max_out) < 0) {
		*why = infl_supported(coding) ? "out of memory" :
		    "unknown coding";
		return NULL;
	}
	rc = infl_feed(&in, p, n, whole_out, &w, why);
	infl_free(&in);
	if (rc < 0) {
		free(w.b);
		return NULL;
	}
	*outlen = w.len;
	if (w.b == NULL)	/* nothing decoded: still a buffer */
		grow_reserve(&w.b, 0, &w.cap, 1, 1);
	return w.b;
}
