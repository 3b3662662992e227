/* out.c - where the records go: the output (a file, a pipe, the terminal
 * view) and the --tap viewers, each through a bounded queue.  The output is
 * lossless unless --lossy: when it is full, connections stop reading. */
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "relay.h"
#include "util.h"

#define OUT_BUF		(4u * 1024 * 1024)
#define VIEWER_BUF	(4u * 1024 * 1024)
/* The largest record a connection writes: one read and its header. */
#define MAX_REC		(RELAY_BUF + REC_MAX_HEADER + 1)
/* Room kept for open, shutdown and close records, which are written
 * whatever the state of the output. */
#define CTL_RESERVE	(64u * 1024)
/* Payloads from this size go to the kernel straight from the caller's
 * buffer; smaller ones are copied and written in batches. */
#define DIRECT_MIN	(16u * 1024)
/* A viewer that was cut off has this long to read its last note. */
#define CUT_GRACE_MS	5000

static int
q_init(struct outq *q, int fd, size_t cap)
{
	memset(q, 0, sizeof(*q));
	q->fd = fd;
	q->cap = cap;
	q->stall_ms = -1;
	if ((q->buf = malloc(cap)) == NULL)
		return -1;
	return 0;
}

/* Appends whole iovecs; the caller checked that they fit. */
static void
q_append(struct outq *q, const struct iovec *iov, int n)
{
	size_t total = 0;
	int i;

	for (i = 0; i < n; i++)
		total += iov[i].iov_len;
	if (q->off + q->len + total > q->cap) {
		memmove(q->buf, q->buf + q->off, q->len);
		q->off = 0;
	}
	for (i = 0; i < n; i++) {
		if (iov[i].iov_len == 0)
			continue;	/* an empty payload may be NULL */
		memcpy(q->buf + q->off + q->len, iov[i].iov_base,
		    iov[i].iov_len);
		q->len += iov[i].iov_len;
	}
}

static void
q_consume(struct outq *q, size_t n)
{
	q->off += n;
	q->len -= n;
	if (q->len == 0)
		q->off = 0;
}

/* The iovecs of rec less its first skip bytes, into out; returns how many. */
static int
iov_skip(const struct iovec *rec, int nrec, size_t skip, struct iovec *out)
{
	int i, n = 0;

	for (i = 0; i < nrec; i++) {
		if (skip >= rec[i].iov_len) {
			skip -= rec[i].iov_len;
			continue;
		}
		out[n].iov_base = (char *)rec[i].iov_base + skip;
		out[n++].iov_len = rec[i].iov_len - skip;
		skip = 0;
	}
	return n;
}

/* A write that failed for want of room on the device: the bytes wait and
 * the write is tried again later, as for a slow reader. */
static int
q_no_room(struct outq *q, int e)
{
	if (e != ENOSPC && e != EDQUOT)
		return 0;
	q->err = e;
	return 1;
}

/*
 * Writes what the queue holds and, after it, the iovecs of one record, in
 * one writev: no copy of a large payload.  Blocks only on a sync queue;
 * otherwise what the kernel does not take now is copied into the queue
 * (the caller checked that it fits).  With the device full (q->err), the
 * record is only queued.  Returns 0, or -1 with errno set.
 */
static int
q_writev(struct outq *q, const struct iovec *rec, int nrec)
{
	struct iovec iov[4];
	struct pollfd pfd;
	size_t done = 0, c;
	ssize_t k;
	int n;

	while (!q->err) {
		n = 0;
		if (q->len > 0) {
			iov[0].iov_base = q->buf + q->off;
			iov[0].iov_len = q->len;
			n = 1;
		}
		n += iov_skip(rec, nrec, done, iov + n);
		if (n == 0)
			return 0;
		if ((k = writev(q->fd, iov, n)) == -1) {
			if (errno == EINTR)
				continue;
			if (q_no_room(q, errno))
				break;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				return -1;
			k = 0;
		}
		c = (size_t)k < q->len ? (size_t)k : q->len;
		q_consume(q, c);
		done += (size_t)k - c;
		if (!q->sync)
			break;
		if (k == 0) {
			pfd.fd = q->fd;
			pfd.events = POLLOUT;
			(void)poll(&pfd, 1, -1);
		}
	}
	if ((n = iov_skip(rec, nrec, done, iov)) > 0)
		q_append(q, iov, n);
	return 0;
}

