/* tap.c - tcpmon-tap: reads records from files or stdin and shows each
 * connection's conversation to a person. */
#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "record.h"
#include "show.h"
#include "util.h"

static void __attribute__((noreturn))
usage(int status)
{
	fprintf(status ? stderr : stdout, "usage: tcpmon-tap [FILE ...]\n");
	exit(status);
}

static const struct option longopts[] = {
	{ "help",	no_argument,	NULL, 'h' },
	{ "version",	no_argument,	NULL, 'V' },
	{ NULL,		0,		NULL, 0 }
};

/* Output reaches a person watching a live stream before we wait for more. */
static void
flush_stdout(void *arg)
{
	(void)arg;
	fflush(stdout);
}

/* Shows one input; returns 0, or the exit status for a failure. */
static int
tap_file(struct show *s, const char *path)
{
	struct rec_reader rd;
	struct rec *r;
	const char *name;
	int fd, rc, status = TM_EXIT_OK;

	if ((fd = tm_open_input(path, &name)) == -1) {
		warn("%s", path);
		return TM_EXIT_FAIL;
	}
	if ((r = malloc(sizeof(*r))) == NULL || recr_init(&rd, fd, name) == -1)
		err(TM_EXIT_FAIL, "malloc");
	rd.idle = flush_stdout;
	while ((rc = recr_next(&rd, r)) == REC_OK)
		show_record(s, r);
	if (rc == REC_ERR) {
		fflush(stdout);
		warnx("%s", rd.err);
		status = TM_EXIT_USAGE;
	}
	recr_free(&rd);
	free(r);
	if (fd != STDIN_FILENO)
		close(fd);
	return status;
}

int
main(int argc, char **argv)
{
	struct show s;
	int ch, i, rc, status = TM_EXIT_OK;

	tm_setprogname("tcpmon-tap");
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			usage(TM_EXIT_OK);
		case 'V':
			printf("tcpmon-tap %s\n", TCPMON_VERSION);
			return TM_EXIT_OK;
		default:
			usage(TM_EXIT_USAGE);
		}
	}
	show_init(&s, stdout);
	if (optind == argc)
		status = tap_file(&s, "-");
	for (i = optind; i < argc; i++)
		if ((rc = tap_file(&s, argv[i])) != TM_EXIT_OK &&
		    (status == TM_EXIT_OK || rc == TM_EXIT_USAGE))
			status = rc;
	if (fflush(stdout) == EOF && errno != EPIPE)
		err(TM_EXIT_FAIL, "stdout");
	return status;
}
