/* input.h - the inputs of tcpmon-tap and tcpmon-grep: files, stdin, or a
 * running relay's Unix socket (--attach), read as one stream of records. */
#ifndef TCPMON_INPUT_H
#define TCPMON_INPUT_H

#include "record.h"

/* Called with every record, and with its bytes as read. */
typedef void in_rec_fn(void *arg, const struct rec *, const unsigned char *raw,
    size_t rawlen);

struct input {
	in_rec_fn	*fn;
	void		*arg;
	void		(*idle)(void *);	/* before a read may block */
	struct rec	*r;
	int		 status;	/* the worst so far: TM_EXIT_* */
	int		 broken;	/* bad input seen: stop reading */
};

void	in_init(struct input *, in_rec_fn *, void *arg, void (*idle)(void *));
/* Reads path ("-": stdin) to its end or its first bad record; a problem
 * is reported on stderr and kept in status.  A file that cannot be opened
 * or read is bad input, as a bad record is: TM_EXIT_USAGE. */
void	in_file(struct input *, const char *path);
/* Connects to a relay's tap socket and reads until the relay closes it.
 * A relay that cannot be reached, or whose socket fails, is a peer that
 * failed: TM_EXIT_FAIL; a bad record from it is still TM_EXIT_USAGE. */
void	in_attach(struct input *, const char *path);
void	in_free(struct input *);

#endif
