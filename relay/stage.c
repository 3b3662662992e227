/* stage.c - the relay's data-path stages (--through): programs between
 * reading a peer and delivering to the other, spoken to in records over
 * socketpairs, never blocked on, and never gone around when they fail. */
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "relay.h"
#include "util.h"

#define NBUCKET		4096	/* connections by id */
/* Records read from the last stage per wakeup: the sockets get a turn. */
#define READ_BATCH	256
/* Socket buffers toward and from the stages: a few reads' worth, so that
 * a stage that keeps up never makes the relay wait. */
#define PAIR_BUF	(1024 * 1024)
/* Chunks of up to one read and its header come from a free list: the
 * steady state allocates nothing. */
#define CHUNK_DATA	(RELAY_BUF + REC_MAX_HEADER + 1)
#define CHUNK_KEEP	32
/* At exit, how long stages get to end after SIGTERM before SIGKILL. */
#define STOP_MS		2000
/* How long a stage may take to pass the stream record on at start. */
/* How long a stage that holds the stream record back delays the relay's
 * start; on a loaded machine a stage with bad options takes more than a
 * second to be exec'd and fail (seen in CI), so that is too short. */
#define STARTUP_MS	3000

struct stage {
	char		*cmd;
	pid_t		 pid;
	int		 pidfd;
	int		 reaped;
	struct relay	*r;
};

/* Record bytes the first stage has not taken yet.  A chunk of data or
 * shutdown counts against its direction's share (struct half.staged):
 * that direction is not read again until the chunk has gone. */
struct chunk {
	struct chunk	*next;
	struct conn	*c;		/* NULL: counts against nobody */
	enum rec_dir	 dir;
	size_t		 off, len;
	unsigned char	 data[];
};

static void stage_watch(struct relay *, struct conn *);
static void stage_side_failed(struct relay *, struct conn *, enum side, int);

struct stages {
	struct stage	 s[MAX_STAGES];
	int		 n;
	int		 wfd, rfd;	/* into the first, out of the last */
	uint64_t	 timeout_ms;
	struct chunk	*head, *tail;
	struct rec_reader rd;
	struct rec	 rec;		/* the record being acted on */
	int		 reading;	/* rfd is watched */
	int		 parked;	/* waiting for room in the output */
	int64_t		 wait_since;	/* records in, none back: since */
	int		 failed;
	int		 starting;	/* until stage_ready: a failure is said there */
	char		 why[1040];
	unsigned char	*rbuf;		/* what a socket read goes into */
	struct chunk	*spare[CHUNK_KEEP];
	int		 nspare;
	struct conn	*tab[NBUCKET];
};

static void st_watch(struct relay *);
static void act(struct relay *);

static struct chunk *
chunk_new(struct stages *st, size_t n)
{
	struct chunk *ch;

	if (n <= CHUNK_DATA && st->nspare > 0)
		ch = st->spare[--st->nspare];
	else if ((ch = malloc(sizeof(*ch) + (n <= CHUNK_DATA ?
	    CHUNK_DATA : n))) == NULL)
		err(TM_EXIT_FAIL, "malloc");
	ch->next = NULL;
	ch->c = NULL;
	ch->off = 0;
	ch->len = n;
	return ch;
}

static void
chunk_put(struct stages *st, struct chunk *ch)
{
	if (ch->len <= CHUNK_DATA && st->nspare < CHUNK_KEEP)
		st->spare[st->nspare++] = ch;
	else
		free(ch);
}

static struct half *
half_of(struct conn *c, enum rec_dir d)
{
	return d == REC_C2S ? &c->c2s : &c->s2c;
}

/* The socket a direction is delivered to, and its side. */
static int
to_fd(struct conn *c, enum rec_dir d)
{
	return d == REC_C2S ? c->sfd : c->cfd;
}

static enum side
to_side(enum rec_dir d)
{
	return d == REC_C2S ? SERVER : CLIENT;
}

static struct conn *
lookup(struct stages *st, uint64_t id)
{
	struct conn *c;

	for (c = st->tab[id % NBUCKET]; c != NULL; c = c->hnext)
		if (c->id == id)
			return c;
	return NULL;
}

static void
unlink_conn(struct stages *st, struct conn *c)
{
	struct conn **pp;

	for (pp = &st->tab[c->id % NBUCKET]; *pp != NULL; pp = &(*pp)->hnext)
		if (*pp == c) {
			*pp = c->hnext;
			break;
		}
	c->hnext = NULL;
}

/* Names the stage (or the chain, idx -1) in messages. */
static void
stage_name(struct stages *st, int idx, char *buf, size_t n)
{
	size_t at;
	int i;

	if (idx >= 0 || st->n == 1) {
		snprintf(buf, n, "stage '%s'", st->s[idx >= 0 ? idx : 0].cmd);
		return;
	}
	at = (size_t)snprintf(buf, n, "stages");
	for (i = 0; i < st->n && at < n; i++)
		at += (size_t)snprintf(buf + at, n - at, "%s'%s'",
		    i ? " | " : " ", st->s[i].cmd);
}