/* Writes from the queue what the kernel takes now (all of it on a sync
 * queue); nothing while the device is full (out_retry tries).  Returns 0,
 * or -1 with errno set. */
static int
q_write(struct outq *q)
{
	ssize_t k;

	while (q->len > 0 && !q->err) {
		if ((k = write(q->fd, q->buf + q->off, q->len)) == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK ||
			    q_no_room(q, errno))
				return 0;
			return -1;
		}
		q_consume(q, (size_t)k);
	}
	return 0;
}

/* Writes all of the queue, waiting for the descriptor (or, with the
 * device full, for room on it) if it must; a wait longer than q->stall_ms
 * fails with ETIMEDOUT, or with the device's error. */
static int
q_drain(struct outq *q)
{
	struct pollfd pfd;
	int n, waited = 0;

	for (;;) {
		if (q_write(q) == -1)
			return -1;
		if (q->len == 0)
			return 0;
		if (q->err) {
			/* Not waited for outside the exit: the caller
			 * keeps what waits (q_reserve). */
			if (q->stall_ms < 0)
				return 0;
			if (waited >= q->stall_ms) {
				errno = q->err;
				return -1;
			}
			(void)poll(NULL, 0, 100);
			waited += 100;
			q->err = 0;
			continue;
		}
		pfd.fd = q->fd;
		pfd.events = POLLOUT;
		if ((n = poll(&pfd, 1, q->stall_ms)) == -1 && errno != EINTR)
			return -1;
		if (n == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
	}
}

/* Room for need bytes in all, past the queue's usual capacity: for the
 * few records that are written whatever the state of the output (opens,
 * closes) while a full device holds everything back. */
static void
q_reserve(struct outq *q, size_t need)
{
	unsigned char *p;
	size_t cap = q->cap;

	if (need <= q->cap)
		return;
	while (cap < need)
		cap *= 2;
	if ((p = realloc(q->buf, cap)) == NULL)
		err(TM_EXIT_FAIL, "realloc");
	q->buf = p;
	q->cap = cap;
}

/* The records cannot be written any more: a reader that went away (`|
 * head`), or an error of the device.  No connection may end as if it
 * were complete. */
static void __attribute__((noreturn))
out_failed(struct relay *r)
{
	char msg[1024];

	if (errno == EPIPE)
		snprintf(msg, sizeof(msg), "%s: the reader of the records is "
		    "gone", r->outname);
	else if (errno == ETIMEDOUT)
		snprintf(msg, sizeof(msg), "%s: the reader took nothing for "
		    "%d s at exit; %zu bytes of records unwritten", r->outname,
		    r->out.stall_ms / 1000, r->out.len);
	else
		snprintf(msg, sizeof(msg), "write %s: %s%s", r->outname,
		    strerror(errno), r->out.len > 0 ? "; records unwritten" :
		    "");
	r->out_lost(r, msg);
	errx(TM_EXIT_FAIL, "%s", msg);	/* out_lost does not return */
}

static void
out_watch(struct relay *r)
{
	if (!r->out.sync)
		loop_mod(r->loop, r->out.fd, r->out.len > 0 ? LOOP_WRITE : 0);
}

/* Connections read again once the output is half empty: waking them at
 * the first free byte would park them again at once. */
static void
out_maybe_unpark(struct relay *r)
{
	if (r->out.len <= r->out.cap / 2)
		r->out_room_again(r);
}

static void
out_event(struct loop *l, int fd, unsigned ev, void *arg)
{
	struct relay *r = arg;

	(void)l;
	(void)fd;
	(void)ev;
	if (q_write(&r->out) == -1)
		out_failed(r);
	out_watch(r);
	out_maybe_unpark(r);
}

int
out_init(struct relay *r, int fd, const char *name)
{
	if (q_init(&r->out, fd, OUT_BUF) == -1)
		return -1;
	r->outname = name;
	/* epoll refuses regular files and most devices: they are always
	 * ready, so they are written in place. */
	if (loop_add(r->loop, fd, 0, out_event, r) == -1) {
		if (errno != EPERM)
			return -1;
		r->out.sync = 1;
	}
	return 0;
}

static int out_drain(struct relay *);
static void out_put_main(struct relay *, struct rec *);

/* The records go on into fd, a new file: its own stream record first, so
 * that each file is a stream of its own. */
static void
out_switch(struct relay *r, int fd)
{
	struct rec rec;

	close(r->out.fd);
	r->out.fd = fd;
	capture_started(r);
	relay_stream_rec(r, &rec);
	out_put_main(r, &rec);
}

/* Cuts the capture here, between two records. */
static void
out_rotate(struct relay *r)
{
	char old[4096 + 64];
	int fd;

	if (out_drain(r) == -1)
		return;		/* the device is full: later */
	if ((fd = capture_cut(r, old, sizeof(old))) == -1)
		return;
	out_switch(r, fd);
	capture_rotated(r, old);
}

void
out_rotate_sweep(struct relay *r)
{
	if (capture_due(r, 0))
		out_rotate(r);
	capture_sweep(r);
}

void
out_reopen(struct relay *r)
{
	char why[600];
	int fd;

	if (!capture_moved(r))
		return;
	if (out_drain(r) == -1) {
		warnx("SIGHUP: %s: the device is full: not reopened",
		    r->outpath);
		return;
	}
	if ((fd = capture_open(r->outpath, why, sizeof(why))) == -1) {
		warnx("SIGHUP: %s; writing on into the old file", why);
		return;
	}
	out_switch(r, fd);
	if (!r->quiet)
		warnx("SIGHUP: %s reopened", r->outpath);
}

/* Writes one record (as iovecs) to the main output.  data says whether it
 * is a data record, which must leave room for the others.  Returns 0, or
 * -1 when --lossy dropped it. */
static int
put_main(struct relay *r, struct iovec *iov, int n, size_t total, int data)
{
	struct outq *q = &r->out;
	size_t limit = q->cap - (data ? CTL_RESERVE : 0);

	if (r->outpath != NULL && capture_due(r, total))
		out_rotate(r);		/* between two records */
	if (q->len + total > limit) {
		if (q_write(q) == -1)
			out_failed(r);
		if (q->len + total > limit && r->lossy)
			return -1;
		/* Lossless: only a burst of small records (many
		 * connections closing at once) gets here, as reads wait
		 * for room; waiting for the reader is the price.  A full
		 * device cannot be waited for here: the queue grows by what
		 * the burst needs. */
		if (q->len + total > q->cap) {
			if (!q->err && q_drain(q) == -1)
				out_failed(r);
			if (q->err)
				q_reserve(q, q->len + total);
		}
	}
	if (total - iov[0].iov_len >= DIRECT_MIN) {
		if (q_writev(q, iov, n) == -1)
			out_failed(r);
	} else
		q_append(q, iov, n);
	if (r->outpath != NULL)
		capture_counted(r, total);
	return 0;
}

/* After drops, a note says how much went unrecorded, as soon as there is
 * room for it. */
static void
put_drop_note(struct relay *r)
{
	char hdr[REC_MAX_HEADER], text[256];
	struct iovec iov[2];
	struct rec rec;
	size_t h;
	int t;

	rec_init(&rec, REC_NOTE, 0);
	rec_set_src(&rec, r->src);
	rec_set(&rec, "level", "warning");
	rec_setf(&rec, "dropped-records", "%llu",
	    (unsigned long long)r->drop_recs);
	rec_setf(&rec, "dropped-bytes", "%llu",
	    (unsigned long long)r->drop_bytes);
	t = snprintf(text, sizeof(text), "--lossy: %llu records (%llu bytes "
	    "of traffic) went unrecorded: the output was too slow\n",
	    (unsigned long long)r->drop_recs,
	    (unsigned long long)r->drop_bytes);
	if ((h = rec_header(&rec, (size_t)t, hdr, sizeof(hdr))) == 0)
		return;
	iov[0].iov_base = hdr;
	iov[0].iov_len = h;
	iov[1].iov_base = text;
	iov[1].iov_len = (size_t)t + 1;	/* the record's newline too */
	text[t] = '\n';
	if (r->out.len + h + (size_t)t + 1 > r->out.cap - CTL_RESERVE)
		return;		/* later, with more room */
	put_main(r, iov, 2, h + (size_t)t + 1, 0);
	r->drop_recs = r->drop_bytes = 0;
}

static void viewer_cut(struct relay *, struct viewer *);
static void out_check_paused(struct relay *);

void
relay_stream_rec(struct relay *r, struct rec *rec)
{
	rec_init(rec, REC_STREAM, 0);
	rec_set_src(rec, r->src);
	rec_set(rec, "tool", "tcpmon-relay");
	rec_set(rec, "version", TCPMON_VERSION);
}

void
relay_put(struct relay *r, struct rec *rec, const void *data, size_t n)
{
	char hdr[REC_MAX_HEADER];
	struct iovec iov[3];
	struct viewer *v;
	size_t h, total;

	if ((h = rec_header(rec, n, hdr, sizeof(hdr))) == 0)
		errx(TM_EXIT_FAIL, "a %s record does not fit in a header line",
		    rec->kind);
	iov[0].iov_base = hdr;
	iov[0].iov_len = h;
	iov[1].iov_base = (void *)(uintptr_t)data;
	iov[1].iov_len = n;
	iov[2].iov_base = "\n";
	iov[2].iov_len = 1;
	total = h + n + 1;

	for (v = r->viewers; v != NULL; v = v->next) {
		if (v->cut)
			continue;
		/* A viewer that does not keep up is cut off rather than
		 * allowed to hold the traffic back; 1 KiB stays free for
		 * the note that tells it why. */
		if (v->q.len + total + 1024 > v->q.cap)
			viewer_cut(r, v);
		else
			q_append(&v->q, iov, 3);
	}
	if (r->drop_recs > 0)
		put_drop_note(r);
	if (put_main(r, iov, 3, total, rec->type == REC_DATA) == -1) {
		r->drop_recs++;
		r->drop_bytes += n;
	}
}

/* The payload in the pipe fd, copied: for an output that refuses splice
 * (a file opened O_APPEND, some devices). */
static void
pipe_copy(struct relay *r, int fd, size_t n)
{
	unsigned char buf[64 * 1024];
	struct iovec iov;
	ssize_t k;

	while (n > 0) {
		k = read(fd, buf, n < sizeof(buf) ? n : sizeof(buf));
		if (k == -1 && errno == EINTR)
			continue;
		if (k <= 0)
			errx(TM_EXIT_FAIL, "splice: %zu bytes missing", n);
		iov.iov_base = buf;
		iov.iov_len = (size_t)k;
		if (q_writev(&r->out, &iov, 1) == -1)
			out_failed(r);
		n -= (size_t)k;
	}
}

/* The payload in the pipe fd, into the queue: the device is full. */
static void
pipe_queue(struct relay *r, int fd, size_t n)
{
	struct outq *q = &r->out;
	ssize_t k;

	q_reserve(q, q->len + n + 1);
	if (q->off + q->len + n > q->cap) {
		memmove(q->buf, q->buf + q->off, q->len);
		q->off = 0;
	}
	while (n > 0) {
		k = read(fd, q->buf + q->off + q->len, n);
		if (k == -1 && errno == EINTR)
			continue;
		if (k <= 0)
			errx(TM_EXIT_FAIL, "splice: %zu bytes missing", n);
		q->len += (size_t)k;
		n -= (size_t)k;
	}
}

void
relay_put_pipe(struct relay *r, struct rec *rec, int fd, size_t n)
{
	char hdr[REC_MAX_HEADER];
	struct outq *q = &r->out;
	struct iovec iov;
	struct pollfd pfd;
	ssize_t k;

	if ((iov.iov_len = rec_header(rec, n, hdr, sizeof(hdr))) == 0)
		errx(TM_EXIT_FAIL, "a %s record does not fit in a header line",
		    rec->kind);
	iov.iov_base = hdr;
	if (r->outpath != NULL) {
		if (capture_due(r, iov.iov_len + n + 1))
			out_rotate(r);
		capture_counted(r, iov.iov_len + n + 1);
	}
	/* What waits in the queue, then the header: the queue is sync, so
	 * this returns with all of it written, unless the device is full. */
	if (q_writev(q, &iov, 1) == -1)
		out_failed(r);
	while (n > 0) {
		if (q->err) {
			/* The rest waits in the queue (out_room kept room
			 * for a whole record) until there is room again. */
			pipe_queue(r, fd, n);
			break;
		}
		k = splice(fd, NULL, q->fd, NULL, n, SPLICE_F_MOVE);
		if (k == -1 && errno == EINTR)
			continue;
		if (k == -1 && errno == EAGAIN) {
			pfd.fd = q->fd;
			pfd.events = POLLOUT;
			(void)poll(&pfd, 1, -1);
			continue;
		}
		if (k == -1 && errno == EINVAL) {
			r->nosplice = 1;
			pipe_copy(r, fd, n);
			break;
		}
		if (k == -1 && q_no_room(q, errno))
			continue;
		if (k == -1)
			out_failed(r);
		if (k == 0)
			errx(TM_EXIT_FAIL, "splice: %zu bytes missing", n);
		n -= (size_t)k;
	}
	iov.iov_base = "\n";
	iov.iov_len = 1;
	q_append(q, &iov, 1);
}

int
out_room(struct relay *r)
{
	struct outq *q = &r->out;

	if (r->lossy || q->len + MAX_REC + CTL_RESERVE <= q->cap)
		return 1;
	if (q_write(q) == -1)
		out_failed(r);
	out_watch(r);
	return q->len + MAX_REC + CTL_RESERVE <= q->cap;
}

static void
viewer_free(struct relay *r, struct viewer *v)
{
	struct viewer **pp;

	for (pp = &r->viewers; *pp != NULL; pp = &(*pp)->next)
		if (*pp == v) {
			*pp = v->next;
			break;
		}
	loop_del(r->loop, v->q.fd);
	close(v->q.fd);
	free(v->q.buf);
	free(v);
}

static void
viewer_watch(struct relay *r, struct viewer *v)
{
	loop_mod(r->loop, v->q.fd, LOOP_READ |
	    (v->q.len > 0 ? LOOP_WRITE : 0));
}

/* Writes what the viewer can take; 0, or -1 when it went and was freed. */
static int
viewer_flush(struct relay *r, struct viewer *v)
{
	if (q_write(&v->q) == -1) {
		if (r->verbose)
			warn("viewer %llu", (unsigned long long)v->id);
		viewer_free(r, v);
		return -1;
	}
	if (v->cut && v->q.len == 0) {
		viewer_free(r, v);
		return -1;
	}
	viewer_watch(r, v);
	return 0;
}

static void
viewer_event(struct loop *l, int fd, unsigned ev, void *arg)
{
	struct viewer *v = arg;
	struct relay *r = v->r;
	char buf[512];
	ssize_t n;

	(void)l;
	if (ev & LOOP_READ) {
		/* A viewer has nothing to say: what it sends is read and
		 * ignored.  Only its going away matters. */
		n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR)) {
			if (r->verbose)
				warnx("viewer %llu detached",
				    (unsigned long long)v->id);
			viewer_free(r, v);
			return;
		}
	}
	if (ev & (LOOP_WRITE | LOOP_ERROR))
		viewer_flush(r, v);
}

