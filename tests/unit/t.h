/* t.h - a TAP producer for the C unit tests: ok(cond, "what") per check,
 * return t_done() from main.  tests/run counts the lines. */
#ifndef TCPMON_T_H
#define TCPMON_T_H

#include <stdarg.h>
#include <stdio.h>

static int t_count, t_failed;

static void __attribute__((format(printf, 4, 5), unused))
t_ok(int cond, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	printf("%sok %d - ", cond ? "" : "not ", ++t_count);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (!cond) {
		printf("#   failed at %s:%d\n", file, line);
		t_failed++;
	}
	fflush(stdout);
}

#define ok(cond, ...)	t_ok(!!(cond), __FILE__, __LINE__, __VA_ARGS__)

static int __attribute__((unused))
t_done(void)
{
	printf("1..%d\n", t_count);
	return t_failed ? 1 : 0;
}

#endif