/*
 * After a failure, at the end of the batch (no connection is in use any
 * more): the note, every connection closed with the reason, and the loop
 * stopped; main exits 1.
 */
static void
fail_now(struct loop *l, void *arg)
{
	struct relay *r = arg;
	struct stages *st = r->stage;
	struct conn *c;
	struct rec rec;
	char text[sizeof(st->why) + 1];
	size_t t;

	rec_init(&rec, REC_NOTE, 0);
	rec_set_src(&rec, r->src);
	rec_set(&rec, "level", "error");
	t = strlen(st->why);
	memcpy(text, st->why, t);
	text[t++] = '\n';
	relay_put(r, &rec, text, t);
	/* What the peers see: a reset, which no stage could have delayed;
	 * it is recorded both as sent and as delivered. */
	while ((c = r->conns) != NULL) {
		conn_close_rec(r, c, &rec, "error", -1, st->why);
		if (!c->ending) {
			rec_set(&rec, "at", "sent");
			relay_put(r, &rec, NULL, 0);
		}
		if (c->in_stage) {
			rec_set(&rec, "at", "delivered");
			relay_put(r, &rec, NULL, 0);
		}
		c->ending = 1;
		conn_end(r, c, 1, 1);
	}
	r->status = TM_EXIT_FAIL;
	loop_stop(l);
}

/* A stage failed: said at once on stderr, acted on after the batch. */
static void __attribute__((format(printf, 3, 4)))
stage_fail(struct relay *r, int idx, const char *fmt, ...)
{
	struct stages *st = r->stage;
	char name[512], what[512];
	va_list ap;

	if (st->failed)
		return;
	st->failed = 1;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	stage_name(st, idx, name, sizeof(name));
	snprintf(st->why, sizeof(st->why), "%s: %s", name, what);
	if (!st->starting)
		warnx("%s", st->why);
	if (st->reading) {
		loop_mod(r->loop, st->rfd, 0);
		st->reading = 0;
	}
	if (loop_once(r->loop, 0, fail_now, r) == -1)
		fail_now(r->loop, r);
}

/* Says how a reaped stage ended. */
static void
fail_exited(struct relay *r, int idx, int status)
{
	if (WIFSIGNALED(status))
		stage_fail(r, idx, "killed by signal %d (%s)",
		    WTERMSIG(status), strsignal(WTERMSIG(status)));
	else
		stage_fail(r, idx, "exited with status %d",
		    WEXITSTATUS(status));
}

/* A pipe to or from the stages ended: a stage exited, most likely, and
 * which one, and how, is worth waiting a moment to learn. */
static void
stage_gone(struct relay *r, int idx, const char *what)
{
	struct stages *st = r->stage;
	struct timespec ts = { 0, 10 * 1000 * 1000 };
	int i, tries, status;

	for (tries = 0; tries < 30; tries++) {
		for (i = 0; i < st->n; i++)
			if (!st->s[i].reaped && waitpid(st->s[i].pid, &status,
			    WNOHANG) == st->s[i].pid) {
				st->s[i].reaped = 1;
				fail_exited(r, i, status);
				return;
			}
		nanosleep(&ts, NULL);
	}
	stage_fail(r, idx, "%s", what);
}

static void
stage_eof(struct relay *r)
{
	stage_gone(r, r->stage->n - 1, "closed its output");
}

/* Writing into the first stage failed. */
static void
stage_wfail(struct relay *r)
{
	if (errno == EPIPE)
		stage_gone(r, 0, "closed its input");
	else
		stage_fail(r, 0, "%s", strerror(errno));
}

