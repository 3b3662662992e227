/* throttle.c - tcpmon-throttle: a slow or faulty link as a record filter.
 * Options, and one epoll loop over non-blocking stdin and stdout; the same
 * program is a plain filter and a stage in the relay's data path. */
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "grow.h"
#include "loop.h"
#include "record.h"
#include "throttle.h"
#include "util.h"

#define MAX_MS		(24 * 3600 * 1000)	/* the longest pause: a day */
/* Output waiting in our buffer before we stop releasing records: enough
 * for a pipe's worth, little enough that nothing waits behind it long. */
#define OUT_HIGH	(256 * 1024)
#define READ_BATCH	1024	/* records read before others get a turn */

static void __attribute__((noreturn))
usage(int status)
{
	fprintf(status ? stderr : stdout,
	    "usage: tcpmon-throttle [--up | --down] [--bytes N --delay MS] "
	    "[--rate BYTES/S]\n"
	    "                       [--latency MS] [--jitter MS] "
	    "[--slice N[:MS]] [--cut-after BYTES]\n"
	    "                       [--reset-after MS] [--stall-after BYTES] "
	    "[--slow-close MS]\n"
	    "                       [--corrupt RATE] [--probability P] "
	    "[--seed N] [--max-queue BYTES]\n");
	if (status == TM_EXIT_OK)
		printf(
		    "\n"
		    "      --up, --down          shape only client-to-server, or server-to-client\n"
		    "      --bytes N             with --delay: pause after every N bytes\n"
		    "      --delay MS            with --bytes: the pause\n"
		    "      --rate BYTES/S        at most BYTES per second per direction\n"
		    "      --latency MS          hold each record of a direction for MS\n"
		    "      --jitter MS           add a random delay of -MS to +MS\n"
		    "      --slice N[:MS]        split data into pieces of N bytes, MS apart\n"
		    "      --cut-after BYTES     end the connection after BYTES of a direction\n"
		    "      --reset-after MS      reset the connection MS after its first record\n"
		    "      --stall-after BYTES   after BYTES, deliver nothing more, keep it open\n"
		    "      --slow-close MS       hold half-closes and closes for MS\n"
		    "      --corrupt RATE        flip a bit in each byte chosen with chance RATE\n"
		    "      --probability P       shape only this fraction of the connections\n"
		    "      --seed N              seed the random choices, to repeat a run\n"
		    "      --max-queue BYTES     hold at most about BYTES in all queues\n"
		    "  -h, --help                print this help and exit\n"
		    "      --version             print the version and exit\n"
		    "\n"
		    "See tcpmon-throttle(1).\n");
	exit(status);
}

enum { OPT_UP = 256, OPT_DOWN, OPT_BYTES, OPT_DELAY, OPT_RATE, OPT_LATENCY,
    OPT_JITTER, OPT_SLICE, OPT_CUT, OPT_RESET, OPT_STALL, OPT_SLOW_CLOSE,
    OPT_CORRUPT, OPT_PROBABILITY, OPT_SEED, OPT_MAX_QUEUE, OPT_VERSION };

static const struct option longopts[] = {
	{ "bytes",	 required_argument, NULL, OPT_BYTES },
	{ "corrupt",	 required_argument, NULL, OPT_CORRUPT },
	{ "cut-after",	 required_argument, NULL, OPT_CUT },
	{ "delay",	 required_argument, NULL, OPT_DELAY },
	{ "down",	 no_argument,	    NULL, OPT_DOWN },
	{ "help",	 no_argument,	    NULL, 'h' },
	{ "jitter",	 required_argument, NULL, OPT_JITTER },
	{ "latency",	 required_argument, NULL, OPT_LATENCY },
	{ "max-queue",	 required_argument, NULL, OPT_MAX_QUEUE },
	{ "probability", required_argument, NULL, OPT_PROBABILITY },
	{ "rate",	 required_argument, NULL, OPT_RATE },
	{ "reset-after", required_argument, NULL, OPT_RESET },
	{ "seed",	 required_argument, NULL, OPT_SEED },
	{ "slice",	 required_argument, NULL, OPT_SLICE },
	{ "slow-close",	 required_argument, NULL, OPT_SLOW_CLOSE },
	{ "stall-after", required_argument, NULL, OPT_STALL },
	{ "up",		 no_argument,	    NULL, OPT_UP },
	{ "version",	 no_argument,	    NULL, OPT_VERSION },
	{ NULL,		 0,		    NULL, 0 }
};

