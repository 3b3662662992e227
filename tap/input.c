/* input.c - reading records from files, stdin and a relay's tap socket.
 * Every input goes through one reader at a time; a bad record stops all
 * reading, since what follows it cannot be trusted (tcpmon-record(5)). */
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "input.h"
#include "net.h"
#include "util.h"

void
in_init(struct input *in, in_rec_fn *fn, void *arg, void (*idle)(void *))
{
	memset(in, 0, sizeof(*in));
	in->fn = fn;
	in->arg = arg;
	in->idle = idle;
	if ((in->r = malloc(sizeof(*in->r))) == NULL)
		err(TM_EXIT_FAIL, "malloc");
}

void
in_free(struct input *in)
{
	free(in->r);
	in->r = NULL;
}

static void
worse(struct input *in, int status)
{
	if (in->status == TM_EXIT_OK || status == TM_EXIT_USAGE)
		in->status = status;
}

/* Reads fd to its end; io_status is the status of a failed read(2). */
static void
in_fd(struct input *in, int fd, const char *name, int io_status)
{
	struct rec_reader rd;
	int rc;

	if (recr_init(&rd, fd, name) == -1)
		err(TM_EXIT_FAIL, "malloc");
	rd.idle = in->idle;
	rd.idle_arg = in->arg;
	while ((rc = recr_next(&rd, in->r)) == REC_OK)
		in->fn(in->arg, in->r, rd.raw, rd.rawlen);
	if (rc == REC_ERR) {
		if (in->idle != NULL)
			in->idle(in->arg);
		warnx("%s", rd.err);
		/* A failed read(2) is not bad input: the message says
		 * "NAME: read: ..." rather than naming a record. */
		worse(in, strstr(rd.err, ": record ") != NULL ?
		    TM_EXIT_USAGE : io_status);
		in->broken = 1;
	}
	recr_free(&rd);
}

void
in_file(struct input *in, const char *path)
{
	const char *name;
	int fd;

	if (in->broken)
		return;
	if ((fd = tm_open_input(path, &name)) == -1) {
		warn("%s", path);
		worse(in, TM_EXIT_USAGE);
		return;
	}
	in_fd(in, fd, name, TM_EXIT_USAGE);
	if (fd != STDIN_FILENO)
		close(fd);
}

void
in_attach(struct input *in, const char *path)
{
	int fd;

	if ((fd = sock_connect_unix(path)) == -1) {
		if (errno == ENAMETOOLONG)
			errx(TM_EXIT_USAGE, "--attach %s: path too long", path);
		warn("attach %s", path);
		worse(in, TM_EXIT_FAIL);
		return;
	}
	/* No shutdown(SHUT_WR): a relay may take the EOF of its viewer
	 * for the viewer going away. */
	in_fd(in, fd, path, TM_EXIT_FAIL);
	close(fd);
}
