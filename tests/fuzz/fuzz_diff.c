/* fuzz_diff.c - libFuzzer target: tcpmon-diff's reading of a capture's
 * exchanges (diff/xch.c) and the normal forms it compares bodies in
 * (diff/cmp.c: XML without volatile nodes then C14N, JSON as sorted
 * values, text less a pattern's matches).  A normal form is computed
 * twice and must come out the same, and never longer than what a body of
 * that size can give.  And tcpmon-mock --raw's steps (diff/script.c) of
 * the same records. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cmp.h"
#include "script.h"
#include "util.h"
#include "xch.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct cmp_opts o;
	static int ready;
	static const char *re[] = { "[0-9]{2}:[0-9]{2}" };
	struct capture c;
	struct scripts ss;
	struct norm a, b;
	char path[64], msg[512];
	size_t i;
	int fd;

	if (!ready) {
		o.xpath[o.nxpath++] = "//@id";
		o.json[o.njson++] = "a.0.b";
		if (cmp_setup(&o, re, 1, msg, sizeof(msg)) < 0)
			abort();
		ready = 1;
	}
	if ((fd = memfd_create("fuzz", MFD_CLOEXEC)) < 0)
		return 0;
	if (write_all(fd, data, size) < 0 || lseek(fd, 0, SEEK_SET) < 0) {
		close(fd);
		return 0;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (cap_read(&c, path, msg, sizeof(msg)) == 0 || c.n > 0) {
		for (i = 0; i < c.n && i < 16; i++) {
			const struct dmsg *m = &c.x[i]->resp;

			if (!m->have)
				continue;
			cmp_body(&o, m->ctype, m->body, m->blen, &a, 1);
			cmp_body(&o, m->ctype, m->body, m->blen, &b, 0);
			if (a.cmplen != b.cmplen ||
			    memcmp(a.cmp, b.cmp, a.cmplen) != 0 ||
			    a.cmp[a.cmplen] != '\0' || a.show[a.showlen] != '\0' ||
			    b.show != NULL)
				abort();
			norm_free(&a);
			norm_free(&b);
		}
	}
	cap_free(&c);
	/* The same records as tcpmon-mock --raw plays them: every step
	 * within its connection's bytes. */
	memset(&ss, 0, sizeof(ss));
	if (lseek(fd, 0, SEEK_SET) == 0)
		(void)scripts_read(&ss, path, msg, sizeof(msg));
	for (i = 0; i < ss.n; i++) {
		const struct script *sc = ss.v[i];
		size_t cend = 0, k;

		for (k = 0; k < sc->ns; k++) {
			const struct step *st = &sc->s[k];

			if ((st->kind == STEP_SERVER && (st->off > sc->slen ||
			    st->len > sc->slen - st->off || st->len == 0 ||
			    st->think_us < 0)) || (st->kind == STEP_CLIENT &&
			    (st->cend <= cend || st->cend > sc->clen)))
				abort();
			if (st->kind == STEP_CLIENT)
				cend = st->cend;
		}
		if (cend != sc->clen)
			abort();
	}
	scripts_free(&ss);
	close(fd);
	return 0;
}
