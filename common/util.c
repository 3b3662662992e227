/* util.c - program name, checked numbers, time formatting. */
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

void
tm_setprogname(char **argv, const char *name)
{
	/* getopt_long(3) prints argv[0] in its messages. */
	if (argv != NULL && argv[0] != NULL)
		argv[0] = (char *)name;
	/* glibc's err(3) family prints this name. */
	program_invocation_short_name = (char *)name;
	program_invocation_name = (char *)name;
}

int
tm_list_options(int fd, const struct option *o)
{
	char sh[2] = "-";

	for (; o->name != NULL; o++) {
		sh[0] = o->flag == NULL && o->val > ' ' && o->val < 127 ?
		    (char)o->val : '-';
		if (dprintf(fd, "%s %s %d\n", o->name, sh, o->has_arg) < 0)
			return TM_EXIT_FAIL;
	}
	return TM_EXIT_OK;
}

int
num_parse(const char *s, uint64_t min, uint64_t max, uint64_t *out,
    const char **errstr)
{
	uint64_t n = 0, mul = 1;
	const char *p = s;

	*errstr = "invalid";
	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (n > (UINT64_MAX - (uint64_t)(*p - '0')) / 10) {
			*errstr = "too large";
			return -1;
		}
		n = n * 10 + (uint64_t)(*p - '0');
	}
	switch (*p) {
	case '\0':
		break;
	case 'k': case 'K':
		mul = 1024;
		p++;
		break;
	case 'm': case 'M':
		mul = 1024 * 1024;
		p++;
		break;
	case 'g': case 'G':
		mul = 1024 * 1024 * 1024;
		p++;
		break;
	default:
		return -1;
	}
	if (*p != '\0')
		return -1;
	if (n > UINT64_MAX / mul) {
		*errstr = "too large";
		return -1;
	}
	n *= mul;
	if (n < min) {
		*errstr = "too small";
		return -1;
	}
	if (n > max) {
		*errstr = "too large";
		return -1;
	}
	*errstr = NULL;
	*out = n;
	return 0;
}

int
dur_parse(const char *s, uint64_t max_ms, uint64_t *ms, const char **errstr)
{
	char num[32];
	size_t i = 0;
	uint64_t n, mul;

	*errstr = "invalid";
	while (s[i] >= '0' && s[i] <= '9' && i < sizeof(num) - 1) {
		num[i] = s[i];
		i++;
	}
	num[i] = '\0';
	if (strcmp(s + i, "ms") == 0)
		mul = 1;
	else if (strcmp(s + i, "") == 0 || strcmp(s + i, "s") == 0)
		mul = 1000;
	else if (strcmp(s + i, "m") == 0)
		mul = 60 * 1000;
	else if (strcmp(s + i, "h") == 0)
		mul = 3600 * 1000;
	else
		return -1;
	if (num_parse(num, 0, max_ms / mul, &n, errstr) == -1)
		return -1;
	*ms = n * mul;
	return 0;
}

uint64_t
opt_num(const char *opt, const char *arg, uint64_t min, uint64_t max,
    const char *range)
{
	const char *e;
	uint64_t v;

	if (num_parse(arg, min, max, &v, &e) == -1)
		errx(TM_EXIT_USAGE, "%s %s: %s%s%s%s", opt, arg, e,
		    range != NULL ? " (" : "", range != NULL ? range : "",
		    range != NULL ? ")" : "");
	return v;
}

uint64_t
opt_dur(const char *opt, const char *arg, uint64_t max_ms)
{
	const char *e;
	uint64_t ms;

	if (dur_parse(arg, max_ms, &ms, &e) == -1)
		errx(TM_EXIT_USAGE, "%s %s: %s", opt, arg, e);
	return ms;
}

int
frac_parse(const char *s, double *out, const char **errstr)
{
	double v = 0, scale = 1;
	const char *p = s;
	int digits = 0;

	*errstr = "invalid";
	for (; *p >= '0' && *p <= '9'; p++, digits++)
		v = v * 10 + (*p - '0');
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++, digits++) {
			scale /= 10;
			v += (*p - '0') * scale;
		}
	if (digits == 0 || digits > 15)
		return -1;
	if (*p == '%') {
		v /= 100;
		p++;
	}
	if (*p != '\0')
		return -1;
	if (v > 1) {
		*errstr = "too large";
		return -1;
	}
	*errstr = NULL;
	*out = v;
	return 0;
}

