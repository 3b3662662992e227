/* act.c - what tcpmon-view does to its store for the screen: the filter
 * (tcpmon-grep's selectors, libtcpmon-select.a), saving connections as
 * records or a pane's raw bytes, and resending a request through
 * tcpmon-send, whose records come back as a new connection. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "loop.h"
#include "safe.h"
#include "ui.h"
#include "util.h"

#define FILTER_ARGS	64

/* Cuts text into words (quotes group, as a shell's do) in buf; a bare
 * word is a pattern, as if -e came before it. */
static int
words(const char *text, char *buf, size_t buflen, char **argv, int max)
{
	char *o = buf, *end = buf + buflen - 1, q;
	const char *p = text;
	int n = 0;

	argv[n++] = (char *)"filter";
	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			break;
		if (n >= max - 2 || o >= end)
			return -1;
		argv[n++] = o;
		q = 0;
		for (; *p != '\0' && (q || (*p != ' ' && *p != '\t')); p++) {
			if (q == 0 && (*p == '\'' || *p == '"'))
				q = *p;
			else if (q != 0 && *p == q)
				q = 0;
			else if (o < end)
				*o++ = *p;
		}
		if (q != 0)
			return -1;
		*o++ = '\0';
	}
	argv[n] = NULL;
	return n;
}

static const struct option sel_longopts[] = {
	SEL_LONGOPTS,
	{ NULL, 0, NULL, 0 }
};

/* Parses text into so (its strings in buf): 0, or -1 with why. */
static int
parse(const char *text, char *buf, size_t buflen, struct sel_opts *so,
    char *why, size_t whylen)
{
	char *argv[FILTER_ARGS];
	int argc, ch, i;

	sel_opts_init(so);
	if ((argc = words(text, buf, buflen, argv, FILTER_ARGS)) < 0) {
		snprintf(why, whylen, "unmatched quote or too long");
		return -1;
	}
	if (argc == 1) {
		snprintf(why, whylen, "empty filter");
		return -1;
	}
	/* Words before the first option are patterns. */
	for (i = 1; i < argc && argv[i][0] != '-'; i++)
		if (sel_opt_parse(so, 'e', argv[i], why, whylen) < 0)
			return -1;
	optind = 0;
	opterr = 0;
	argv[i - 1] = (char *)"filter";
	while ((ch = getopt_long(argc - (i - 1), argv + (i - 1),
	    "+" SEL_SHORTOPTS, sel_longopts, NULL)) != -1) {
		if (ch == '?' || ch == ':') {
			snprintf(why, whylen, "%s: unknown option or no value",
			    argv[i - 1 + (optind > 1 ? optind - 1 : 1)]);
			return -1;
		}
		if (sel_opt_parse(so, ch, optarg, why, whylen) < 0)
			return -1;
	}
	if (optind < argc - (i - 1)) {
		snprintf(why, whylen, "%s: a pattern after the options "
		    "(use -e)", argv[i - 1 + optind]);
		return -1;
	}
	return 0;
}

int
act_filter_check(const char *text, char *why, size_t whylen)
{
	struct sel_opts so;
	struct sel sl;
	char buf[512];
	int rc;

	if (parse(text, buf, sizeof(buf), &so, why, whylen) < 0)
		return -1;
	rc = sel_setup(&sl, &so, NULL, NULL, why, whylen);
	sel_free(&sl);
	return rc;
}

/* What the selector lets through: its connection is picked. */
static void
picked(void *arg, const struct rec *r, const unsigned char *raw, size_t n)
{
	struct ui *u = arg;
	uint32_t *ci;

	(void)raw; (void)n;
	if (r->conn == 0)
		return;
	if ((ci = ctab_get(&u->ix->byid, r->src != NULL ? r->src : "",
	    r->conn)) != NULL && !(u->ix->c[*ci].flags & VC_PICKED)) {
		u->ix->c[*ci].flags |= VC_PICKED;
		u->rows_dirty = 1;
	}
}

static void
live_feed(void *arg, const struct rec *r, const unsigned char *raw, size_t n)
{
	struct ui *u = arg;

	if (u->sl_on)
		sel_feed(&u->sl, r, raw, n);
}

static int
scan_feed(void *arg, const struct rec *r, const unsigned char *raw, size_t n)
{
	live_feed(arg, r, raw, n);
	return 0;
}