static void
viewer_cut(struct relay *r, struct viewer *v)
{
	char hdr[REC_MAX_HEADER], text[256];
	struct iovec iov[2];
	struct rec rec;
	size_t h, waiting = v->q.len;
	int t;

	v->cut = 1;
	v->cut_at = tm_mono_ms();
	rec_init(&rec, REC_NOTE, 0);
	rec_set_src(&rec, r->src);
	rec_set(&rec, "level", "error");
	t = snprintf(text, sizeof(text), "tcpmon-relay: viewer cut off: it "
	    "did not keep up with the traffic (%zu bytes waiting)\n", waiting);
	if ((h = rec_header(&rec, (size_t)t, hdr, sizeof(hdr))) > 0 &&
	    v->q.len + h + (size_t)t + 1 <= v->q.cap) {
		text[t] = '\n';
		iov[0].iov_base = hdr;
		iov[0].iov_len = h;
		iov[1].iov_base = text;
		iov[1].iov_len = (size_t)t + 1;
		q_append(&v->q, iov, 2);
	}
	/* The relay's own record says so too. */
	rec_init(&rec, REC_NOTE, 0);
	rec_set_src(&rec, r->src);
	rec_set(&rec, "level", "warning");
	rec_setf(&rec, "viewer", "%llu", (unsigned long long)v->id);
	t = snprintf(text, sizeof(text), "viewer %llu cut off: it did not "
	    "keep up with the traffic (%zu bytes waiting)",
	    (unsigned long long)v->id, waiting);
	if (!r->quiet)
		warnx("%s", text);
	text[t++] = '\n';
	relay_put(r, &rec, text, (size_t)t);
}

