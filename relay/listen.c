/* listen.c - the listeners paused while the relay has no room for another
 * connection, and resumed when one ends.  Apart from relay.c, which
 * accepts, so that conn.c and proxy.c can say "one ended" without calling
 * up into the file that calls them. */
#include <fcntl.h>
#include <unistd.h>

#include "relay.h"

/* The limit, and in proxy mode the descriptors of the conversations,
 * which may outlive their clients for a while. */
int
listen_full(const struct relay *r)
{
	if (r->proxy != NULL)
		return r->nclients >= r->max_conns ||
		    r->nclients + 3 * r->nconns + 4 > r->fd_room;
	return r->nconns >= r->max_conns;
}

void
listen_resume(struct relay *r)
{
	int i;

	if (listen_full(r))
		return;
	if (r->reserve_fd == -1 &&
	    (r->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) == -1)
		return;		/* still out of descriptors */
	for (i = 0; i < r->nl; i++)
		if (r->l[i].paused && r->l[i].fd != -1) {
			r->l[i].paused = 0;
			loop_mod(r->loop, r->l[i].fd, LOOP_READ);
		}
}

void
listen_pause(struct relay *r)
{
	int i;

	for (i = 0; i < r->nl; i++)
		if (!r->l[i].paused && r->l[i].fd != -1) {
			r->l[i].paused = 1;
			loop_mod(r->loop, r->l[i].fd, 0);
		}
}
