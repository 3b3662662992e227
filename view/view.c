/* view.c - tcpmon-view: TCPMon's window in a terminal.  Reads captures,
 * standard input, a running relay's tap socket, or a relay of its own
 * (-l), and shows the connections live in a table with the selected
 * exchange's request and response below.
 *
 * One reactor (loop.h) watches the terminal, the input, the relay's
 * messages, the resend under way and the signals (a signalfd).  Records
 * are indexed as they come; a live input is spooled to a file first, so
 * that the view never drops one however far the screen lags. */
#include <curses.h>
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "loop.h"
#include "net.h"
#include "safe.h"
#include "ui.h"
#include "util.h"

#define DRAW_MS		40	/* at most 25 drawings a second */
#define STEP_US		20000	/* a file is read in steps this long */

struct opts {
	const char	*out;		/* -o: keep the spool */
	const char	*attach;
	const char	*listen, *target;
	int		 proxy;
	char	       **relay_argv;	/* after --, for the relay */
	int		 relay_argc;
	int		 color;		/* -1: auto */
	int		 side, per_conn;
	char	       **files;
	int		 nfiles;
};

struct view {
	struct opts	 o;
	struct index	 ix;
	struct ui	 u;
	struct loop	*loop;
	FILE		*tty;
	int		 sigfd;
	int		 in_fd;		/* the input being read, or -1 */
	int		 in_file;	/* a file, read in steps */
	int		 file_i;	/* the file being read */
	struct rec_reader rd;
	int		 rd_on;
	struct rec	*r;
	int		 store;		/* where records of the input go */
	pid_t		 relay;
	int		 relay_err;	/* its stderr */
	char		 rline[512];
	size_t		 nrline;
	int64_t		 last_draw;
	int		 draw_timer;
};

static const struct option longopts[] = {
	{ "attach",	required_argument, NULL, 'a' },
	{ "color",	optional_argument, NULL, 'C' },
	{ "conns",	no_argument,	   NULL, 'c' },
	{ "help",	no_argument,	   NULL, 'h' },
	{ "layout",	required_argument, NULL, 'L' },
	{ "listen",	required_argument, NULL, 'l' },
	{ "output",	required_argument, NULL, 'o' },
	{ "proxy",	no_argument,	   NULL, 'P' },
	{ "target",	required_argument, NULL, 't' },
	{ "version",	no_argument,	   NULL, 'V' },
	{ NULL,		0,		   NULL, 0 }
};

static void __attribute__((noreturn))
usage(int status)
{
	FILE *f = status == 0 ? stdout : stderr;

	fputs("usage: tcpmon-view [-c] [-o FILE] [--color[=WHEN]] "
	    "[--layout stacked|side]\n"
	    "                   [CAPTURE ... | - | --attach PATH]\n"
	    "       tcpmon-view [...] -l [ADDR:]PORT [-t HOST:PORT | --proxy] "
	    "[-- RELAY-OPTIONS]\n", f);
	if (status == TM_EXIT_OK)
		fputs("\n"
		    "  -l, --listen [ADDR:]PORT  start a relay listening there, "
		    "and show it\n"
		    "  -t, --target HOST:PORT    with -l: the relay's target\n"
		    "      --proxy               with -l: the relay is an HTTP "
		    "proxy\n"
		    "      --attach PATH         show a running relay's tap "
		    "socket\n"
		    "  -o, --output FILE         keep the records read (the "
		    "spool) in FILE\n"
		    "  -c, --conns               a row per connection (default: "
		    "per HTTP exchange)\n"
		    "      --layout stacked|side the request above the response, "
		    "or beside it\n"
		    "      --color[=WHEN]        colour: auto, always or never "
		    "(NO_COLOR: never)\n"
		    "  -h, --help                print this help and exit\n"
		    "      --version             print the version and exit\n\n"
		    "Keys: ? in the view.  See tcpmon-view(1).\n", f);
	exit(status);
}