static void
violation(struct relay *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
violation(struct relay *r, const char *fmt, ...)
{
	struct stages *st = r->stage;
	char what[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	stage_fail(r, st->n - 1, "broke the stage protocol: record %llu: %s",
	    (unsigned long long)st->rd.nrec, what);
}

/* writev(2) to fd, or to side s of c through its transport when that is
 * not a plain socket (TLS takes one buffer at a time). */
static ssize_t
vwrite(struct conn *c, enum side s, int fd, const struct iovec *iov, int n)
{
	ssize_t k, all = 0;
	int i;

	if (c == NULL || c->tp[s]->plain)
		return writev(fd, iov, n);
	for (i = 0; i < n; i++) {
		if ((k = c->tp[s]->send(c, s, iov[i].iov_base,
		    iov[i].iov_len)) == -1)
			return all > 0 ? all : -1;
		all += k;
		if ((size_t)k < iov[i].iov_len)
			break;
	}
	return all;
}

/*
 * Writes a list of chunks to fd (side s of c, or the first stage when c is
 * NULL) as far as it takes them now; a chunk that went no longer counts
 * against its direction, which is read again.  Returns 1 when all went, 0
 * when some waits, -1 with errno set; *moved gets the bytes written.
 */
static int
chunks_write(struct relay *r, struct conn *c, enum side s, int fd,
    struct chunk **head, struct chunk **tail, size_t *moved)
{
	struct iovec iov[64];
	struct chunk *ch;
	ssize_t k;
	size_t n;
	int i;

	*moved = 0;
	while (*head != NULL) {
		for (i = 0, ch = *head; ch != NULL && i < 64;
		    ch = ch->next, i++) {
			iov[i].iov_base = ch->data + ch->off;
			iov[i].iov_len = ch->len - ch->off;
		}
		if ((k = vwrite(c, s, fd, iov, i)) == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return -1;
		}
		*moved += (size_t)k;
		while ((ch = *head) != NULL && k > 0) {
			n = ch->len - ch->off;
			if ((size_t)k < n) {
				ch->off += (size_t)k;
				break;
			}
			k -= (ssize_t)n;
			if ((*head = ch->next) == NULL)
				*tail = NULL;
			if (ch->c != NULL) {
				half_of(ch->c, ch->dir)->staged -= ch->len;
				stage_watch(r, ch->c);
			}
			chunk_put(r->stage, ch);
		}
	}
	return 1;
}

/* Writes what the first stage takes now. */
static void
q_flush(struct relay *r)
{
	struct stages *st = r->stage;
	size_t moved;

	if (st->failed)
		return;
	if (chunks_write(r, NULL, CLIENT, st->wfd, &st->head, &st->tail, &moved) == -1) {
		stage_wfail(r);
		return;
	}
	loop_mod(r->loop, st->wfd, st->head != NULL ? LOOP_WRITE : 0);
}

static void
on_wfd(struct loop *l, int fd, unsigned ev, void *arg)
{
	(void)l;
	(void)fd;
	(void)ev;
	q_flush(arg);
}

/*
 * Puts a record (as iovecs) into the first stage: written at once when
 * nothing waits, and what the stage does not take now waits in a chunk.
 */
static void
q_put(struct relay *r, struct conn *c, enum rec_dir d, struct iovec *iov,
    int niov)
{
	struct stages *st = r->stage;
	struct chunk *ch;
	size_t total = 0, skip, at;
	ssize_t k = 0;
	int i;

	if (st->failed)
		return;
	for (i = 0; i < niov; i++)
		total += iov[i].iov_len;
	if (st->head == NULL) {
		do
			k = writev(st->wfd, iov, niov);
		while (k == -1 && errno == EINTR);
		if (k == -1) {
			if (errno != EAGAIN && errno != EWOULDBLOCK) {
				stage_wfail(r);
				return;
			}
			k = 0;
		}
		if ((size_t)k == total)
			return;
	}
	ch = chunk_new(st, total - (size_t)k);
	ch->dir = d;
	ch->c = c != NULL && d != REC_NODIR ? c : NULL;
	for (i = 0, skip = (size_t)k, at = 0; i < niov; i++) {
		if (skip >= iov[i].iov_len) {
			skip -= iov[i].iov_len;
			continue;
		}
		memcpy(ch->data + at, (char *)iov[i].iov_base + skip,
		    iov[i].iov_len - skip);
		at += iov[i].iov_len - skip;
		skip = 0;
	}
	if (ch->c != NULL)
		half_of(c, d)->staged += ch->len;
	if (st->tail != NULL)
		st->tail->next = ch;
	else
		st->head = ch;
	st->tail = ch;
	loop_mod(r->loop, st->wfd, LOOP_WRITE);
}

/* One record into the first stage, as the relay made it (no `at`). */
static void
to_stage(struct relay *r, struct conn *c, const struct rec *rec,
    const void *p, size_t n)
{
	struct stages *st = r->stage;
	char hdr[REC_MAX_HEADER];
	struct iovec iov[3];

	if ((iov[0].iov_len = rec_header(rec, n, hdr, sizeof(hdr))) == 0)
		errx(TM_EXIT_FAIL, "a %s record does not fit in a header line",
		    rec->kind);
	iov[0].iov_base = hdr;
	iov[1].iov_base = (void *)(uintptr_t)p;
	iov[1].iov_len = n;
	iov[2].iov_base = "\n";
	iov[2].iov_len = 1;
	/* The stall clock runs from the first record of a connection that
	 * is not answered; the stream record needs no answer. */
	if (c != NULL && st->wait_since == 0)
		st->wait_since = tm_mono_ms();
	q_put(r, c, rec->dir, iov, 3);
}

static void
stage_send(struct relay *r, struct conn *c, struct rec *rec, const void *p,
    size_t n)
{
	if (c->in_stage)
		to_stage(r, c, rec, p, n);
	rec_set(rec, "at", "sent");
	relay_put(r, rec, p, n);
}

static void
stage_connected(struct relay *r, struct conn *c)
{
	struct stages *st = r->stage;
	struct rec rec;

	conn_open_rec(r, c, &rec);
	to_stage(r, c, &rec, NULL, 0);
	c->in_stage = 1;
	c->hnext = st->tab[c->id % NBUCKET];
	st->tab[c->id % NBUCKET] = c;
}

/* The backlog of a direction: what the last stage gave for a receiver
 * that has not taken it yet. */
static void
dq_free(struct stages *st, struct half *h)
{
	struct chunk *ch;

	while ((ch = h->dq) != NULL) {
		h->dq = ch->next;
		chunk_put(st, ch);
	}
	h->dqtail = NULL;
	h->len = 0;
}

static void
dq_append(struct stages *st, struct half *h, const unsigned char *p, size_t n)
{
	struct chunk *ch = chunk_new(st, n);

	memcpy(ch->data, p, n);
	if (h->dqtail != NULL)
		h->dqtail->next = ch;
	else
		h->dq = ch;
	h->dqtail = ch;
	h->len += n;
}

/* Sends the backlog as far as the receiver takes it now.  Returns 1 when
 * all went, 0 when some waits, -1 when the socket failed (the connection
 * then ends through the stages). */
static int
dq_send(struct relay *r, struct conn *c, struct half *h, int to,
    enum side toside)
{
	size_t moved;
	int rc;

	rc = chunks_write(r, c, toside, to, &h->dq, &h->dqtail, &moved);
	h->len -= moved;
	if (moved > 0)
		c->active = tm_mono_ms();
	if (rc == -1)
		stage_side_failed(r, c, toside, errno);
	return rc;
}

static void
stage_forget(struct relay *r, struct conn *c)
{
	struct stages *st = r->stage;
	struct chunk *ch;

	if (c->in_stage)
		unlink_conn(st, c);
	if (c->c2s.staged + c->s2c.staged > 0)
		for (ch = st->head; ch != NULL; ch = ch->next)
			if (ch->c == c)
				ch->c = NULL;
	dq_free(st, &c->c2s);
	dq_free(st, &c->s2c);
}

/* Watches a socket (a hang-up on one that asks for nothing is told once:
 * loop.c). */
static void
sock_watch(struct relay *r, int fd, unsigned ev)
{
	if (fd != -1)
		loop_mod(r->loop, fd, ev);
}

static void
stage_watch(struct relay *r, struct conn *c)
{
	unsigned cev = 0, sev = 0;
	int rd = !c->ending && !c->parked;

	/* Only a connection that is up comes here (conn.c watches the
	 * steps before).  A sender waits while its last read is still on its
	 * way into the stages, or while its receiver is behind. */
	if (rd && !c->c2s.eof && c->c2s.staged == 0 && c->c2s.len < RELAY_BUF)
		cev |= LOOP_READ;
	if (rd && !c->s2c.eof && c->s2c.staged == 0 && c->s2c.len < RELAY_BUF)
		sev |= LOOP_READ;
	if (c->s2c.len > 0)
		cev |= LOOP_WRITE;
	if (c->c2s.len > 0)
		sev |= LOOP_WRITE;
	if (c->cfd != -1)
		cev |= c->tp[CLIENT]->wants(c, CLIENT);
	if (c->sfd != -1)
		sev |= c->tp[SERVER]->wants(c, SERVER);
	sock_watch(r, c->cfd, cev);
	sock_watch(r, c->sfd, sev);
}

static void
stage_conn_end(struct relay *r, struct conn *c, const char *reason,
    const char *error)
{
	if (c->ending)
		return;
	c->ending = 1;
	conn_put_close(r, c, reason, -1, error);
	stage_watch(r, c);
}

/* A socket failed: it is closed, what was owed to it is dropped, and the
 * end goes through the stages to the other side. */
static void
stage_side_failed(struct relay *r, struct conn *c, enum side s, int e)
{
	int *fdp = s == CLIENT ? &c->cfd : &c->sfd;
	struct half *owed = s == CLIENT ? &c->s2c : &c->c2s;
	int reset = e == ECONNRESET || e == EPIPE;

	if (*fdp != -1) {
		loop_del(r->loop, *fdp);
		close(*fdp);
		*fdp = -1;
	}
	dq_free(r->stage, owed);
	if (!c->ending) {
		c->ending = 1;
		conn_put_close(r, c, reset ? "reset" : "error", s,
		    reset ? NULL : strerror(e));
	}
	stage_watch(r, c);
}

/* Passes the FIN on once what came before it is delivered, and ends the
 * connection in the stages once both FINs are through. */
static void
pass_fin(struct relay *r, struct conn *c, struct half *h, enum side to)
{
	if (h->fin && h->len == 0 && !h->shut) {
		if (conn_fd(c, to) != -1)
			c->tp[to]->shut(c, to);
		h->shut = 1;
	}
	if (c->c2s.shut && c->s2c.shut)
		stage_conn_end(r, c, "eof", NULL);
}

/* Reads a side of a connection into the first stage while its share
 * there is free: the same rounds as flow() in conn.c. */
static void
take(struct relay *r, struct conn *c, enum side s)
{
	enum rec_dir d = s == CLIENT ? REC_C2S : REC_S2C;
	struct half *h = half_of(c, d);
	ssize_t n;
	int rounds;

	for (rounds = 0; rounds < 16; rounds++) {
		if (c->ending || h->eof || h->staged > 0 ||
		    h->len >= RELAY_BUF || (s == CLIENT ? c->cfd : c->sfd) == -1)
			return;
		if (!out_room(r)) {
			conn_park(r, c);
			return;
		}
		n = conn_read(r, c, r->stage->rbuf, s, d);
		if (n < RELAY_BUF)
			return;	/* drained, at EOF, or failed */
	}
}

static void
stage_conn_event(struct relay *r, struct conn *c, int fd, unsigned ev)
{
	enum side s = fd == c->cfd ? CLIENT : SERVER;
	enum rec_dir out = s == CLIENT ? REC_S2C : REC_C2S;
	struct half *h = half_of(c, out);
	int e, rc;

	if (ev & LOOP_ERROR) {
		if ((e = sock_error(fd)) != 0) {
			stage_side_failed(r, c, s, e);
			return;
		}
		ev |= LOOP_READ | LOOP_WRITE;
	}
	if ((ev & LOOP_WRITE) && h->len > 0) {
		if ((rc = dq_send(r, c, h, fd, s)) == -1)
			return;
		if (rc == 1)
			pass_fin(r, c, h, s);
	}
	if (ev & LOOP_READ)
		take(r, c, s);
	stage_watch(r, c);
}

const struct detour stage_detour = {
	.record = stage_send,
	.connected = stage_connected,
	.event = stage_conn_event,
	.watch = stage_watch,
	.side_failed = stage_side_failed,
	.end = stage_conn_end,
	.forget = stage_forget,
};

/* Shows a record of the last stage on the output, as delivered now. */
static int
show(struct relay *r, struct rec *rec)
{
	char hdr[REC_MAX_HEADER];
	const unsigned char *p = rec->data;
	size_t n = rec->len, k;

	rec->usec = tm_now_us();
	if (rec_set(rec, "at", "delivered") == -1 ||
	    rec_header(rec, n > RELAY_BUF ? RELAY_BUF : n, hdr,
	    sizeof(hdr)) == 0) {
		violation(r, "a %s header too long to record", rec->kind);
		return -1;
	}
	if (rec->type != REC_DATA && n > RELAY_BUF) {
		violation(r, "a %s record of %zu bytes (at most %d)",
		    rec->kind, n, RELAY_BUF);
		return -1;
	}
	/* Record boundaries mean nothing: a large record is shown in
	 * pieces the output can hold. */
	do {
		k = n > RELAY_BUF ? RELAY_BUF : n;
		relay_put(r, rec, p, k);
		p += k;
		n -= k;
	} while (n > 0);
	return 0;
}

/*
 * Delivers data from the stage: sent now as far as the receiver takes it,
 * the rest kept in the direction's backlog.  The stage is never left
 * unread for one slow receiver: with an echoing peer that would close a
 * circle (the peer waits for us to read it, its bytes wait behind ours in
 * the stage, ours wait for the peer).  The sender of that direction is
 * not read meanwhile, so the backlog holds at most what the stages held
 * of it.
 */
static void
act_data(struct relay *r, struct conn *c, struct half *h, enum rec_dir d)
{
	struct stages *st = r->stage;
	const unsigned char *p = st->rec.data;
	size_t n = st->rec.len;
	int to = to_fd(c, d);
	ssize_t w;

	if (show(r, &st->rec) == -1 || to == -1)
		return;		/* a receiver that is gone: dropped */
	if (h->len == 0 && n > 0) {
		w = c->tp[to_side(d)]->send(c, to_side(d), p, n);
		if (w == -1) {
			if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR) {
				stage_side_failed(r, c, to_side(d), errno);
				return;
			}
			w = 0;
		}
		p += w;
		n -= (size_t)w;
		c->active = tm_mono_ms();
	}
	if (n > 0)
		dq_append(st, h, p, n);
	stage_watch(r, c);
}

/* The stage's close: what is owed goes out if the receiver takes it now
 * (as without stages, best effort), then the sockets end as it says; the
 * relay's own close goes in if it has not. */
static void
act_close(struct relay *r, struct conn *c)
{
	struct stages *st = r->stage;
	const char *reason;
	int reset;

	if (show(r, &st->rec) == -1)
		return;
	if (c->cfd != -1 && c->s2c.len > 0)
		(void)dq_send(r, c, &c->s2c, c->cfd, CLIENT);
	if (c->sfd != -1 && c->c2s.len > 0)
		(void)dq_send(r, c, &c->c2s, c->sfd, SERVER);
	if ((reason = rec_get(&st->rec, "reason")) == NULL)
		reason = "eof";
	/* An error resets too: without stages, a failed side resets the
	 * other, and --through cat must not change that. */
	reset = strcmp(reason, "reset") == 0 || strcmp(reason, "error") == 0;
	if (!c->ending) {
		c->ending = 1;
		conn_put_close(r, c, reason, -1, NULL);
	}
	conn_end(r, c, reset, reset);
}

/* Acts on the record just read from the last stage. */
static void
act(struct relay *r)
{
	struct stages *st = r->stage;
	struct rec *rec = &st->rec;
	struct conn *c;
	struct half *h;

	if (rec->conn == 0) {
		if (rec->type == REC_NOTE && r->verbose)
			warnx("stage note: %.*s", (int)(rec->len > 0 &&
			    rec->data[rec->len - 1] == '\n' ? rec->len - 1 :
			    rec->len), rec->data);
		show(r, rec);
		return;
	}
	if (rec->src == NULL || strcmp(rec->src, r->src) != 0) {
		violation(r, "src %s is not the relay's", rec->src ?
		    rec->src : "(none)");
		return;
	}
	if ((c = lookup(st, rec->conn)) == NULL) {
		violation(r, "connection %llu is not open",
		    (unsigned long long)rec->conn);
		return;
	}
	switch (rec->type) {
	case REC_DATA:
	case REC_SHUTDOWN:
		if (rec->dir == REC_NODIR) {
			violation(r, "%s without dir", rec->kind);
			return;
		}
		h = half_of(c, rec->dir);
		if (h->fin) {
			violation(r, "%s of connection %llu %s after its "
			    "shutdown", rec->kind, (unsigned long long)c->id,
			    rec_dir_name(rec->dir));
			return;
		}
		if (rec->type == REC_DATA) {
			if (rec_get(rec, "xform") != NULL) {
				violation(r, "data with xform");
				return;
			}
			act_data(r, c, h, rec->dir);
			return;
		}
		if (show(r, rec) == -1)
			return;
		h->fin = 1;
		pass_fin(r, c, h, to_side(rec->dir));
		stage_watch(r, c);
		return;
	case REC_CLOSE:
		act_close(r, c);
		return;
	default:
		show(r, rec);	/* open: an acknowledgement; others: shown */
		return;
	}
}

static void
st_read(struct relay *r)
{
	struct stages *st = r->stage;
	int i, rc;

	for (i = 0; i < READ_BATCH; i++) {
		if (st->parked || st->failed)
			break;
		if (!out_room(r)) {
			st->parked = 1;
			break;
		}
		if ((rc = recr_next(&st->rd, &st->rec)) == REC_AGAIN)
			break;
		if (rc == REC_END) {
			stage_eof(r);
			return;
		}
		if (rc == REC_ERR) {
			stage_fail(r, st->n - 1, "wrote what is not a record "
			    "stream: %s", st->rd.err);
			return;
		}
		st->wait_since = 0;
		act(r);
	}
	st_watch(r);
}

static void
on_rfd(struct loop *l, int fd, unsigned ev, void *arg)
{
	struct relay *r = arg;

	(void)l;
	(void)fd;
	(void)ev;
	/* Not read while quiet: this is the hang-up loop.c tells once. */
	if (r->stage->reading)
		st_read(r);
}

/* Reads the last stage only while its records can be acted on. */
static void
st_watch(struct relay *r)
{
	struct stages *st = r->stage;
	int want = !st->parked && !st->failed;

	if (want == st->reading)
		return;
	loop_mod(r->loop, st->rfd, want ? LOOP_READ : 0);
	st->reading = want;
}

void
stage_unpark(struct relay *r)
{
	struct stages *st = r->stage;

	if (!st->parked)
		return;
	st->parked = 0;
	if (st->wait_since != 0)
		st->wait_since = tm_mono_ms();
	st_watch(r);
}

void
stage_sweep(struct relay *r)
{
	struct stages *st = r->stage;
	char dur[32];
	int i, status;

	/* Without pidfds (valgrind, old kernels), exits are looked for
	 * here, once per sweep. */
	for (i = 0; i < st->n && !st->failed; i++)
		if (st->s[i].pidfd == -1 && !st->s[i].reaped &&
		    waitpid(st->s[i].pid, &status, WNOHANG) == st->s[i].pid) {
			st->s[i].reaped = 1;
			st_read(r);
			if (!st->failed)
				fail_exited(r, i, status);
		}
	if (st->failed)
		return;
	if (st->wait_since == 0 || st->parked || st->failed ||
	    tm_mono_ms() - st->wait_since < (int64_t)st->timeout_ms)
		return;
	if (st->timeout_ms % 1000 == 0)
		snprintf(dur, sizeof(dur), "%llus",
		    (unsigned long long)st->timeout_ms / 1000);
	else
		snprintf(dur, sizeof(dur), "%llums",
		    (unsigned long long)st->timeout_ms);
	stage_fail(r, -1, "stalled: records went in and nothing came back "
	    "for %s (--stage-timeout)", dur);
}

/* A stage exited: what it wrote before is read first, so that garbage is
 * named as such rather than as the exit that followed it. */
static void
on_pidfd(struct loop *l, int fd, unsigned ev, void *arg)
{
	struct stage *s = arg;
	struct relay *r = s->r;
	struct stages *st = r->stage;
	int status;

	(void)ev;
	loop_del(l, fd);
	if (!st->failed)
		st_read(r);
	if (!s->reaped && waitpid(s->pid, &status, 0) == s->pid) {
		s->reaped = 1;
		if (!st->failed)
			fail_exited(r, (int)(s - st->s), status);
	}
}

static void
set_bufs(int fd)
{
	int n = PAIR_BUF;

	(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &n, sizeof(n));
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &n, sizeof(n));
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) == -1)
		err(TM_EXIT_FAIL, "stage socket");
}