void
act_filter_clear(struct ui *u)
{
	size_t i;

	if (u->sl_on)
		sel_free(&u->sl);
	u->sl_on = 0;
	u->filter_on = 0;
	u->filter[0] = '\0';
	u->ix->feed = NULL;
	for (i = 0; i < u->ix->nc; i++)
		u->ix->c[i].flags &= ~VC_PICKED;
	u->rows_dirty = 1;
}

int
act_filter(struct ui *u, const char *text, char *why, size_t whylen)
{
	char copy[sizeof(u->filter)];

	snprintf(copy, sizeof(copy), "%s", text);
	act_filter_clear(u);
	if (parse(copy, u->fbuf, sizeof(u->fbuf), &u->so, why, whylen) < 0)
		return -1;
	if (sel_setup(&u->sl, &u->so, picked, u, why, whylen) < 0) {
		sel_free(&u->sl);
		return -1;
	}
	u->sl_on = 1;
	u->filter_on = 1;
	snprintf(u->filter, sizeof(u->filter), "%s", copy);
	/* What is in the store now, then each record as it comes. */
	if (ix_scan(u->ix, -1, scan_feed, u, why, whylen) < 0) {
		act_filter_clear(u);
		return -1;
	}
	u->ix->feed = live_feed;
	u->ix->feed_arg = u;
	if (!u->live)
		act_filter_end(u);
	return 0;
}

/* No record will come: the connections still undecided are decided. */
void
act_filter_end(struct ui *u)
{
	if (u->sl_on) {
		sel_end(&u->sl);
		sel_free(&u->sl);
		u->sl_on = 0;
	}
	u->ix->feed = NULL;
	u->rows_dirty = 1;
}

struct saving {
	struct ui	*u;
	const unsigned char *want;	/* per connection of the index */
	int		 fd;
	long		 n;
	int		 failed;
	unsigned char	*seen;
};

static int
save_rec(void *arg, const struct rec *r, const unsigned char *raw, size_t n)
{
	struct saving *sv = arg;
	uint32_t *ci;

	if (r->conn == 0) {
		if (r->type != REC_STREAM)
			return 0;
	} else if ((ci = ctab_get(&sv->u->ix->byid, r->src != NULL ? r->src :
	    "", r->conn)) == NULL || !sv->want[*ci])
		return 0;
	else if (!sv->seen[*ci]) {
		sv->seen[*ci] = 1;
		sv->n++;
	}
	if (write_all(sv->fd, raw, n) < 0) {
		sv->failed = errno;
		return 1;
	}
	return 0;
}

long
act_save(struct ui *u, const char *path, const unsigned char *want,
    char *msg, size_t msglen)
{
	struct saving sv = { u, want, -1, 0, 0, NULL };

	if ((sv.seen = calloc(u->ix->nc + 1, 1)) == NULL) {
		snprintf(msg, msglen, "out of memory");
		return -1;
	}
	/* Captures hold what the traffic held: for the user alone. */
	if ((sv.fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) < 0) {
		snprintf(msg, msglen, "%s: %s", path, strerror(errno));
		free(sv.seen);
		return -1;
	}
	if (ix_scan(u->ix, -1, save_rec, &sv, msg, msglen) < 0 ||
	    sv.failed) {
		if (sv.failed)
			snprintf(msg, msglen, "%s: %s", path,
			    strerror(sv.failed));
		close(sv.fd);
		free(sv.seen);
		return -1;
	}
	free(sv.seen);
	if (close(sv.fd) < 0) {
		snprintf(msg, msglen, "%s: %s", path, strerror(errno));
		return -1;
	}
	return sv.n;
}

