/* fuzz_rewrite.c - libFuzzer target: the rewriting engine of tcpmon-rewrite
 * (rewrite/rw.c) on any input.  An input that starts "TCPMON/" is read as a
 * record stream; any other is HTTP bytes: the first byte picks how they are
 * split into data records of one connection and which direction gets each
 * piece, with holds timing out on the way.  What the engine writes must be
 * a record stream that reads back whole. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "record.h"
#include "rw.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int outfd = -1;

static void
put(struct rw *rw, struct rec *r, const void *p, size_t n, int64_t now)
{
	static unsigned char raw[REC_MAX_HEADER + 70000];
	size_t h;

	if ((h = rec_header(r, n, (char *)raw, sizeof(raw))) == 0 ||
	    h + n + 1 > sizeof(raw))
		return;
	if (n > 0)
		memcpy(raw + h, p, n);
	raw[h + n] = '\n';
	r->len = n;
	r->data = raw + h;
	rw_record(rw, r, raw, h + n + 1, now);
}

/* The output reads back as whole records. */
static void
check_output(void)
{
	struct rec_reader rd;
	struct rec *r;
	off_t len = lseek(outfd, 0, SEEK_CUR);
	unsigned char *p;
	int rc;

	if (len <= 0)
		return;
	if ((p = malloc((size_t)len)) == NULL || (r = malloc(sizeof(*r))) ==
	    NULL || pread(outfd, p, (size_t)len, 0) != len)
		abort();
	if (recr_init_mem(&rd, p, (size_t)len, "out") == -1)
		abort();
	while ((rc = recr_next(&rd, r)) == REC_OK)
		;
	if (rc != REC_END)
		abort();
	recr_free(&rd);
	free(r);
	free(p);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	struct rw_opts o = { 4096, 50 };
	struct rec_writer w;
	struct rec_reader rd;
	struct rec *r;
	struct rw *rw;
	size_t i, step;
	unsigned seed;
	int64_t now = 1000;

	if (n > 65536)
		return 0;
	if (outfd == -1 && (outfd = memfd_create("out", 0)) == -1)
		abort();
	if (ftruncate(outfd, 0) == -1 || lseek(outfd, 0, SEEK_SET) == -1)
		abort();
	if ((r = malloc(sizeof(*r))) == NULL || recw_init(&w, outfd) == -1 ||
	    (rw = rw_new(&o, &w)) == NULL)
		abort();
	if (n >= 7 && memcmp(data, "TCPMON/", 7) == 0) {
		if (recr_init_mem(&rd, data, n, "in") == -1)
			abort();
		while (recr_next(&rd, r) == REC_OK) {
			rw_record(rw, r, rd.raw, rd.rawlen, now);
			now += 20;
			rw_expire(rw, now);
		}
		recr_free(&rd);
	} else if (n >= 1) {
		seed = data[0];
		rec_init(r, REC_OPEN, 1);
		rec_set_src(r, "f");
		rec_set(r, "target", seed & 1 ? "ws.example.org:80" :
		    "127.0.0.1:9000");
		put(rw, r, NULL, 0, now);
		for (i = 1; i < n; i += step) {
			step = 1 + seed % 61;
			if (step > n - i)
				step = n - i;
			rec_init(r, REC_DATA, 1);
			rec_set_src(r, "f");
			r->dir = (seed >> 5) & 1 ? REC_S2C : REC_C2S;
			put(rw, r, data + i, step, now);
			seed = seed * 1103515245u + 12345u;
			if ((seed >> 8) % 7 == 0) {
				now += 60;
				rw_expire(rw, now);
			}
		}
		rec_init(r, REC_SHUTDOWN, 1);
		rec_set_src(r, "f");
		r->dir = REC_C2S;
		put(rw, r, NULL, 0, now);
		rec_init(r, REC_CLOSE, 1);
		rec_set_src(r, "f");
		put(rw, r, NULL, 0, now);
	}
	rw_finish(rw);
	if (recw_flush(&w) == -1)
		abort();
	check_output();
	rw_free(rw);
	recw_free(&w);
	free(r);
	return 0;
}