/*
 * The first process of a stage's group: it starts the stage's shell and
 * stays, so that the whole group ends with the relay even when the relay
 * is killed outright.  The kernel's parent-death signal reaches only the
 * relay's own child, not the programs a shell starts; this process takes
 * it and passes it to the group (SIGKILL after STOP_MS for any that stay).
 * It exits as the stage's shell did, so the relay sees the stage's status.
 */
/* The tcpmon tools beside the relay come first in a stage's PATH, as the
 * terminal view's tcpmon-tap does: a build tree works as installed. */
static void
path_beside_self(void)
{
	char self[4096], *slash, *path;
	const char *old = getenv("PATH");
	ssize_t n;

	if ((n = readlink("/proc/self/exe", self, sizeof(self) - 1)) <= 0)
		return;
	self[n] = '\0';
	if ((slash = strrchr(self, '/')) == NULL)
		return;
	*slash = '\0';
	if (asprintf(&path, "%s:%s", self, old != NULL ? old :
	    "/usr/local/bin:/usr/bin:/bin") == -1)
		return;
	setenv("PATH", path, 1);
	free(path);
}

static void __attribute__((noreturn))
guard(pid_t parent, const char *cmd)
{
	struct timespec grace = { STOP_MS / 1000, 0 };
	sigset_t set, none;
	siginfo_t si;
	pid_t pid;
	int status, ending = 0;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_SETMASK, &set, NULL);
	(void)prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != parent)
		_exit(127);
	switch (pid = fork()) {
	case -1:
		warn("fork");
		_exit(127);
	case 0:
		signal(SIGPIPE, SIG_DFL);
		signal(SIGXFSZ, SIG_DFL);
		path_beside_self();
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		warn("/bin/sh");
		_exit(127);
	}
	/* The stage alone holds its ends: its EOF is the relay's. */
	close(STDIN_FILENO);
	close(STDOUT_FILENO);
	for (;;) {
		if (sigtimedwait(&set, &si, ending ? &grace : NULL) == -1) {
			if (errno == EAGAIN)	/* the grace is over */
				kill(-getpid(), SIGKILL);
			continue;
		}
		if (si.si_signo == SIGTERM && !ending) {
			/* From the relay's stage_stop (the group has it
			 * already) or from the kernel, the relay gone. */
			ending = 1;
			kill(-getpid(), SIGTERM);
			continue;
		}
		if (si.si_signo != SIGCHLD ||
		    waitpid(pid, &status, WNOHANG) != pid)
			continue;
		if (WIFSIGNALED(status)) {
			signal(WTERMSIG(status), SIG_DFL);
			sigemptyset(&none);
			sigprocmask(SIG_SETMASK, &none, NULL);
			raise(WTERMSIG(status));
		}
		_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 127);
	}
}

