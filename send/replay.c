/* replay.c - what the client of one recorded connection sent, read from a
 * capture: its data records in order, with their times for --pace, and the
 * target from its open record.  Only wire bytes are ever re-sent. */
#include <err.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "grow.h"
#include "record.h"
#include "send.h"
#include "util.h"

static void
append(struct replay *rp, const struct rec *r, size_t *cap, size_t *ccap,
    int64_t *first, const char *name)
{
	struct chunk *c;

	if (r->len > SEND_MAX_INPUT - rp->len)
		errx(TM_EXIT_USAGE, "%s: connection %llu: the client sent "
		    "over %u MiB", name, (unsigned long long)r->conn,
		    SEND_MAX_INPUT >> 20);
	grow_reserve(&rp->buf, rp->len, cap, 64 * 1024, r->len);
	rp->chunk = grow_items(rp->chunk, ccap, (size_t)rp->nchunk + 1,
	    sizeof(*rp->chunk), 64);
	c = &rp->chunk[rp->nchunk++];
	memset(c, 0, sizeof(*c));
	memcpy(rp->buf + rp->len, r->data, r->len);
	/* An offset for now: the buffer may still move. */
	c->p = (const unsigned char *)(uintptr_t)rp->len;
	c->len = r->len;
	rp->len += r->len;
	if (r->usec >= 0 && *first < 0)
		*first = r->usec;
	c->at_us = r->usec >= 0 && *first >= 0 ? r->usec - *first : 0;
	/* A clock set back during the capture must not make us wait. */
	if (rp->nchunk > 1 && c->at_us < c[-1].at_us)
		c->at_us = c[-1].at_us;
}

/* --exchange K: only the bytes of the K-th request of a keep-alive
 * connection, cut out of the records that carried them, their pauses kept
 * from the first of them. */
static void
one_exchange(const struct opts *o, struct replay *rp, const char *name)
{
	size_t start, end, cs, ce, len, off = 0;
	int64_t t0 = -1;
	char msg[256];
	int i, n = 0;

	if (rawreq_find(rp->buf, rp->len, o->exchange, &start, &end, msg,
	    sizeof(msg)) == -1)
		errx(TM_EXIT_USAGE, "%s: connection %llu: %s", name,
		    (unsigned long long)o->conn, msg);
	for (i = 0; i < rp->nchunk; i++, off += len) {
		len = rp->chunk[i].len;
		cs = off > start ? off : start;
		ce = off + len < end ? off + len : end;
		if (cs >= ce)
			continue;
		if (t0 < 0)
			t0 = rp->chunk[i].at_us;
		rp->chunk[n] = rp->chunk[i];
		rp->chunk[n].p = rp->buf + cs;
		rp->chunk[n].len = ce - cs;
		rp->chunk[n].at_us -= t0;
		n++;
	}
	rp->nchunk = n;
}

void
replay_load(const struct opts *o, struct replay *rp)
{
	unsigned long long conn = (unsigned long long)o->conn;
	struct rec_reader rd;
	const char *name, *v;
	int64_t first = -1;
	struct rec *r;
	size_t cap = 0, ccap = 0;
	int fd, rc, seen = 0, i;

	memset(rp, 0, sizeof(*rp));
	if (strcmp(o->replay, "-") == 0) {
		fd = STDIN_FILENO;
		name = "stdin";
	} else if ((fd = open(o->replay, O_RDONLY | O_CLOEXEC)) == -1)
		err(TM_EXIT_USAGE, "%s", o->replay);
	else
		name = o->replay;
	if ((r = malloc(sizeof(*r))) == NULL || recr_init(&rd, fd, name) == -1)
		err(TM_EXIT_FAIL, "malloc");
	while ((rc = recr_next(&rd, r)) == REC_OK) {
		if (r->conn != o->conn || r->conn == 0)
			continue;
		if (o->src != NULL && (r->src == NULL ||
		    strcmp(r->src, o->src) != 0))
			continue;
		if (!seen) {
			snprintf(rp->src, sizeof(rp->src), "%s",
			    r->src != NULL ? r->src : "");
			seen = 1;
		} else if (strcmp(rp->src, r->src != NULL ? r->src : "") != 0)
			errx(TM_EXIT_USAGE, "%s: connection %llu is there from "
			    "two sources (%s and %s): choose one with --src",
			    name, conn, rp->src[0] ? rp->src : "none",
			    r->src != NULL ? r->src : "none");
		if (r->type == REC_OPEN && (v = rec_get(r, "target")) != NULL)
			snprintf(rp->target, sizeof(rp->target), "%s", v);
		if (r->type != REC_DATA || r->dir != REC_C2S)
			continue;
		if ((v = rec_get(r, "xform")) != NULL)
			errx(TM_EXIT_USAGE, "%s: record %llu: a reformatted "
			    "payload (xform=%s): only wire bytes can be "
			    "re-sent; use the capture from before the "
			    "formatter", name, (unsigned long long)rd.nrec, v);
		append(rp, r, &cap, &ccap, &first, name);
	}
	if (rc == REC_ERR)
		errx(TM_EXIT_USAGE, "%s", rd.err);
	recr_free(&rd);
	free(r);
	if (fd != STDIN_FILENO)
		close(fd);
	if (!seen)
		errx(TM_EXIT_USAGE, "%s: no connection %llu%s%s", name, conn,
		    o->src != NULL ? " from source " : "",
		    o->src != NULL ? o->src : "");
	if (rp->nchunk == 0)
		errx(TM_EXIT_USAGE, "%s: connection %llu: the client sent "
		    "nothing to re-send", name, conn);
	if (o->target == NULL && rp->target[0] == '\0')
		errx(TM_EXIT_USAGE, "%s: connection %llu has no open record "
		    "with a target: give -t HOST:PORT", name, conn);
	for (i = 0; i < rp->nchunk; i++)
		rp->chunk[i].p = rp->buf + (uintptr_t)rp->chunk[i].p;
	if (o->exchange > 0)
		one_exchange(o, rp, name);
}