static void
opts_parse(struct opts *o, int argc, char **argv)
{
	const char *nc;
	int ch;

	memset(o, 0, sizeof(*o));
	o->color = -1;
	while ((ch = getopt_long(argc, argv, "+a:chl:o:t:", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'a':
			o->attach = optarg;
			break;
		case 'C':
			if (optarg == NULL || strcmp(optarg, "always") == 0)
				o->color = 1;
			else if (strcmp(optarg, "never") == 0)
				o->color = 0;
			else if (strcmp(optarg, "auto") == 0)
				o->color = -1;
			else
				errx(TM_EXIT_USAGE, "--color %s: not auto, always or "
				    "never", optarg);
			break;
		case 'c':
			o->per_conn = 1;
			break;
		case 'h':
			usage(TM_EXIT_OK);
			break;
		case 'L':
			if (strcmp(optarg, "side") == 0)
				o->side = 1;
			else if (strcmp(optarg, "stacked") == 0)
				o->side = 0;
			else
				errx(TM_EXIT_USAGE, "--layout %s: not stacked or side",
				    optarg);
			break;
		case 'l':
			o->listen = optarg;
			break;
		case 'o':
			o->out = optarg;
			break;
		case 'P':
			o->proxy = 1;
			break;
		case 't':
			o->target = optarg;
			break;
		case 'V':
			printf("tcpmon-view %s\n", TCPMON_VERSION);
			exit(TM_EXIT_OK);
		default:
			usage(TM_EXIT_USAGE);
		}
	}
	argc -= optind;
	argv += optind;
	if (o->listen != NULL) {
		/* What follows (after --) is the relay's. */
		if (optind > 0 && strcmp(argv[-1], "--") != 0 && argc > 0)
			errx(TM_EXIT_USAGE, "%s: with -l, captures are not read (relay "
			    "options go after --)", argv[0]);
		o->relay_argv = argv;
		o->relay_argc = argc;
		if (o->target == NULL && !o->proxy)
			errx(TM_EXIT_USAGE, "-l needs -t HOST:PORT or --proxy");
		if (o->attach != NULL)
			errx(TM_EXIT_USAGE, "-l and --attach: one input at a time");
		return;
	}
	if (o->target != NULL || o->proxy)
		errx(TM_EXIT_USAGE, "%s needs -l", o->proxy ? "--proxy" : "-t");
	o->files = argv;
	o->nfiles = argc;
	if (o->attach != NULL && argc > 0)
		errx(TM_EXIT_USAGE, "--attach and captures: one input at a time");
	if (o->attach == NULL && argc == 0 && isatty(STDIN_FILENO))
		errx(TM_EXIT_USAGE, "no input: name a capture, pipe records in, or "
		    "use -l or --attach");
	if (o->color < 0)
		o->color = (nc = getenv("NO_COLOR")) == NULL || *nc == '\0';
}

/* A tool of the toolkit beside this one (the build's bin/), else PATH's. */
static char *
sibling(const char *name)
{
	char self[PATH_MAX], *slash, *p;
	ssize_t n;

	if ((n = readlink("/proc/self/exe", self, sizeof(self) - 1)) > 0) {
		self[n] = '\0';
		if ((slash = strrchr(self, '/')) != NULL) {
			*slash = '\0';
			if (asprintf(&p, "%s/%s", self, name) >= 0) {
				if (access(p, X_OK) == 0)
					return p;
				free(p);
			}
		}
	}
	if ((p = strdup(name)) == NULL)
		errx(TM_EXIT_FAIL, "out of memory");
	return p;
}

static void	draw(struct view *);

static void
input_done(struct view *v, const char *why, int bad)
{
	if (v->rd_on) {
		recr_free(&v->rd);
		v->rd_on = 0;
	}
	if (v->in_fd >= 0) {
		if (!v->in_file)
			loop_del(v->loop, v->in_fd);
		if (v->in_fd != STDIN_FILENO)
			close(v->in_fd);
		v->in_fd = -1;
	}
	if (bad) {
		snprintf(v->u.msg, sizeof(v->u.msg), "%.500s", why);
		v->u.msg_err = 1;
		v->u.status = TM_EXIT_USAGE;
	}
	v->u.live = 0;
	ix_end(&v->ix);
	if (v->u.filter_on)
		act_filter_end(&v->u);
	v->u.dirty = 1;
}

/* Records of the input, as many as are there (a live input) or as fit in
 * a step (a file): -1 when it ended. */
static int
take(struct view *v)
{
	int64_t t0 = tm_mono_us();
	unsigned n = 0;
	int rc;

	while ((rc = recr_next(&v->rd, v->r)) == REC_OK) {
		if (ix_take(&v->ix, v->store, v->r, v->rd.raw,
		    v->rd.rawlen) < 0) {
			/* The spool cannot be written: the job failed. */
			input_done(v, v->ix.err, 1);
			v->u.status = TM_EXIT_FAIL;
			return -1;
		}
		v->u.dirty = 1;
		if (++n % 1024 == 0 && tm_mono_us() - t0 > STEP_US)
			return 1;
	}
	if (rc == REC_AGAIN)
		return 0;
	if (rc == REC_ERR) {
		char msg[600];

		safe_str(v->rd.err, msg, sizeof(msg));
		input_done(v, msg, 1);
		return -1;
	}
	return -1;
}

static void	file_step(struct loop *, void *);

static int
file_next(struct view *v)
{
	const char *name;

	while (v->file_i < v->o.nfiles) {
		name = v->o.files[v->file_i++];
		if ((v->in_fd = tm_open_input(name, &name)) < 0) {
			snprintf(v->u.msg, sizeof(v->u.msg), "%s: %s", name,
			    strerror(errno));
			v->u.msg_err = 1;
			v->u.status = TM_EXIT_USAGE;
			continue;
		}
		recr_init(&v->rd, v->in_fd, name);
		v->rd_on = 1;
		return 0;
	}
	return -1;
}

static void
file_step(struct loop *l, void *arg)
{
	struct view *v = arg;
	int rc;

	(void)l;
	rc = take(v);
	if (rc < 0 && v->u.status != TM_EXIT_USAGE) {
		/* This file ended: the next one, if any. */
		recr_free(&v->rd);
		v->rd_on = 0;
		if (v->in_fd != STDIN_FILENO)
			close(v->in_fd);
		v->in_fd = -1;
		if (file_next(v) == 0)
			rc = 1;
		else {
			input_done(v, NULL, 0);
			snprintf(v->u.msg, sizeof(v->u.msg), "%llu records "
			    "read", (unsigned long long)v->ix.nrec);
		}
	} else if (rc < 0)
		return;
	if (rc > 0 || (rc == 0 && v->in_fd >= 0))
		loop_once(v->loop, 0, file_step, v);
}

static void	more(struct loop *, void *);

static void
on_input(struct loop *l, int fd, unsigned ev, void *arg)
{
	struct view *v = arg;
	int rc;

	(void)l; (void)fd; (void)ev;
	if ((rc = take(v)) > 0)
		loop_once(v->loop, 0, more, v);
	else if (rc < 0 && v->in_fd >= 0)
		input_done(v, NULL, 0);
}

/* Records already read into the reader's buffer: the fd may not wake us
 * for them. */
static void
more(struct loop *l, void *arg)
{
	struct view *v = arg;

	if (v->in_fd >= 0)
		on_input(l, v->in_fd, LOOP_READ, v);
}

static void
on_key(struct loop *l, int fd, unsigned ev, void *arg)
{
	struct view *v = arg;
	int key;

	(void)fd; (void)ev;
	while ((key = getch()) != ERR) {
		ui_key(&v->u, key);
		if (v->u.quit) {
			loop_stop(l);
			return;
		}
	}
	draw(v);
}

static void
on_relay_err(struct loop *l, int fd, unsigned ev, void *arg)
{
	struct view *v = arg;
	char buf[1024], safe[600];
	ssize_t n, i;

	(void)ev;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		for (i = 0; i < n; i++) {
			if (buf[i] != '\n') {
				if (v->nrline < sizeof(v->rline) - 1)
					v->rline[v->nrline++] = buf[i];
				continue;
			}
			v->rline[v->nrline] = '\0';
			v->nrline = 0;
			safe_str(v->rline, safe, sizeof(safe));
			if (strstr(v->rline, ": listening on ") != NULL)
				snprintf(v->u.listen, sizeof(v->u.listen),
				    "%s", strstr(safe, "listening on "));
			else {
				snprintf(v->u.msg, sizeof(v->u.msg), "%.500s",
				    safe);
				v->u.msg_err = 1;
			}
			v->u.dirty = 1;
		}
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		loop_del(l, fd);
		close(fd);
		v->relay_err = -1;
	}
}