int
act_save_raw(const char *path, const void *p, size_t n, char *msg,
    size_t msglen)
{
	int fd;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) < 0 || write_all(fd, p, n) < 0 || close(fd) < 0) {
		snprintf(msg, msglen, "%s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

int
act_edit(struct ui *u, const void *req, size_t len, char *msg,
    size_t msglen)
{
	const char *dir, *ed;
	pid_t pid;
	int fd, st;

	if ((dir = getenv("TMPDIR")) == NULL || *dir == '\0')
		dir = "/tmp";
	snprintf(u->edited, sizeof(u->edited), "%s/tcpmon-view-XXXXXX.http",
	    dir);
	if ((fd = mkstemps(u->edited, 5)) < 0 || write_all(fd, req, len) < 0 ||
	    close(fd) < 0) {
		snprintf(msg, msglen, "%s: %s", u->edited, strerror(errno));
		if (fd >= 0)
			unlink(u->edited);
		u->edited[0] = '\0';
		return -1;
	}
	if ((ed = getenv("VISUAL")) == NULL || *ed == '\0')
		if ((ed = getenv("EDITOR")) == NULL || *ed == '\0')
			ed = "vi";
	/* As git does: the editor's value is a shell command, the file its
	 * argument. */
	if ((pid = fork()) < 0) {
		snprintf(msg, msglen, "fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		/* The editor gets the terminal as its input and outputs:
		 * the view's own may be the relay's records (relay | view)
		 * and the memory file that holds its messages. */
		if ((fd = open("/dev/tty", O_RDWR | O_CLOEXEC)) >= 0) {
			(void)dup2(fd, STDIN_FILENO);
			(void)dup2(fd, STDOUT_FILENO);
			(void)dup2(fd, STDERR_FILENO);
		}
		execl("/bin/sh", "sh", "-c", "eval \"$0\" '\"$1\"'", ed,
		    u->edited, (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		snprintf(msg, msglen, "%s exited with %d: nothing sent", ed,
		    WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
		unlink(u->edited);
		u->edited[0] = '\0';
		return -1;
	}
	return 0;
}

static void	child_close(struct ui *);

/* A record of tcpmon-send's: renumbered into the view's own connection,
 * its open record saying what it resends. */
static void
child_rec(struct ui *u, const struct rec *r)
{
	struct child *ch = &u->ch;
	struct rec *o;
	unsigned char *buf;
	size_t h;

	if (r->conn == 0)
		return;
	if ((o = malloc(sizeof(*o))) == NULL ||
	    (buf = malloc(REC_MAX_HEADER + r->len + 1)) == NULL) {
		free(o);
		snprintf(u->msg, sizeof(u->msg), "out of memory");
		return;
	}
	rec_copy(o, r);
	o->conn = ch->conn;
	rec_set_src(o, "view");
	if (r->type == REC_OPEN)
		rec_set(o, "resend-of", ch->orig);
	if ((h = rec_header(o, r->len, (char *)buf, REC_MAX_HEADER)) > 0) {
		memcpy(buf + h, r->data, r->len);
		buf[h + r->len] = '\n';
		o->data = buf + h;
		o->len = r->len;
		if (ix_take(u->ix, 1, o, buf, h + r->len + 1) < 0)
			snprintf(u->msg, sizeof(u->msg), "%s", u->ix->err);
		u->rows_dirty = 1;
		u->dirty = 1;
	}
	free(buf);
	free(o);
}

static void
child_out(struct loop *l, int fd, unsigned ev, void *arg)
{
	struct ui *u = arg;
	struct rec *r;
	int n;

	(void)l; (void)fd; (void)ev;
	if ((r = malloc(sizeof(*r))) == NULL)
		return;
	while ((n = recr_next(&u->ch.rd, r)) == REC_OK)
		child_rec(u, r);
	free(r);
	if (n == REC_AGAIN)
		return;
	if (n == REC_ERR)
		snprintf(u->ch.last, sizeof(u->ch.last), "%.255s", u->ch.rd.err);
	u->ch.out_done = 1;
	child_close(u);
}

static void
child_err(struct loop *l, int fd, unsigned ev, void *arg)
{
	struct ui *u = arg;
	char buf[1024];
	ssize_t n, i;

	(void)l; (void)ev;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		for (i = 0; i < n; i++) {
			if (buf[i] == '\n') {
				u->ch.last[u->ch.nlast] = '\0';
				u->ch.nlast = 0;
			} else if (u->ch.nlast < sizeof(u->ch.last) - 1) {
				if (u->ch.nlast == 0)
					u->ch.last[0] = '\0';
				u->ch.last[u->ch.nlast++] = buf[i];
			}
		}
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		loop_del(u->loop, fd);
		close(fd);
		u->ch.err = -1;
		child_close(u);
	}
}

/* The resend is over when tcpmon-send has exited and said all it had. */
static void
child_close(struct ui *u)
{
	struct child *ch = &u->ch;
	char safe[300];

	if (ch->out_done && ch->out >= 0) {
		loop_del(u->loop, ch->out);
		recr_free(&ch->rd);
		ch->rd_on = 0;
		close(ch->out);
		ch->out = -1;
	}
	if (!ch->exited || ch->out >= 0 || ch->err >= 0)
		return;
	safe_str(ch->last, safe, sizeof(safe));
	if (WIFEXITED(ch->status) && WEXITSTATUS(ch->status) == 0)
		snprintf(u->msg, sizeof(u->msg), "resent %s as #%llu%s%s",
		    ch->orig, (unsigned long long)ch->conn,
		    safe[0] ? ": " : "", safe);
	else
		snprintf(u->msg, sizeof(u->msg), "resend of %s failed%s%s",
		    ch->orig, safe[0] ? ": " : "", safe);
	u->msg_err = !(WIFEXITED(ch->status) && WEXITSTATUS(ch->status) == 0);
	ch->pid = 0;
	u->dirty = 1;
	if (u->filter_on && !u->live) {
		char why[256], f[sizeof(u->filter)];

		snprintf(f, sizeof(f), "%s", u->filter);
		act_filter(u, f, why, sizeof(why));
	}
}

void
act_reaped(struct ui *u, pid_t pid, int status)
{
	if (pid != u->ch.pid || pid == 0)
		return;
	u->ch.exited = 1;
	u->ch.status = status;
	child_close(u);
}

int
act_resend(struct ui *u, const char *target, const void *req, size_t len,
    int fix, const char *orig, char *msg, size_t msglen)
{
	struct child *ch = &u->ch;
	int in = -1, out[2] = { -1, -1 }, err[2] = { -1, -1 };
	const char *dir;
	size_t i;
	pid_t pid;

	if (ch->pid != 0) {
		snprintf(msg, msglen, "a resend is under way");
		return -1;
	}
	if (ix_spool_own(u->ix) < 0) {
		snprintf(msg, msglen, "spool: %s", strerror(errno));
		return -1;
	}
	if ((dir = getenv("TMPDIR")) == NULL || *dir == '\0')
		dir = "/tmp";
	if ((in = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600)) < 0 ||
	    write_all(in, req, len) < 0 || lseek(in, 0, SEEK_SET) < 0 ||
	    pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0 ||
	    (pid = fork()) < 0) {
		snprintf(msg, msglen, "%s", strerror(errno));
		goto fail;
	}
	if (pid == 0) {
		dup2(in, 0);
		dup2(out[1], 1);
		dup2(err[1], 2);
		execl(u->send_path, "tcpmon-send", "--raw", "--records", "--no-fail",
		    fix ? "--fix-length" : "--as-is", target, "-", (char *)NULL);
		fprintf(stderr, "tcpmon-view: %s: %s\n", u->send_path,
		    strerror(errno));
		_exit(127);
	}
	close(in);
	close(out[1]);
	close(err[1]);
	memset(ch, 0, sizeof(*ch));
	ch->pid = pid;
	ch->out = out[0];
	ch->err = err[0];
	snprintf(ch->orig, sizeof(ch->orig), "%s", orig);
	/* Its number: after every number seen, so that rows stay apart. */
	for (i = 0; i < u->ix->nc; i++)
		if (u->ix->c[i].conn >= u->ix->own_next)
			u->ix->own_next = u->ix->c[i].conn + 1;
	ch->conn = u->ix->own_next++;
	fcntl(ch->out, F_SETFL, O_NONBLOCK);
	fcntl(ch->err, F_SETFL, O_NONBLOCK);
	recr_init(&ch->rd, ch->out, "tcpmon-send");
	ch->rd_on = 1;
	loop_add(u->loop, ch->out, LOOP_READ, child_out, u);
	loop_add(u->loop, ch->err, LOOP_READ, child_err, u);
	snprintf(msg, msglen, "resending %s to %s", orig, target);
	return 0;
fail:
	if (in >= 0)
		close(in);
	for (i = 0; i < 2; i++) {
		if (out[i] >= 0)
			close(out[i]);
		if (err[i] >= 0)
			close(err[i]);
	}
	return -1;
}

void
act_free(struct ui *u)
{
	struct child *ch = &u->ch;
	int st;

	if (ch->pid > 0) {
		kill(ch->pid, SIGTERM);
		waitpid(ch->pid, &st, 0);
		ch->pid = 0;
	}
	if (ch->rd_on)
		recr_free(&ch->rd);
	if (ch->out >= 0)
		close(ch->out);
	if (ch->err >= 0)
		close(ch->err);
	if (u->sl_on)
		sel_free(&u->sl);
	u->sl_on = 0;
}
