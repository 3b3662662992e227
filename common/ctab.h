/* ctab.h - a table of connections, keyed by source and number, holding a
 * fixed-size state per connection for the viewers and the selector, and
 * ordered by last use so that a reader can drop the connection that went
 * longest without a record when it follows too many (--max-conns). */
#ifndef TCPMON_CTAB_H
#define TCPMON_CTAB_H

#include <stddef.h>
#include <stdint.h>

struct ctab_ent;

#define CTAB_MAX_DEFAULT	65536	/* connections followed at once */

struct ctab {
	struct ctab_ent	**b;
	size_t		 nb, n;
	struct ctab_ent	*lru, *mru;	/* least and most recently used */
	size_t		 usize;		/* bytes of state per connection */
	uint64_t	 seq;		/* connections added so far */
};

void	 ctab_init(struct ctab *, size_t usize);
/* Frees the table; call ctab_list first to clean up each state. */
void	 ctab_free(struct ctab *);
/* The state of a connection, or NULL; a connection found counts as used. */
void	*ctab_get(struct ctab *, const char *src, uint64_t conn);
/* The state of a connection, added zeroed (*isnew set) when there was
 * none; out of memory ends the program (exit 1). */
void	*ctab_find(struct ctab *, const char *src, uint64_t conn, int *isnew);
void	 ctab_del(struct ctab *, void *state);
/* The connection that went longest without being found, or NULL. */
void	*ctab_lru(struct ctab *);
/* The states from the least recently used on: state NULL for the first;
 * NULL after the last.  Take the next before deleting a state. */
void	*ctab_next(struct ctab *, void *state);
const char *ctab_src(const void *state);
uint64_t ctab_conn(const void *state);
/* Every state, in the order the connections were added (malloc'd array,
 * *n entries); NULL when there are none or no memory. */
void	**ctab_list(struct ctab *, size_t *n);

#endif