int64_t
tm_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t
tm_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
tm_mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

char *
tm_fmt_time(int64_t usec, char *buf, size_t n)
{
	time_t sec;
	struct tm tm;
	int64_t frac;

	sec = (time_t)(usec / 1000000);
	frac = usec % 1000000;
	if (frac < 0) {
		frac += 1000000;
		sec--;
	}
	if (gmtime_r(&sec, &tm) == NULL) {
		snprintf(buf, n, "invalid-time");
		return buf;
	}
	snprintf(buf, n, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
	    tm.tm_hour, tm.tm_min, tm.tm_sec, (int)frac);
	return buf;
}

/* Strict: exactly the form tm_fmt_time writes, with 0 to 6 fraction digits,
 * and a date that exists. */
int
tm_parse_time(const char *s, int64_t *usec)
{
	static const char form[] = "dddd-dd-ddTdd:dd:dd";
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31,
	    30, 31 };
	const char *p;
	int64_t frac = 0, scale = 100000;
	int v[6], i, leap, y, era, yoe, doy, doe;
	time_t sec;

	for (i = 0; form[i] != '\0'; i++)
		if (form[i] == 'd' ? (s[i] < '0' || s[i] > '9') :
		    s[i] != form[i])
			return -1;
	for (i = 0; i < 6; i++) {
		p = s + (i == 0 ? 0 : 2 + 3 * i);
		v[i] = i == 0 ? (p[0] - '0') * 1000 + (p[1] - '0') * 100 +
		    (p[2] - '0') * 10 + (p[3] - '0') :
		    (p[0] - '0') * 10 + (p[1] - '0');
	}
	leap = (v[0] % 4 == 0 && v[0] % 100 != 0) || v[0] % 400 == 0;
	if (v[0] < 1970 || v[1] < 1 || v[1] > 12 || v[2] < 1 ||
	    v[2] > mdays[v[1] - 1] || (v[1] == 2 && v[2] == 29 && !leap) ||
	    v[3] > 23 || v[4] > 59 || v[5] > 59)
		return -1;
	p = s + sizeof(form) - 1;
	if (*p == '.') {
		p++;
		for (i = 0; p[i] >= '0' && p[i] <= '9'; i++) {
			if (i == 6)
				return -1;
			frac += (p[i] - '0') * scale;
			scale /= 10;
		}
		if (i == 0)
			return -1;
		p += i;
	}
	if (p[0] != 'Z' || p[1] != '\0')
		return -1;
	/* Days from the civil date (H. Hinnant's algorithm) rather than
	 * timegm(3): every record has a time, and timegm costs as much as
	 * parsing the rest of its header. */
	y = v[0] - (v[1] <= 2);
	era = y / 400;
	yoe = y - era * 400;
	doy = (153 * (v[1] + (v[1] > 2 ? -3 : 9)) + 2) / 5 + v[2] - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	sec = (time_t)((int64_t)(era * 146097 + doe - 719468) * 86400 +
	    v[3] * 3600 + v[4] * 60 + v[5]);
	*usec = (int64_t)sec * 1000000 + frac;
	return 0;
}

int
write_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;
	ssize_t w;

	while (n > 0) {
		if ((w = write(fd, p, n)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int
tm_open_input(const char *path, const char **name)
{
	if (strcmp(path, "-") == 0) {
		*name = "stdin";
		return STDIN_FILENO;
	}
	*name = path;
	return open(path, O_RDONLY | O_CLOEXEC);
}

size_t
b64_encode(const void *in, size_t n, char *out)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *p = in;
	size_t i, o = 0;
	uint32_t v;

	for (i = 0; i + 2 < n; i += 3) {
		v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		out[o++] = tab[v >> 18];
		out[o++] = tab[(v >> 12) & 63];
		out[o++] = tab[(v >> 6) & 63];
		out[o++] = tab[v & 63];
	}
	if (i < n) {
		v = (uint32_t)p[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)p[i + 1] << 8;
		out[o++] = tab[v >> 18];
		out[o++] = tab[(v >> 12) & 63];
		out[o++] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
		out[o++] = '=';
	}
	out[o] = '\0';
	return o;
}
