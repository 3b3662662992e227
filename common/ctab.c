/* ctab.c - connections by (src, conn): a chained hash table that doubles
 * when full, so that looking a record's connection up stays O(1) however
 * many connections a capture interleaves, and a list in order of use, so
 * that the one to drop when there are too many is found in O(1). */
#include <err.h>
#include <stdlib.h>
#include <string.h>

#include "ctab.h"
#include "util.h"

struct ctab_ent {
	struct ctab_ent	*next;
	struct ctab_ent	*older, *newer;	/* in order of use */
	uint64_t	 conn;
	uint64_t	 hash;
	uint64_t	 seq;
	const char	*src;
	/* the state, then the src string */
	max_align_t	 state[];
};

#define ENT(st)	((struct ctab_ent *)((char *)(st) - \
		    offsetof(struct ctab_ent, state)))

static uint64_t
hash(const char *src, uint64_t conn)
{
	uint64_t h = 1469598103934665603ull ^ conn;

	for (; *src != '\0'; src++)
		h = (h ^ (unsigned char)*src) * 1099511628211ull;
	h ^= h >> 29;
	h *= 0xbf58476d1ce4e5b9ull;
	return h ^ (h >> 32);
}

void
ctab_init(struct ctab *t, size_t usize)
{
	memset(t, 0, sizeof(*t));
	t->usize = (usize + sizeof(max_align_t) - 1) /
	    sizeof(max_align_t) * sizeof(max_align_t);
}

void
ctab_free(struct ctab *t)
{
	struct ctab_ent *e, *next;
	size_t i;

	for (i = 0; i < t->nb; i++)
		for (e = t->b[i]; e != NULL; e = next) {
			next = e->next;
			free(e);
		}
	free(t->b);
	t->b = NULL;
	t->lru = t->mru = NULL;
	t->nb = t->n = 0;
}

static void
unlink_use(struct ctab *t, struct ctab_ent *e)
{
	if (e->older != NULL)
		e->older->newer = e->newer;
	else
		t->lru = e->newer;
	if (e->newer != NULL)
		e->newer->older = e->older;
	else
		t->mru = e->older;
	e->older = e->newer = NULL;
}

static void
link_use(struct ctab *t, struct ctab_ent *e)
{
	e->older = t->mru;
	e->newer = NULL;
	if (t->mru != NULL)
		t->mru->newer = e;
	else
		t->lru = e;
	t->mru = e;
}

void *
ctab_get(struct ctab *t, const char *src, uint64_t conn)
{
	struct ctab_ent *e;
	uint64_t h;

	if (t->n == 0)
		return NULL;
	if (src == NULL)
		src = "";
	h = hash(src, conn);
	for (e = t->b[h & (t->nb - 1)]; e != NULL; e = e->next)
		if (e->hash == h && e->conn == conn &&
		    strcmp(e->src, src) == 0) {
			if (t->mru != e) {
				unlink_use(t, e);
				link_use(t, e);
			}
			return e->state;
		}
	return NULL;
}

static int
grow(struct ctab *t)
{
	struct ctab_ent **nb, *e, *next;
	size_t n = t->nb ? t->nb * 2 : 64, i;

	if ((nb = calloc(n, sizeof(*nb))) == NULL)
		return -1;
	for (i = 0; i < t->nb; i++)
		for (e = t->b[i]; e != NULL; e = next) {
			next = e->next;
			e->next = nb[e->hash & (n - 1)];
			nb[e->hash & (n - 1)] = e;
		}
	free(t->b);
	t->b = nb;
	t->nb = n;
	return 0;
}

static void *
ctab_add(struct ctab *t, const char *src, uint64_t conn)
{
	struct ctab_ent *e;
	size_t sl;
	char *s;

	if (src == NULL)
		src = "";
	sl = strlen(src);
	if (t->n >= t->nb && grow(t) == -1)
		return NULL;
	if ((e = calloc(1, sizeof(*e) + t->usize + sl + 1)) == NULL)
		return NULL;
	s = (char *)e->state + t->usize;
	memcpy(s, src, sl + 1);
	e->src = s;
	e->conn = conn;
	e->hash = hash(src, conn);
	e->seq = t->seq++;
	e->next = t->b[e->hash & (t->nb - 1)];
	t->b[e->hash & (t->nb - 1)] = e;
	link_use(t, e);
	t->n++;
	return e->state;
}

void *
ctab_find(struct ctab *t, const char *src, uint64_t conn, int *isnew)
{
	void *st;

	*isnew = 0;
	if ((st = ctab_get(t, src, conn)) != NULL)
		return st;
	if ((st = ctab_add(t, src, conn)) == NULL)
		err(TM_EXIT_FAIL, "malloc");
	*isnew = 1;
	return st;
}

void
ctab_del(struct ctab *t, void *state)
{
	struct ctab_ent *e = ENT(state), **pp;

	for (pp = &t->b[e->hash & (t->nb - 1)]; *pp != NULL;
	    pp = &(*pp)->next)
		if (*pp == e) {
			*pp = e->next;
			unlink_use(t, e);
			t->n--;
			free(e);
			return;
		}
}

void *
ctab_lru(struct ctab *t)
{
	return t->lru != NULL ? t->lru->state : NULL;
}

void *
ctab_next(struct ctab *t, void *state)
{
	struct ctab_ent *e = state != NULL ? ENT(state)->newer : t->lru;

	return e != NULL ? e->state : NULL;
}

const char *
ctab_src(const void *state)
{
	return ENT(state)->src;
}

uint64_t
ctab_conn(const void *state)
{
	return ENT(state)->conn;
}

static int
by_seq(const void *a, const void *b)
{
	uint64_t x = ENT(*(void *const *)a)->seq, y = ENT(*(void *const *)b)->seq;

	return x < y ? -1 : x > y;
}

void **
ctab_list(struct ctab *t, size_t *n)
{
	struct ctab_ent *e;
	void **v;
	size_t i, k = 0;

	*n = 0;
	if (t->n == 0 || (v = malloc(t->n * sizeof(*v))) == NULL)
		return NULL;
	for (i = 0; i < t->nb; i++)
		for (e = t->b[i]; e != NULL; e = e->next)
			v[k++] = e->state;
	qsort(v, k, sizeof(*v), by_seq);
	*n = k;
	return v;
}