/* A time in milliseconds: a bare number is milliseconds here (as in
 * TCPMon's "delay"), a suffix (ms, s, m, h) says otherwise.  Returns
 * microseconds. */
static int
ms_parse(const char *s, uint64_t *us, const char **e)
{
	uint64_t ms;
	int r;

	if (s[strspn(s, "0123456789")] == '\0')
		r = num_parse(s, 0, MAX_MS, &ms, e);
	else
		r = dur_parse(s, MAX_MS, &ms, e);
	*us = ms * 1000;
	return r;
}

static uint64_t
ms_arg(const char *opt, const char *s)
{
	const char *e;
	uint64_t us;

	if (ms_parse(s, &us, &e) == -1)
		errx(TM_EXIT_USAGE, "--%s %s: %s", opt, s, e);
	return us;
}


static double
frac_arg(const char *opt, const char *s)
{
	const char *e;
	double v;

	if (frac_parse(s, &v, &e) == -1)
		errx(TM_EXIT_USAGE, "--%s %s: %s", opt, s, e);
	return v;
}

static void
parse_opts(int argc, char **argv, struct shape_opts *o)
{
	char num[32], *colon;
	const char *rate, *e;
	size_t n;
	int ch, has_bytes = 0, has_delay = 0, has_seed = 0;

	memset(o, 0, sizeof(*o));
	o->probability = 1;
	o->max_queue = 64 * 1024 * 1024;
	if (argc == 2 && strcmp(argv[1], TM_LIST_OPTIONS) == 0)
		exit(tm_list_options(STDOUT_FILENO, longopts));
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case OPT_UP:
			o->dirs |= SHAPE_C2S;
			break;
		case OPT_DOWN:
			o->dirs |= SHAPE_S2C;
			break;
		case OPT_BYTES:
			o->bytes = opt_num("--bytes", optarg, 1, REC_MAX_PAYLOAD,
			    NULL);
			has_bytes = 1;
			break;
		case OPT_DELAY:
			o->delay_us = ms_arg("delay", optarg);
			has_delay = 1;
			break;
		case OPT_RATE:
			/* "10k" and "10k/s" alike. */
			n = strlen(optarg);
			rate = optarg;
			if (n > 2 && n < sizeof(num) &&
			    strcmp(optarg + n - 2, "/s") == 0) {
				memcpy(num, optarg, n - 2);
				num[n - 2] = '\0';
				rate = num;
			}
			o->rate = opt_num("--rate", rate, 1, (uint64_t)1 << 40,
			    NULL);
			break;
		case OPT_LATENCY:
			o->latency_us = ms_arg("latency", optarg);
			break;
		case OPT_JITTER:
			o->jitter_us = ms_arg("jitter", optarg);
			break;
		case OPT_SLICE:
			/* N[:MS]: each part checked, the message names
			 * the whole argument. */
			n = strcspn(optarg, ":");
			if (n >= sizeof(num))
				errx(TM_EXIT_USAGE, "--slice %s: invalid",
				    optarg);
			memcpy(num, optarg, n);
			num[n] = '\0';
			if (num_parse(num, 1, REC_MAX_PAYLOAD, &o->slice,
			    &e) == -1)
				errx(TM_EXIT_USAGE, "--slice %s: size %s",
				    optarg, e);
			if ((colon = strchr(optarg, ':')) != NULL &&
			    ms_parse(colon + 1, &o->slice_us, &e) == -1)
				errx(TM_EXIT_USAGE, "--slice %s: pause %s",
				    optarg, e);
			break;
		case OPT_CUT:
			o->cut_after = opt_num("--cut-after", optarg, 0,
			    UINT64_MAX, NULL);
			o->has_cut = 1;
			break;
		case OPT_RESET:
			o->reset_us = ms_arg("reset-after", optarg);
			o->has_reset = 1;
			break;
		case OPT_STALL:
			o->stall_after = opt_num("--stall-after", optarg, 0,
			    UINT64_MAX, NULL);
			o->has_stall = 1;
			break;
		case OPT_SLOW_CLOSE:
			o->slow_close_us = ms_arg("slow-close", optarg);
			break;
		case OPT_CORRUPT:
			o->corrupt = frac_arg("corrupt", optarg);
			break;
		case OPT_PROBABILITY:
			o->probability = frac_arg("probability", optarg);
			break;
		case OPT_SEED:
			o->seed = opt_num("--seed", optarg, 0, UINT64_MAX, NULL);
			has_seed = 1;
			break;
		case OPT_MAX_QUEUE:
			o->max_queue = opt_num("--max-queue", optarg, 64 * 1024,
			    (uint64_t)1 << 40, NULL);
			break;
		case OPT_VERSION:
			printf("tcpmon-throttle %s\n", TCPMON_VERSION);
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
	if (has_bytes != has_delay)
		errx(TM_EXIT_USAGE, "--bytes and --delay go together");
	if (o->dirs == 0)
		o->dirs = SHAPE_C2S | SHAPE_S2C;
	if (!has_seed)
		o->seed = (uint64_t)tm_now_us() ^ (uint64_t)getpid() << 32;
	o->any = has_bytes || o->rate || o->latency_us || o->jitter_us ||
	    o->slice || o->has_cut || o->has_reset || o->has_stall ||
	    o->slow_close_us || o->corrupt > 0;
}