static void
on_signal(struct loop *l, int fd, unsigned ev, void *arg)
{
	struct view *v = arg;
	struct signalfd_siginfo si;
	struct winsize ws;
	pid_t pid;
	int st;

	(void)ev;
	while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGWINCH:
			if (ioctl(fileno(v->tty), TIOCGWINSZ, &ws) == 0 &&
			    ws.ws_row > 0 && ws.ws_col > 0)
				resizeterm(ws.ws_row, ws.ws_col);
			v->u.dirty = 1;
			break;
		case SIGCHLD:
			while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
				if (pid != v->relay) {
					act_reaped(&v->u, pid, st);
					continue;
				}
				v->relay = 0;
				snprintf(v->u.msg, sizeof(v->u.msg),
				    "tcpmon-relay exited with status %d",
				    WIFEXITED(st) ? WEXITSTATUS(st) :
				    128 + WTERMSIG(st));
				v->u.msg_err = 1;
				v->u.dirty = 1;
			}
			break;
		default:	/* INT, TERM, HUP: as q */
			v->u.quit = 1;
			loop_stop(l);
			return;
		}
	}
}

static void
draw(struct view *v)
{
	v->last_draw = tm_mono_ms();
	ui_draw(&v->u);
}

static void
draw_later(struct loop *l, void *arg)
{
	struct view *v = arg;

	(void)l;
	v->draw_timer = 0;
	if (v->u.dirty)
		draw(v);
}

