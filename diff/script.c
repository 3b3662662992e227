/* script.c - a capture's connections as steps to play back: the records of
 * each connection in order, consecutive data of one direction merged into
 * one step, with the pause before each answer for --pace. */
#include <err.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "grow.h"
#include "record.h"
#include "script.h"
#include "util.h"

static struct step *
add_step(struct script *sc, enum step_kind k)
{
	struct step *st;

	sc->s = grow_items(sc->s, &sc->caps, sc->ns + 1, sizeof(*sc->s), 8);
	st = &sc->s[sc->ns++];
	memset(st, 0, sizeof(*st));
	st->kind = k;
	return st;
}

static struct script *
find(struct scripts *ss, const struct rec *r)
{
	const char *src = r->src != NULL ? r->src : "";
	struct script *sc;
	size_t i;

	/* The newest first: a connection's records come close together. */
	for (i = ss->n; i-- > 0;) {
		sc = ss->v[i];
		if (sc->live && sc->conn == r->conn &&
		    strcmp(sc->src, src) == 0)
			return sc;
	}
	if (r->type == REC_CLOSE || r->type == REC_NOTE)
		return NULL;
	if ((sc = calloc(1, sizeof(*sc))) == NULL)
		err(TM_EXIT_FAIL, "calloc");
	sc->conn = r->conn;
	snprintf(sc->src, sizeof(sc->src), "%s", src);
	sc->live = 1;
	sc->last_us = r->usec;
	ss->v = grow_items(ss->v, &ss->cap, ss->n + 1, sizeof(*ss->v), 16);
	ss->v[ss->n++] = sc;
	return sc;
}

static void
take(struct scripts *ss, const struct rec *r)
{
	struct script *sc;
	struct step *st;
	const char *at;

	if (r->conn == 0)
		return;
	/* A relay with stages records each event twice: the bytes as they
	 * were delivered are what each side saw (as tcpmon-tap reads). */
	if ((at = rec_get(r, "at")) != NULL &&
	    (strcmp(at, "sent") == 0) != (r->type == REC_OPEN))
		return;
	if ((sc = find(ss, r)) == NULL)
		return;
	st = sc->ns > 0 ? &sc->s[sc->ns - 1] : NULL;
	if (r->type == REC_DATA && r->len > 0 && r->dir == REC_C2S) {
		if (st == NULL || st->kind != STEP_CLIENT)
			st = add_step(sc, STEP_CLIENT);
		grow_put(&sc->cbytes, &sc->clen, &sc->ccap, 4096, r->data,
		    r->len);
		st->cend = sc->clen;
	} else if (r->type == REC_DATA && r->len > 0 && r->dir == REC_S2C) {
		if (st == NULL || st->kind != STEP_SERVER) {
			st = add_step(sc, STEP_SERVER);
			st->off = sc->slen;
			st->think_us = r->usec >= 0 && sc->last_us >= 0 &&
			    r->usec > sc->last_us ? r->usec - sc->last_us : 0;
		}
		grow_put(&sc->sbytes, &sc->slen, &sc->scap, 4096, r->data,
		    r->len);
		st->len += r->len;
	} else if (r->type == REC_SHUTDOWN && r->dir == REC_S2C)
		add_step(sc, STEP_SHUT);
	else if (r->type == REC_SHUTDOWN && r->dir == REC_C2S)
		add_step(sc, STEP_CEOF);
	else if (r->type == REC_CLOSE)
		sc->live = 0;
	if (r->usec >= 0)
		sc->last_us = r->usec;
}

int
scripts_read(struct scripts *ss, const char *path, char *msg, size_t msglen)
{
	struct rec_reader rd;
	struct rec *r;
	const char *name;
	size_t i;
	int fd, n;

	if ((fd = tm_open_input(path, &name)) < 0) {
		snprintf(msg, msglen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if ((r = malloc(sizeof(*r))) == NULL)
		err(TM_EXIT_FAIL, "malloc");
	recr_init(&rd, fd, name);
	while ((n = recr_next(&rd, r)) == REC_OK)
		take(ss, r);
	if (n == REC_ERR)
		snprintf(msg, msglen, "%s", rd.err);
	recr_free(&rd);
	free(r);
	if (fd != STDIN_FILENO)
		close(fd);
	/* The capture ended: so did its connections (the next capture's
	 * numbers are its own). */
	for (i = 0; i < ss->n; i++)
		ss->v[i]->live = 0;
	return n == REC_ERR ? -1 : 0;
}

void
scripts_free(struct scripts *ss)
{
	size_t i;

	for (i = 0; i < ss->n; i++) {
		free(ss->v[i]->s);
		free(ss->v[i]->cbytes);
		free(ss->v[i]->sbytes);
		free(ss->v[i]);
	}
	free(ss->v);
	memset(ss, 0, sizeof(*ss));
}