struct throttle {
	struct loop	*loop;
	struct shaper	*shaper;
	size_t		 max_queue;
	struct rec_reader rd;
	struct rec	*rec;
	int		 in_poll;	/* stdin is in epoll; else a file */
	int		 out_poll;
	int		 reading;	/* stdin is watched or read */
	int		 in_eof;
	int		 status;	/* exit status once all is out */
	unsigned char	*obuf;		/* output not yet written */
	size_t		 olen, ooff, ocap;
	int64_t		 wake;		/* the timer of the next release */
};

static int saved_fl[2] = { -1, -1 };

/* Our descriptors may be shared with the shell: leave them as found. */
static void
restore_flags(void)
{
	int fd;

	for (fd = 0; fd < 2; fd++)
		if (saved_fl[fd] != -1)
			fcntl(fd, F_SETFL, saved_fl[fd]);
}

static void
set_nonblock(int fd)
{
	if ((saved_fl[fd] = fcntl(fd, F_GETFL)) == -1)
		err(TM_EXIT_FAIL, "%s", fd == 0 ? "stdin" : "stdout");
	if (fcntl(fd, F_SETFL, saved_fl[fd] | O_NONBLOCK) == -1)
		err(TM_EXIT_FAIL, "%s", fd == 0 ? "stdin" : "stdout");
}

static void
out_bytes(void *arg, const void *p, size_t n)
{
	struct throttle *t = arg;

	/* What was written goes first, before the buffer grows. */
	if (t->olen + n > t->ocap && t->ooff > 0) {
		memmove(t->obuf, t->obuf + t->ooff, t->olen - t->ooff);
		t->olen -= t->ooff;
		t->ooff = 0;
	}
	grow_put(&t->obuf, &t->olen, &t->ocap, 4096, p, n);
}

static int
out_full(void *arg)
{
	struct throttle *t = arg;

	return t->olen - t->ooff >= OUT_HIGH;
}

/* Writes what it can; watches stdout while some is left. */
static void
flush_out(struct throttle *t)
{
	ssize_t n;

	while (t->ooff < t->olen) {
		n = write(STDOUT_FILENO, t->obuf + t->ooff, t->olen - t->ooff);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			if (errno == EPIPE)
				exit(t->status);	/* `| head` */
			err(TM_EXIT_FAIL, "write stdout");
		}
		t->ooff += (size_t)n;
	}
	if (t->ooff == t->olen)
		t->ooff = t->olen = 0;
	if (t->out_poll)
		loop_mod(t->loop, STDOUT_FILENO, t->olen > 0 ? LOOP_WRITE : 0);
}

/* Reads whole records until none is left, the queues are full or a batch
 * is done; records are stamped with the time they came in. */