/*
 * Starts the chain: stage i reads pair i and writes pair i + 1; the relay
 * writes pair 0 and reads pair n.  Each stage is its own process group,
 * so that a Ctrl-C reaches the relay alone and it ends the stages in
 * order; the group ends if the relay dies (guard).
 */
void
stage_start(struct relay *r, char *const *cmds, int n, uint64_t timeout_ms)
{
	struct stages *st;
	struct rec rec;
	int pair[MAX_STAGES + 1][2], i, j;
	pid_t parent = getpid();

	if ((st = calloc(1, sizeof(*st))) == NULL ||
	    (st->rbuf = malloc(RELAY_BUF)) == NULL)
		err(TM_EXIT_FAIL, "malloc");
	r->stage = st;
	r->detour = &stage_detour;
	st->n = n;
	st->starting = 1;
	st->timeout_ms = timeout_ms;
	for (i = 0; i <= n; i++)
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
		    pair[i]) == -1)
			err(TM_EXIT_FAIL, "socketpair");
	for (i = 0; i < n; i++) {
		st->s[i].cmd = cmds[i];
		st->s[i].r = r;
		switch (st->s[i].pid = fork()) {
		case -1:
			err(TM_EXIT_FAIL, "fork");
		case 0:
			setpgid(0, 0);
			if (dup2(pair[i][1], STDIN_FILENO) == -1 ||
			    dup2(pair[i + 1][0], STDOUT_FILENO) == -1)
				_exit(127);
			/* No exec here to close the relay's descriptors:
			 * a copy of another stage's end would keep its EOF
			 * from coming. */
			close_range(3, ~0u, 0);
			guard(parent, cmds[i]);
		}
		/* Both sides set it: no race with the signals at exit. */
		(void)setpgid(st->s[i].pid, st->s[i].pid);
		/* A pidfd tells the loop at once when the stage exits;
		 * where there is none (ENOSYS under valgrind 3.19, kernels
		 * before 5.3), stage_sweep polls with waitpid. */
		if ((st->s[i].pidfd = (int)syscall(SYS_pidfd_open,
		    st->s[i].pid, 0)) == -1) {
			if (errno != ENOSYS && errno != EPERM)
				err(TM_EXIT_FAIL, "pidfd_open");
		} else {
			(void)fcntl(st->s[i].pidfd, F_SETFD, FD_CLOEXEC);
			if (loop_add(r->loop, st->s[i].pidfd, LOOP_READ,
			    on_pidfd, &st->s[i]) == -1)
				err(TM_EXIT_FAIL, "epoll");
		}
		if (r->verbose)
			warnx("stage %d: '%s', pid %ld", i + 1, cmds[i],
			    (long)st->s[i].pid);
	}
	st->wfd = pair[0][0];
	st->rfd = pair[n][1];
	for (j = 0; j <= n; j++) {
		if (j < n)
			close(pair[j][1]);
		if (j > 0)
			close(pair[j][0]);
	}
	set_bufs(st->wfd);
	set_bufs(st->rfd);
	if (recr_init(&st->rd, st->rfd, "the last stage's output") == -1)
		err(TM_EXIT_FAIL, "malloc");
	if (loop_add(r->loop, st->wfd, 0, on_wfd, r) == -1 ||
	    loop_add(r->loop, st->rfd, 0, on_rfd, r) == -1)
		err(TM_EXIT_FAIL, "epoll");
	st_watch(r);
	relay_stream_rec(r, &rec);
	to_stage(r, NULL, &rec, NULL, 0);
}