void
replay_free(struct replay *rp)
{
	free(rp->buf);
	free(rp->chunk);
	memset(rp, 0, sizeof(*rp));
}

uint64_t *
replay_list(const struct opts *o, char **srcs, size_t *n)
{
	struct rec_reader rd;
	const char *name;
	struct rec *r;
	uint64_t *conns = NULL;
	char *src = NULL, *sent = NULL;
	size_t i, k, cap[3] = { 0, 0, 0 };	/* conns, src, sent */
	int fd, rc;

	*n = 0;
	if (strcmp(o->replay, "-") == 0)
		errx(TM_EXIT_USAGE, "--replay - needs --conn N: every "
		    "connection of a capture is read twice");
	if ((fd = open(o->replay, O_RDONLY | O_CLOEXEC)) == -1)
		err(TM_EXIT_USAGE, "%s", o->replay);
	name = o->replay;
	if ((r = malloc(sizeof(*r))) == NULL || recr_init(&rd, fd, name) == -1)
		err(TM_EXIT_FAIL, "malloc");
	/* Every connection in the order it opened (its first record), kept
	 * when its client sent something: the order of the capture's
	 * connections, which the new numbers follow. */
	while ((rc = recr_next(&rd, r)) == REC_OK) {
		if (r->conn == 0)
			continue;
		if (o->src != NULL && (r->src == NULL ||
		    strcmp(r->src, o->src) != 0))
			continue;
		for (i = *n; i-- > 0;)
			if (conns[i] == r->conn && strcmp(src + i *
			    SEND_SRC_MAX, r->src != NULL ? r->src : "") == 0)
				break;
		if (i == (size_t)-1) {
			conns = grow_items(conns, &cap[0], *n + 1,
			    sizeof(*conns), 64);
			src = grow_items(src, &cap[1], *n + 1, SEND_SRC_MAX, 64);
			sent = grow_items(sent, &cap[2], *n + 1, 1, 64);
			i = (*n)++;
			conns[i] = r->conn;
			snprintf(src + i * SEND_SRC_MAX, SEND_SRC_MAX, "%s",
			    r->src != NULL ? r->src : "");
			sent[i] = 0;
		}
		if (r->type == REC_DATA && r->dir == REC_C2S && r->len > 0)
			sent[i] = 1;
	}
	for (i = 0, k = 0; i < *n; i++)
		if (sent[i]) {
			conns[k] = conns[i];
			memmove(src + k * SEND_SRC_MAX, src + i * SEND_SRC_MAX,
			    SEND_SRC_MAX);
			k++;
		}
	*n = k;
	free(sent);
	if (rc == REC_ERR)
		errx(TM_EXIT_USAGE, "%s", rd.err);
	recr_free(&rd);
	free(r);
	close(fd);
	if (*n == 0)
		errx(TM_EXIT_USAGE, "%s: no connection whose client sent "
		    "anything", name);
	*srcs = src;
	return conns;
}