static void
tap_accept(struct loop *l, int fd, unsigned ev, void *arg)
{
	struct relay *r = arg;
	struct viewer *v;
	struct rec rec;
	int vfd;

	(void)ev;
	while ((vfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK |
	    SOCK_CLOEXEC)) != -1) {
		if ((v = calloc(1, sizeof(*v))) == NULL ||
		    q_init(&v->q, vfd, VIEWER_BUF) == -1)
			err(TM_EXIT_FAIL, "malloc");
		v->r = r;
		v->id = ++r->next_viewer;
		if (loop_add(l, vfd, LOOP_READ, viewer_event, v) == -1) {
			warn("viewer");
			close(vfd);
			free(v->q.buf);
			free(v);
			continue;
		}
		/* What a viewer sees: a stream record, then every record
		 * from now on (tcpmon-relay(1), Viewers). */
		relay_stream_rec(r, &rec);
		{
			char hdr[REC_MAX_HEADER];
			struct iovec iov[2];

			iov[0].iov_base = hdr;
			iov[0].iov_len = rec_header(&rec, 0, hdr, sizeof(hdr));
			iov[1].iov_base = "\n";
			iov[1].iov_len = 1;
			q_append(&v->q, iov, 2);
		}
		v->next = r->viewers;
		r->viewers = v;
		if (r->verbose)
			warnx("viewer %llu attached", (unsigned long long)v->id);
		viewer_flush(r, v);
	}
	if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
		warn("accept on %s", r->tappath);
}