/*
 * Before the relay says it listens: a stage that cannot start (a command
 * not found, a bad option) ends within moments, and is a failure to start,
 * exit 1, not a failure of the first connection.  Waits until the chain
 * passes the stream record on (the data path is whole) or STARTUP_MS
 * passes (a stage that keeps it to itself), whichever comes first.
 */
void
stage_ready(struct relay *r)
{
	struct stages *st = r->stage;
	struct pollfd pfd;
	char name[512], c;
	int64_t deadline = tm_mono_ms() + STARTUP_MS;
	int i, status;

	pfd.fd = st->rfd;
	pfd.events = POLLIN;
	while (tm_mono_ms() < deadline) {
		/* Already seen failing: the stream record written into a
		 * stage that had exited (EPIPE) reaps it. */
		if (st->failed) {
			stage_stop(r);
			errx(TM_EXIT_FAIL, "%s at start%s", st->why,
			    strstr(st->why, "status 127") != NULL ?
			    " (command not found?)" : "");
		}
		for (i = 0; i < st->n; i++) {
			if (st->s[i].reaped || waitpid(st->s[i].pid, &status,
			    WNOHANG) != st->s[i].pid)
				continue;
			st->s[i].reaped = 1;
			stage_name(st, i, name, sizeof(name));
			stage_stop(r);
			if (WIFSIGNALED(status))
				errx(TM_EXIT_FAIL, "%s: killed by signal %d "
				    "(%s) at start", name, WTERMSIG(status),
				    strsignal(WTERMSIG(status)));
			errx(TM_EXIT_FAIL, "%s: exited with status %d at "
			    "start%s", name, WEXITSTATUS(status),
			    WEXITSTATUS(status) == 127 ?
			    " (command not found?)" : "");
		}
		/* Bytes from the last stage: the chain is alive.  Its end
		 * of file is not: the exit that caused it comes next. */
		if (poll(&pfd, 1, 10) > 0) {
			if (recv(st->rfd, &c, 1, MSG_PEEK | MSG_DONTWAIT) > 0)
				break;
			(void)poll(NULL, 0, 10);
		}
	}
	st->starting = 0;
}