/* After each batch of events: the screen, at most every DRAW_MS. */
static void
after(struct loop *l, void *arg)
{
	struct view *v = arg;
	int64_t wait;

	if (v->u.quit) {
		loop_stop(l);
		return;
	}
	if (!v->u.dirty || v->draw_timer)
		return;
	wait = DRAW_MS - (tm_mono_ms() - v->last_draw);
	if (wait <= 0)
		draw(v);
	else if (loop_once(l, (int)wait, draw_later, v) >= 0)
		v->draw_timer = 1;
}

static void
relay_start(struct view *v)
{
	char **argv, *path;
	int out[2], errp[2], n = 0, i;

	path = sibling("tcpmon-relay");
	if ((argv = calloc((size_t)v->o.relay_argc + 8, sizeof(*argv))) ==
	    NULL)
		errx(TM_EXIT_FAIL, "out of memory");
	argv[n++] = (char *)"tcpmon-relay";
	argv[n++] = (char *)"-l";
	argv[n++] = (char *)v->o.listen;
	if (v->o.target != NULL) {
		argv[n++] = (char *)"-t";
		argv[n++] = (char *)v->o.target;
	}
	if (v->o.proxy)
		argv[n++] = (char *)"--proxy";
	for (i = 0; i < v->o.relay_argc; i++)
		argv[n++] = v->o.relay_argv[i];
	argv[n] = NULL;
	if (pipe2(out, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0)
		err(TM_EXIT_FAIL, "pipe");
	if ((v->relay = fork()) < 0)
		err(TM_EXIT_FAIL, "fork");
	if (v->relay == 0) {
		dup2(out[1], STDOUT_FILENO);
		dup2(errp[1], STDERR_FILENO);
		execvp(path, argv);
		fprintf(stderr, "tcpmon-view: %s: %s\n", path,
		    strerror(errno));
		_exit(127);
	}
	close(out[1]);
	close(errp[1]);
	free(argv);
	free(path);
	v->in_fd = out[0];
	v->relay_err = errp[0];
	sock_nonblock(v->relay_err);
	snprintf(v->u.source, sizeof(v->u.source), "relay -l %s %s%s",
	    v->o.listen, v->o.target != NULL ? "-t " : "--proxy",
	    v->o.target != NULL ? v->o.target : "");
}

/* Whether fd is a file of records that can be shown in place: a regular
 * file, not gzip'd. */
static int
in_place(int fd)
{
	unsigned char m[2];
	struct stat sb;

	return fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) &&
	    pread(fd, m, 2, 0) == 2 && !(m[0] == 0x1f && m[1] == 0x8b);
}