int
tap_open(struct relay *r, const char *path)
{
	struct sockaddr_any sa;
	struct addr a;
	char spec[sizeof(a.path) + 8], msg[256];

	snprintf(spec, sizeof(spec), "unix:%s", path);
	if (strlen(path) >= sizeof(r->tappath) || addr_parse(spec, ADDR_LISTEN,
	    &a, msg, sizeof(msg)) == -1 || addr_resolve(&a, ADDR_LISTEN, &sa,
	    msg, sizeof(msg)) == -1) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((r->tapfd = sock_listen(&sa, 64)) == -1)
		return -1;
	strcpy(r->tappath, path);
	return loop_add(r->loop, r->tapfd, LOOP_READ, tap_accept, r);
}

void
tap_close(struct relay *r)
{
	if (r->tapfd != -1) {
		loop_del(r->loop, r->tapfd);
		close(r->tapfd);
		unlink(r->tappath);
		r->tapfd = -1;
	}
}

void
tap_sweep(struct relay *r)
{
	struct viewer *v, *next;
	int64_t now = tm_mono_ms();

	for (v = r->viewers; v != NULL; v = next) {
		next = v->next;
		if (v->cut && now - v->cut_at >= CUT_GRACE_MS)
			viewer_free(r, v);
	}
}

void
out_flush(struct loop *l, void *arg)
{
	struct relay *r = arg;
	struct viewer *v, *next;

	(void)l;
	if (r->drop_recs > 0)
		put_drop_note(r);
	if (r->out.len > 0) {
		if (q_write(&r->out) == -1)
			out_failed(r);
		out_watch(r);
	}
	out_check_paused(r);
	out_maybe_unpark(r);
	for (v = r->viewers; v != NULL; v = next) {
		next = v->next;
		if (v->q.len > 0)
			viewer_flush(r, v);
	}
}