void
stage_stop(struct relay *r)
{
	struct stages *st = r->stage;
	struct timespec ts = { 0, 10 * 1000 * 1000 };
	struct chunk *ch;
	int i, left, waited, status;

	if (st == NULL)
		return;
	/* End of input first: a stage that is done ends by itself. */
	loop_del(r->loop, st->wfd);
	close(st->wfd);
	loop_del(r->loop, st->rfd);
	close(st->rfd);
	/* Every stage's group, even of a stage reaped already: what its
	 * shell left running (`sleep 30 & exit 3`) is still in the group,
	 * and the group's number is not reused while a member lives. */
	for (i = 0; i < st->n; i++)
		kill(-st->s[i].pid, SIGTERM);
	for (waited = 0;; waited += 10) {
		left = 0;
		for (i = 0; i < st->n; i++) {
			if (st->s[i].reaped)
				continue;
			if (waitpid(st->s[i].pid, &status, WNOHANG) ==
			    st->s[i].pid) {
				st->s[i].reaped = 1;
				kill(-st->s[i].pid, SIGKILL); /* its children */
			} else if (waited >= STOP_MS) {
				kill(-st->s[i].pid, SIGKILL);
				waitpid(st->s[i].pid, &status, 0);
				st->s[i].reaped = 1;
			} else
				left++;
		}
		if (left == 0)
			break;
		nanosleep(&ts, NULL);
	}
	for (i = 0; i < st->n; i++) {
		if (st->s[i].pidfd == -1)
			continue;
		loop_del(r->loop, st->s[i].pidfd);
		close(st->s[i].pidfd);
	}
	while ((ch = st->head) != NULL) {
		st->head = ch->next;
		free(ch);
	}
	while (st->nspare > 0)
		free(st->spare[--st->nspare]);
	recr_free(&st->rd);
	free(st->rbuf);
	free(st);
	r->stage = NULL;
	r->detour = NULL;
}