static void
read_input(struct throttle *t)
{
	int64_t now = tm_mono_us();
	int rc, i;

	for (i = 0; i < READ_BATCH; i++) {
		if (shape_queued(t->shaper) >= t->max_queue)
			return;
		if ((rc = recr_next(&t->rd, t->rec)) == REC_AGAIN)
			return;
		if (rc == REC_OK) {
			if (shape_put(t->shaper, t->rec, t->rd.raw,
			    t->rd.rawlen, now) == -1)
				err(TM_EXIT_FAIL, "malloc");
			continue;
		}
		if (rc == REC_ERR) {
			/* What came before still goes out, on time. */
			warnx("%s", t->rd.err);
			t->status = TM_EXIT_USAGE;
		}
		t->in_eof = 1;
		return;
	}
}

static void
on_input(struct loop *l, int fd, unsigned ev, void *arg)
{
	struct throttle *t = arg;

	(void)l;
	(void)fd;
	(void)ev;
	/* Not read while quiet: this is the hang-up loop.c tells once. */
	if (t->reading)
		read_input(t);
}

static void
on_output(struct loop *l, int fd, unsigned ev, void *arg)
{
	(void)l;
	(void)fd;
	(void)ev;
	flush_out(arg);
}

static void
on_wake(struct loop *l, void *arg)
{
	struct throttle *t = arg;

	(void)l;
	t->wake = -1;	/* the work is done in after_batch */
}

/*
 * After every batch of events: release what is due, write it, decide
 * whether to read on (the --max-queue back-pressure), and arm the timer
 * for the next release.
 */
static void
after_batch(struct loop *l, void *arg)
{
	struct throttle *t = arg;
	int64_t next, now;
	int want, ms;

	if (!t->in_poll && !t->in_eof && shape_queued(t->shaper) <
	    t->max_queue)
		read_input(t);	/* a file: always readable */
	next = shape_run(t->shaper, tm_mono_us());
	flush_out(t);

	/* Full queues stop the reading, which holds back the writer: the
	 * back-pressure of --max-queue. */
	want = !t->in_eof && shape_queued(t->shaper) < t->max_queue;
	if (t->in_poll && want != t->reading)
		loop_mod(l, STDIN_FILENO, want ? LOOP_READ : 0);
	t->reading = want;

	if (t->in_eof && next == SHAPE_IDLE && t->olen == 0) {
		loop_stop(l);
		return;
	}
	if (t->wake != -1)
		loop_cancel(l, t->wake);
	t->wake = -1;
	now = tm_mono_us();
	if (want && !t->in_poll)
		ms = 0;
	else if (next == SHAPE_IDLE || out_full(t))
		return;	/* input or stdout wakes us */
	else if (next <= now)
		ms = 0;
	else
		ms = (int)((next - now + 999) / 1000);
	if ((t->wake = loop_once(l, ms, on_wake, t)) == -1)
		errx(TM_EXIT_FAIL, "no timer left");
}

int
main(int argc, char **argv)
{
	struct shape_opts o;
	struct shape_io io;
	struct throttle t;

	tm_setprogname(argv, "tcpmon-throttle");
	parse_opts(argc, argv, &o);
	signal(SIGPIPE, SIG_IGN);

	memset(&t, 0, sizeof(t));
	t.wake = -1;
	t.max_queue = o.max_queue;
	io.out = out_bytes;
	io.full = out_full;
	io.arg = &t;
	if ((t.loop = loop_new()) == NULL ||
	    (t.shaper = shape_new(&o, &io)) == NULL ||
	    (t.rec = malloc(sizeof(*t.rec))) == NULL ||
	    recr_init(&t.rd, STDIN_FILENO, "stdin") == -1)
		err(TM_EXIT_FAIL, "init");
	atexit(restore_flags);
	set_nonblock(STDIN_FILENO);
	set_nonblock(STDOUT_FILENO);
	/* epoll refuses regular files (EPERM): they are always ready, so
	 * after_batch reads and writes them directly. */
	t.in_poll = loop_add(t.loop, STDIN_FILENO, LOOP_READ, on_input,
	    &t) == 0;
	t.reading = t.in_poll;
	t.out_poll = loop_add(t.loop, STDOUT_FILENO, 0, on_output, &t) == 0;
	loop_after(t.loop, after_batch, &t);
	if (!t.in_poll)
		t.wake = loop_once(t.loop, 0, on_wake, &t);

	if (loop_run(t.loop) == -1)
		err(TM_EXIT_FAIL, "epoll_wait");

	recr_free(&t.rd);
	shape_free(t.shaper);
	loop_free(t.loop);
	free(t.rec);
	free(t.obuf);
	return t.status;
}
