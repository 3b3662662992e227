/* activate.c - listening sockets the relay is given rather than binds:
 * passed by systemd (LISTEN_FDS, sd_listen_fds(3)'s protocol) or inherited
 * from a supervisor (--listen-fd N).  A privileged port then needs no
 * privilege, and a restart refuses no client: the socket outlives us. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "relay.h"
#include "util.h"

#define SD_LISTEN_FDS_START	3

/* LISTEN_FDNAMES, which the names point into, for as long as the relay
 * runs; longer names (systemd allows 255 bytes each) are left out. */
static char namebuf[4096];

int
activate_take(int fd, char *msg, size_t msglen)
{
	socklen_t len;
	int v, fl;

	if ((fl = fcntl(fd, F_GETFD)) == -1) {
		snprintf(msg, msglen, "%s", strerror(errno));
		return -1;
	}
	len = sizeof(v);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &len) == -1) {
		snprintf(msg, msglen, "not a socket: %s", strerror(errno));
		return -1;
	}
	if (v != SOCK_STREAM) {
		snprintf(msg, msglen, "not a stream socket");
		return -1;
	}
	len = sizeof(v);
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &len) == -1 ||
	    v == 0) {
		snprintf(msg, msglen, "not a listening socket");
		return -1;
	}
	/* Close-on-exec before anything is started: stages and the terminal
	 * view must not hold the listener open after the relay ends. */
	if (fcntl(fd, F_SETFD, fl | FD_CLOEXEC) == -1 ||
	    (fl = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1) {
		snprintf(msg, msglen, "%s", strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * LISTEN_PID names the process the sockets are for: another's (a shell
 * between systemd and us that did not exec) are not ours to take.  The
 * variables go from the environment in every case, so that stages and
 * their children do not take them for their own.
 */
int
activate_systemd(int *fds, char **names, int max, char *msg, size_t msglen)
{
	const char *spid, *sfds, *snames, *e;
	char *p, *colon;
	uint64_t pid, n;
	int i, ret = 0;

	spid = getenv("LISTEN_PID");
	sfds = getenv("LISTEN_FDS");
	snames = getenv("LISTEN_FDNAMES");
	if (spid == NULL || sfds == NULL)
		goto out;
	if (num_parse(spid, 1, INT32_MAX, &pid, &e) == -1) {
		snprintf(msg, msglen, "LISTEN_PID=%s: %s", spid, e);
		ret = -1;
		goto out;
	}
	if ((pid_t)pid != getpid())
		goto out;
	if (num_parse(sfds, 0, (uint64_t)max, &n, &e) == -1) {
		snprintf(msg, msglen, "LISTEN_FDS=%s: %s (at most %d)", sfds,
		    e, max);
		ret = -1;
		goto out;
	}
	p = NULL;
	if (snames != NULL && strlen(snames) < sizeof(namebuf))
		p = strcpy(namebuf, snames);
	for (i = 0; i < (int)n; i++) {
		fds[i] = SD_LISTEN_FDS_START + i;
		names[i] = NULL;
		if (p != NULL) {
			/* Names are colon-separated, one per descriptor. */
			if ((colon = strchr(p, ':')) != NULL)
				*colon = '\0';
			if (*p != '\0' && strcmp(p, "unknown") != 0)
				names[i] = p;
			p = colon != NULL ? colon + 1 : NULL;
		}
		if (activate_take(fds[i], msg, msglen) == -1) {
			char why[200];

			snprintf(why, sizeof(why), "%s", msg);
			snprintf(msg, msglen, "socket %d from systemd%s%s%s: %s",
			    fds[i], names[i] ? " (" : "", names[i] ? names[i] :
			    "", names[i] ? ")" : "", why);
			ret = -1;
			goto out;
		}
	}
	ret = (int)n;
out:
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	return ret;
}