/* A note in the records, and a line on stderr, when the output pauses for
 * a full device and when it writes again: the capture says how long it
 * held the traffic (or, --lossy, what it dropped: put_drop_note). */
static void
out_paused_note(struct relay *r, const char *text)
{
	struct rec rec;
	char buf[512];
	int n;

	if (!r->quiet)
		warnx("%s", text);
	rec_init(&rec, REC_NOTE, 0);
	rec_set_src(&rec, r->src);
	rec_set(&rec, "level", "warning");
	n = snprintf(buf, sizeof(buf), "tcpmon-relay: %s\n", text);
	relay_put(r, &rec, buf, (size_t)n);
}

/* Called after each batch of events: says once that the output paused. */
static void
out_check_paused(struct relay *r)
{
	char text[400];

	if (!r->out.err || r->out_paused != 0)
		return;
	r->out_paused = tm_mono_ms();
	snprintf(text, sizeof(text), "write %s: %s: %s until it can be "
	    "written", r->outname, strerror(r->out.err), r->lossy ?
	    "records are dropped" : "traffic paused");
	if (!r->quiet)
		warnx("%s", text);
}

void
out_retry(struct relay *r)
{
	char text[400];
	int e = r->out.err;

	if (!e)
		return;
	r->out.err = 0;
	if (q_write(&r->out) == -1)
		out_failed(r);
	if (r->out.err)
		return;		/* still full */
	snprintf(text, sizeof(text), "write %s: writing again after %lld ms "
	    "(%s)", r->outname, (long long)(tm_mono_ms() - r->out_paused),
	    strerror(e));
	r->out_paused = 0;
	out_paused_note(r, text);
	out_watch(r);
	out_maybe_unpark(r);
}

