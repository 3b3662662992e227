/* fuzz_args.c - libFuzzer target: the parsers of option values and fields
 * (numbers, durations, times, addresses) on any string. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	char s[512], t[TM_TIME_LEN], err[512];
	struct addr a;
	const char *e;
	uint64_t v;
	int64_t us, us2;

	if (n >= sizeof(s))
		return 0;
	memcpy(s, data, n);
	s[n] = '\0';
	if (num_parse(s, 0, UINT64_MAX, &v, &e) == -1 && e == NULL)
		abort();
	(void)dur_parse(s, 86400000, &v, &e);
	if (tm_parse_time(s, &us) == 0) {
		/* A time we accept prints and parses back the same. */
		tm_fmt_time(us, t, sizeof(t));
		if (tm_parse_time(t, &us2) == -1 || us2 != us)
			abort();
	}
	if (addr_parse(s, ADDR_LISTEN, &a, err, sizeof(err)) == 0 &&
	    a.text[0] == '\0')
		abort();
	(void)addr_parse(s, ADDR_TARGET, &a, err, sizeof(err));
	return 0;
}
