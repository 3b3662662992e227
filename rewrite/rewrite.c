/* rewrite.c - tcpmon-rewrite: options, and records from stdin through the
 * engine (rw.c) to stdout.  The same program is a filter of a capture and
 * the stage that tcpmon-relay --rewrite-host puts first in its data path. */
#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "record.h"
#include "rw.h"
#include "util.h"

#define DEFAULT_MAX_BODY	(8 * 1024 * 1024)
#define DEFAULT_HOLD_MS		5000

static void __attribute__((noreturn))
usage(int status)
{
	fprintf(status ? stderr : stdout,
	    "usage: tcpmon-rewrite [--max-body SIZE] [--hold-timeout DUR] "
	    "< records\n");
	if (status == TM_EXIT_OK)
		printf(
		    "\n"
		    "      --max-body SIZE       hold an XML answer up to SIZE to rewrite it (default 8m)\n"
		    "      --hold-timeout DUR    pass on unchanged what was held for DUR (default 5s; 0 never)\n"
		    "  -h, --help                print this help and exit\n"
		    "      --version             print the version and exit\n"
		    "\n"
		    "See tcpmon-rewrite(1).\n");
	exit(status);
}

enum { OPT_MAX_BODY = 256, OPT_HOLD_TIMEOUT, OPT_VERSION };

static const struct option longopts[] = {
	{ "help",		no_argument,	   NULL, 'h' },
	{ "hold-timeout",	required_argument, NULL, OPT_HOLD_TIMEOUT },
	{ "max-body",		required_argument, NULL, OPT_MAX_BODY },
	{ "version",		no_argument,	   NULL, OPT_VERSION },
	{ NULL,			0,		   NULL, 0 }
};

static void
parse_opts(int argc, char **argv, struct rw_opts *o)
{
	int ch;

	memset(o, 0, sizeof(*o));
	o->max_body = DEFAULT_MAX_BODY;
	o->hold_ms = DEFAULT_HOLD_MS;
	if (argc == 2 && strcmp(argv[1], TM_LIST_OPTIONS) == 0)
		exit(tm_list_options(STDOUT_FILENO, longopts));
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case OPT_MAX_BODY:
			o->max_body = (size_t)opt_num("--max-body", optarg,
			    1024, 64 * 1024 * 1024, "1k to 64m");
			break;
		case OPT_HOLD_TIMEOUT:
			o->hold_ms = (int64_t)opt_dur("--hold-timeout", optarg,
			    86400000);
			break;
		case OPT_VERSION:
			printf("tcpmon-rewrite %s\n", TCPMON_VERSION);
			exit(TM_EXIT_OK);
		case 'h':
			usage(TM_EXIT_OK);
		default:
			usage(TM_EXIT_USAGE);
		}
	}
	if (optind != argc)
		errx(TM_EXIT_USAGE, "%s: unexpected argument (records come "
		    "on stdin)", argv[optind]);
}

struct io {
	struct rw	*rw;
	struct rec_writer w;
	int		 fd;
};

static void
check_out(struct io *io)
{
	if (io->w.error == 0)
		return;
	if (io->w.error == EPIPE)
		exit(TM_EXIT_OK);	/* `| head` */
	errno = io->w.error;
	err(TM_EXIT_FAIL, "write stdout");
}

/*
 * Before the reader waits for input: what is written goes out, and what
 * has been held for --hold-timeout is let go meanwhile.  A relay fails a
 * stage that gives nothing back for --stage-timeout; a client that sends
 * half a head and waits must not bring that about.
 */
static void
idle(void *arg)
{
	struct io *io = arg;
	struct pollfd pfd;
	int64_t when, now;
	int n;

	for (;;) {
		recw_flush(&io->w);
		check_out(io);
		if ((when = rw_deadline(io->rw)) == -1)
			return;
		now = tm_mono_ms();
		if (when <= now) {
			rw_expire(io->rw, now);
			continue;
		}
		pfd.fd = io->fd;
		pfd.events = POLLIN;
		n = poll(&pfd, 1, (int)(when - now > 86400000 ? 86400000 :
		    when - now));
		if (n == -1 && errno != EINTR)
			err(TM_EXIT_FAIL, "poll");
		if (n > 0)
			return;
	}
}

int
main(int argc, char **argv)
{
	struct rec_reader rd;
	struct rw_opts o;
	struct rec *r;
	struct io io;
	int rc, status = TM_EXIT_OK;

	tm_setprogname(argv, "tcpmon-rewrite");
	parse_opts(argc, argv, &o);
	signal(SIGPIPE, SIG_IGN);
	memset(&io, 0, sizeof(io));
	io.fd = STDIN_FILENO;
	if ((r = malloc(sizeof(*r))) == NULL ||
	    recw_init(&io.w, STDOUT_FILENO) == -1 ||
	    (io.rw = rw_new(&o, &io.w)) == NULL ||
	    recr_init(&rd, STDIN_FILENO, "stdin") == -1)
		err(TM_EXIT_FAIL, "init");
	rd.idle = idle;
	rd.idle_arg = &io;
	while ((rc = recr_next(&rd, r)) == REC_OK) {
		rw_record(io.rw, r, rd.raw, rd.rawlen, tm_mono_ms());
		check_out(&io);
	}
	if (rc == REC_ERR) {
		warnx("%s", rd.err);
		status = TM_EXIT_USAGE;
	}
	/* The input ended: what is held goes out as it is. */
	rw_finish(io.rw);
	recw_flush(&io.w);
	check_out(&io);
	rw_free(io.rw);
	recr_free(&rd);
	recw_free(&io.w);
	free(r);
	return status;
}