static void
inputs(struct view *v)
{
	const char *name;
	struct stat sb;
	int fd, i;

	v->in_fd = -1;
	v->relay_err = -1;
	v->store = 0;
	/* Files that cannot be opened are found before the screen. */
	for (i = 0; i < v->o.nfiles; i++) {
		if (strcmp(v->o.files[i], "-") == 0)
			continue;
		if ((fd = tm_open_input(v->o.files[i], &name)) < 0) {
			warn("%s", v->o.files[i]);
			exit(TM_EXIT_USAGE);
		}
		if (fstat(fd, &sb) == 0 && S_ISDIR(sb.st_mode))
			errx(TM_EXIT_USAGE, "%s: %s", v->o.files[i],
			    strerror(EISDIR));
		if (v->o.nfiles == 1 && v->o.out == NULL && in_place(fd)) {
			ix_inplace(&v->ix, fd, v->o.files[i]);
			snprintf(v->u.source, sizeof(v->u.source), "%s",
			    v->o.files[i]);
			v->in_fd = open(v->o.files[i], O_RDONLY | O_CLOEXEC);
			v->in_file = 1;
			v->file_i = 1;
			if (v->in_fd < 0)
				err(TM_EXIT_USAGE, "%s", v->o.files[i]);
			recr_init(&v->rd, v->in_fd, v->o.files[i]);
			v->rd_on = 1;
			return;
		}
		close(fd);
	}
	if (ix_spool(&v->ix, 0, v->o.out) < 0)
		err(TM_EXIT_FAIL, "%s", v->o.out != NULL ? v->o.out :
		    "spool");
	if (v->o.listen != NULL) {
		relay_start(v);
	} else if (v->o.attach != NULL) {
		if ((v->in_fd = sock_connect_unix(v->o.attach)) < 0) {
			warn("attach %s", v->o.attach);
			exit(errno == ENAMETOOLONG ? TM_EXIT_USAGE :
			    TM_EXIT_FAIL);
		}
		snprintf(v->u.source, sizeof(v->u.source), "attached to %s",
		    v->o.attach);
	} else if (v->o.nfiles == 0 || (v->o.nfiles == 1 &&
	    strcmp(v->o.files[0], "-") == 0)) {
		v->in_fd = STDIN_FILENO;
		snprintf(v->u.source, sizeof(v->u.source), "stdin");
	} else {
		v->in_file = 1;
		snprintf(v->u.source, sizeof(v->u.source), "%s%s",
		    v->o.files[0], v->o.nfiles > 1 ? " ..." : "");
		if (file_next(v) < 0)
			exit(TM_EXIT_USAGE);
		return;
	}
	sock_nonblock(v->in_fd);
	recr_init(&v->rd, v->in_fd, v->o.attach != NULL ? v->o.attach :
	    v->o.listen != NULL ? "tcpmon-relay" : "stdin");
	v->rd_on = 1;
}

/*
 * While the screen is the view's, a stderr that is a terminal is held in a
 * memory file: a library's warning, or err(3)'s line on the way out, would
 * be drawn over the table and lost with the screen.  give_back ends the screen and writes
 * what was held; it also runs at exit, so that a fatal error anywhere
 * (out of memory in the index) leaves the terminal as it was found, with
 * its one line after it.
 */
static int held = -1, saved_err = -1;

static void
give_back(void)
{
	char buf[4096];
	off_t off = 0;
	ssize_t n;

	if (!isendwin())
		endwin();
	if (saved_err == -1)
		return;
	fflush(stderr);
	(void)dup2(saved_err, STDERR_FILENO);
	while ((n = pread(held, buf, sizeof(buf), off)) > 0 &&
	    write(STDERR_FILENO, buf, (size_t)n) == n)
		off += n;
	close(held);
	close(saved_err);
	held = saved_err = -1;
}

