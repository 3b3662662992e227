/* grep.c - tcpmon-grep: a filter of records.  It reads a stream, keeps the
 * connections the selectors choose, whole, and writes their records byte for
 * byte; records of the stream itself (conn=0) always pass.  Like grep(1),
 * it exits 1 when it selected nothing. */
#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "input.h"
#include "record.h"
#include "select.h"
#include "util.h"

#define EXIT_NONE	1	/* nothing was selected */

struct grep {
	struct sel	 sel;
	struct rec_writer out;
};

static void __attribute__((noreturn))
usage(int status)
{
	fprintf(status ? stderr : stdout,
	    "usage: tcpmon-grep [--conn [SRC#]N[,M...]] [--since TIME] "
	    "[--until TIME] [-e PATTERN]\n"
	    "                   [--header NAME[=PATTERN]] [-iv] "
	    "[--max-hold SIZE] [--max-conns N]\n"
	    "                   [FILE ...]\n"
	    "       tcpmon-grep [-iv] PATTERN [FILE ...]\n");
	if (status == TM_EXIT_OK)
		printf("\n"
		    SEL_HELP
		    "  -h, --help                print this help and exit\n"
		    "      --version             print the version and exit\n"
		    "\n"
		    "See tcpmon-grep(1).\n");
	exit(status);
}

enum { OPT_VERSION = 256 };

static const struct option longopts[] = {
	{ "help",	no_argument,	   NULL, 'h' },
	{ "version",	no_argument,	   NULL, OPT_VERSION },
	SEL_LONGOPTS,
	{ NULL,		0,		   NULL, 0 }
};

static void
put(void *arg, const struct rec *r, const unsigned char *raw, size_t rawlen)
{
	struct grep *g = arg;

	(void)r;
	if (recw_put_raw(&g->out, raw, rawlen) == -1)
		err(TM_EXIT_FAIL, "write stdout");
}

static void
feed(void *arg, const struct rec *r, const unsigned char *raw, size_t rawlen)
{
	struct grep *g = arg;

	sel_feed(&g->sel, r, raw, rawlen);
}

/* A live stream is passed on before we wait for more of it. */
static void
flush_out(void *arg)
{
	struct grep *g = arg;

	if (recw_flush(&g->out) == -1)
		err(TM_EXIT_FAIL, "write stdout");
}

int
main(int argc, char **argv)
{
	static struct grep g;
	struct sel_opts o;
	struct input in;
	char src[32];
	int ch, i;

	tm_setprogname(argv, "tcpmon-grep");
	sel_opts_init(&o);
	if (argc == 2 && strcmp(argv[1], TM_LIST_OPTIONS) == 0)
		exit(tm_list_options(STDOUT_FILENO, longopts));
	while ((ch = getopt_long(argc, argv, "h" SEL_SHORTOPTS, longopts,
	    NULL)) != -1) {
		if (sel_opt(&o, ch, optarg))
			continue;
		switch (ch) {
		case OPT_VERSION:
			printf("tcpmon-grep %s\n", TCPMON_VERSION);
			return TM_EXIT_OK;
		case 'h':
			usage(TM_EXIT_OK);
		default:
			usage(TM_EXIT_USAGE);
		}
	}
	/* As with grep(1), the first argument is the pattern when no
	 * selector was given as an option. */
	if (!sel_any(&o) && optind < argc)
		sel_opt(&o, 'e', argv[optind++]);
	if (!sel_any(&o))
		errx(TM_EXIT_USAGE, "nothing to select on: give a PATTERN, "
		    "-e, --header, --conn, --since or --until");
	snprintf(src, sizeof(src), "grep-%ld", (long)getpid());
	o.note_src = src;

	sel_init(&g.sel, &o, put, &g);
	if (recw_init(&g.out, STDOUT_FILENO) == -1)
		err(TM_EXIT_FAIL, "malloc");
	in_init(&in, feed, &g, flush_out);
	if (optind == argc)
		in_file(&in, "-");
	for (i = optind; i < argc; i++)
		in_file(&in, argv[i]);
	/* After a bad record too: the connections read so far are decided
	 * on what was seen, and what they hold goes out. */
	sel_end(&g.sel);
	flush_out(&g);
	in_free(&in);
	if (in.status != TM_EXIT_OK)
		return in.status;
	return g.sel.selected > 0 ? TM_EXIT_OK : EXIT_NONE;
}