/* Writes all that the output queue holds (a file: at once); -1 when the
 * device is full and some waits. */
static int
out_drain(struct relay *r)
{
	if (r->out.err)
		return -1;
	if (q_drain(&r->out) == -1)
		out_failed(r);
	return r->out.len > 0 ? -1 : 0;
}

/* A record to the output alone, not to viewers: a new file's stream
 * record. */
static void
out_put_main(struct relay *r, struct rec *rec)
{
	char hdr[REC_MAX_HEADER];
	struct iovec iov[2];

	iov[0].iov_base = hdr;
	if ((iov[0].iov_len = rec_header(rec, 0, hdr, sizeof(hdr))) == 0)
		return;
	iov[1].iov_base = "\n";
	iov[1].iov_len = 1;
	put_main(r, iov, 2, iov[0].iov_len + 1, 0);
}

void
out_finish(struct relay *r)
{
	struct viewer *v;

	/* The note of what --lossy dropped needs room: after what waits. */
	if (q_drain(&r->out) == -1)
		out_failed(r);
	if (r->drop_recs > 0)
		put_drop_note(r);
	if (q_drain(&r->out) == -1)
		out_failed(r);
	/* Viewers get what they can take now; none is waited for. */
	while ((v = r->viewers) != NULL) {
		q_write(&v->q);
		viewer_free(r, v);
	}
	tap_close(r);
	if (!r->out.sync)
		loop_del(r->loop, r->out.fd);
	free(r->out.buf);
	r->out.buf = NULL;
}
