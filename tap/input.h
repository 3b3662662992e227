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
	int		 io_status;	/* status for a file that cannot be
					 * opened or read */
};

void	in_init(struct input *, in_rec_fn *, void *arg, void (*idle)(void *),
	    int io_status);
/* Reads path ("-": stdin) to its end or its first bad record; a problem
 * is reported on stderr and kept in status. */
void	in_file(struct input *, const char *path);
/* Connects to a relay's tap socket and reads until the relay closes it. */
void	in_attach(struct input *, const char *path);
void	in_free(struct input *);

#endif