static void
hold_stderr(void)
{
	atexit(give_back);
	/* Only a terminal is held: a file or a pipe takes the messages
	 * as they come (and a sanitizer's report, which leaves without
	 * running atexit).  Without a memory file they go straight
	 * through: a smudge on the screen, not a failure. */
	if (!isatty(STDERR_FILENO) ||
	    (held = memfd_create("tcpmon-view-stderr", MFD_CLOEXEC)) == -1)
		return;
	if ((saved_err = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3)) == -1 ||
	    dup2(held, STDERR_FILENO) == -1) {
		if (saved_err != -1)
			close(saved_err);
		close(held);
		held = saved_err = -1;
	}
}

static void
screen(struct view *v)
{
	if ((v->tty = fopen("/dev/tty", "r+e")) == NULL)
		err(TM_EXIT_USAGE, "/dev/tty: a terminal is needed");
	if (newterm(NULL, v->tty, v->tty) == NULL)
		errx(TM_EXIT_USAGE, "cannot use the terminal (TERM=%s)",
		    getenv("TERM") != NULL ? getenv("TERM") : "");
	hold_stderr();
	cbreak();
	noecho();
	nonl();
	keypad(stdscr, TRUE);
	nodelay(stdscr, TRUE);
	set_escdelay(25);
	curs_set(0);
	if (v->o.color && has_colors()) {
		start_color();
		use_default_colors();
		init_pair(1, COLOR_GREEN, -1);
		init_pair(2, COLOR_RED, -1);
		init_pair(3, COLOR_YELLOW, -1);
		init_pair(4, COLOR_WHITE, COLOR_BLUE);
		v->u.color = 1;
	}
}

int
main(int argc, char **argv)
{
	struct view *v;
	sigset_t ss;
	int st, i;

	tm_setprogname(argv, "tcpmon-view");
	if (argc == 2 && strcmp(argv[1], TM_LIST_OPTIONS) == 0)
		return tm_list_options(STDOUT_FILENO, longopts);
	setlocale(LC_ALL, "");
	if ((v = calloc(1, sizeof(*v))) == NULL ||
	    (v->r = malloc(sizeof(*v->r))) == NULL)
		errx(TM_EXIT_FAIL, "out of memory");
	opts_parse(&v->o, argc, argv);
	ix_init(&v->ix);
	if ((v->loop = loop_new()) == NULL)
		errx(TM_EXIT_FAIL, "out of memory");
	ui_init(&v->u, &v->ix, v->loop);
	v->u.side = v->o.side;
	v->u.per_conn = v->o.per_conn;
	v->u.send_path = sibling("tcpmon-send");
	v->u.live = 1;
	sigemptyset(&ss);
	sigaddset(&ss, SIGWINCH);
	sigaddset(&ss, SIGCHLD);
	sigaddset(&ss, SIGINT);
	sigaddset(&ss, SIGTERM);
	sigaddset(&ss, SIGHUP);
	sigprocmask(SIG_BLOCK, &ss, NULL);
	signal(SIGPIPE, SIG_IGN);
	if ((v->sigfd = signalfd(-1, &ss, SFD_NONBLOCK | SFD_CLOEXEC)) < 0)
		err(TM_EXIT_FAIL, "signalfd");
	inputs(v);
	screen(v);
	loop_add(v->loop, fileno(v->tty), LOOP_READ, on_key, v);
	loop_add(v->loop, v->sigfd, LOOP_READ, on_signal, v);
	if (v->relay_err >= 0)
		loop_add(v->loop, v->relay_err, LOOP_READ, on_relay_err, v);
	if (v->in_file)
		loop_once(v->loop, 0, file_step, v);
	else
		loop_add(v->loop, v->in_fd, LOOP_READ, on_input, v);
	loop_after(v->loop, after, v);
	draw(v);
	loop_run(v->loop);
	give_back();
	if (v->relay > 0) {
		kill(v->relay, SIGTERM);
		for (i = 0; i < 50 && waitpid(v->relay, &st, WNOHANG) == 0; i++)
			usleep(20000);
		if (i == 50) {
			kill(v->relay, SIGKILL);
			waitpid(v->relay, &st, 0);
		}
	}
	st = v->u.status;
	ui_free(&v->u);
	if (v->rd_on)
		recr_free(&v->rd);
	ix_free(&v->ix);
	loop_free(v->loop);
	free(v->r);
	free((void *)v->u.send_path);
	fclose(v->tty);
	free(v);
	return st;
}
