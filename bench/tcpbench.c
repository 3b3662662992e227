/* tcpbench.c - the client and echo server of bench/relay.sh: bulk
 * throughput, ping-pong latency, connection rate and many idle connections,
 * all on loopback, every loop bounded.
 *
 *	tcpbench echo			echo server on 127.0.0.1, port 0
 *	tcpbench bulk PORT BYTES	BYTES each way on one connection
 *	tcpbench pingpong PORT N	N round trips of 64 bytes
 *	tcpbench connrate PORT N K	N connections, K at once, 64 bytes each
 *	tcpbench hold PORT N		N open connections until stdin closes
 */
#include <arpa/inet.h>
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BUF	(256 * 1024)
#define DEADLINE_S 120	/* no step runs longer */

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
dial(int port, int nonblock)
{
	struct sockaddr_in sin;
	int fd, on = 1;

	if ((fd = socket(AF_INET, SOCK_STREAM | (nonblock ? SOCK_NONBLOCK :
	    0), 0)) == -1)
		err(1, "socket");
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 &&
	    errno != EINPROGRESS)
		err(1, "connect 127.0.0.1:%d", port);
	return fd;
}

static void
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* The echo server: one epoll loop; a connection's unsent bytes stop its
 * reading until they are gone. */
struct ec {
	int	 fd;
	char	*buf;
	size_t	 off, len;
};

static void
echo_server(void)
{
	struct epoll_event ev, evs[256];
	struct sockaddr_in sin;
	socklen_t sl = sizeof(sin);
	struct ec *c;
	ssize_t n;
	int lfd, ep, i, k, fd, on = 1;

	raise_nofile();
	if ((lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0)) == -1)
		err(1, "socket");
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(lfd, 4096) == -1 ||
	    getsockname(lfd, (struct sockaddr *)&sin, &sl) == -1)
		err(1, "listen");
	printf("tcpbench: listening on 127.0.0.1:%d\n", ntohs(sin.sin_port));
	fflush(stdout);
	ep = epoll_create1(0);
	ev.events = EPOLLIN;
	ev.data.ptr = NULL;
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	for (;;) {
		k = epoll_wait(ep, evs, 256, -1);
		for (i = 0; i < k; i++) {
			if ((c = evs[i].data.ptr) == NULL) {
				while ((fd = accept4(lfd, NULL, NULL,
				    SOCK_NONBLOCK)) != -1) {
					setsockopt(fd, IPPROTO_TCP,
					    TCP_NODELAY, &on, sizeof(on));
					if ((c = calloc(1, sizeof(*c))) == NULL)
						err(1, "calloc");
					c->fd = fd;
					ev.events = EPOLLIN;
					ev.data.ptr = c;
					epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
				}
				continue;
			}
			if (c->len == 0) {
				if (c->buf == NULL &&
				    (c->buf = malloc(BUF)) == NULL)
					err(1, "malloc");
				n = read(c->fd, c->buf, BUF);
				if (n == -1 && errno == EAGAIN)
					continue;
				if (n <= 0) {
					close(c->fd);
					free(c->buf);
					free(c);
					continue;
				}
				c->off = 0;
				c->len = (size_t)n;
			}
			n = write(c->fd, c->buf + c->off, c->len);
			if (n > 0) {
				c->off += (size_t)n;
				c->len -= (size_t)n;
			} else if (n == -1 && errno != EAGAIN) {
				close(c->fd);
				free(c->buf);
				free(c);
				continue;
			}
			if (c->len == 0) {
				free(c->buf);	/* idle: no memory */
				c->buf = NULL;
			}
			ev.events = c->len > 0 ? EPOLLOUT : EPOLLIN;
			ev.data.ptr = c;
			epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
		}
	}
}

struct sender {
	int		 fd;
	uint64_t	 bytes;
};

static void *
send_all(void *arg)
{
	struct sender *s = arg;
	static char buf[BUF];
	uint64_t left = s->bytes;
	ssize_t n;

	memset(buf, 'x', sizeof(buf));
	while (left > 0) {
		n = write(s->fd, buf, left < BUF ? left : BUF);
		if (n <= 0)
			err(1, "bulk write");
		left -= (uint64_t)n;
	}
	shutdown(s->fd, SHUT_WR);
	return NULL;
}

static void
bulk(int port, uint64_t bytes)
{
	static char buf[BUF];
	struct sender s;
	pthread_t t;
	uint64_t got = 0;
	double t0;
	ssize_t n;

	s.fd = dial(port, 0);
	s.bytes = bytes;
	t0 = now_s();
	pthread_create(&t, NULL, send_all, &s);
	while ((n = read(s.fd, buf, sizeof(buf))) > 0) {
		got += (uint64_t)n;
		if (now_s() - t0 > DEADLINE_S)
			errx(1, "bulk: over %ds", DEADLINE_S);
	}
	pthread_join(t, NULL);
	if (got != bytes)
		errx(1, "bulk: %llu of %llu bytes came back",
		    (unsigned long long)got, (unsigned long long)bytes);
	/* Bytes moved, both ways, per second. */
	printf("%.1f\n", 2.0 * (double)bytes / (1 << 20) / (now_s() - t0));
}

static int
cmpd(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void
pingpong(int port, int n)
{
	char buf[64];
	double *rtt, t;
	ssize_t k, got;
	int fd, i;

	if ((rtt = calloc((size_t)n, sizeof(*rtt))) == NULL)
		err(1, "calloc");
	fd = dial(port, 0);
	memset(buf, 'p', sizeof(buf));
	for (i = 0; i < n; i++) {
		t = now_s();
		if (write(fd, buf, sizeof(buf)) != sizeof(buf))
			err(1, "pingpong write");
		for (got = 0; got < (ssize_t)sizeof(buf); got += k)
			if ((k = read(fd, buf + got, sizeof(buf) -
			    (size_t)got)) <= 0)
				errx(1, "pingpong: connection lost");
		rtt[i] = now_s() - t;
	}
	qsort(rtt, (size_t)n, sizeof(*rtt), cmpd);
	printf("%.1f\n", rtt[n / 2] * 1e6);	/* median, microseconds */
	free(rtt);
}

/* Each connection: connect, send 64 bytes, read them back, close. */
static void
connrate(int port, int n, int k)
{
	struct epoll_event ev, evs[256];
	int ep, started = 0, done = 0, inflight = 0, i, m, fd;
	char buf[64];
	int *got;
	double t0;
	ssize_t r;

	raise_nofile();
	if ((got = calloc(65536, sizeof(*got))) == NULL)
		err(1, "calloc");
	ep = epoll_create1(0);
	memset(buf, 'c', sizeof(buf));
	t0 = now_s();
	while (done < n) {
		while (inflight < k && started < n) {
			fd = dial(port, 1);
			got[fd] = -1;	/* not yet sent */
			ev.events = EPOLLOUT;
			ev.data.fd = fd;
			epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
			started++;
			inflight++;
		}
		if ((m = epoll_wait(ep, evs, 256, 1000)) <= 0 &&
		    now_s() - t0 > DEADLINE_S)
			errx(1, "connrate: over %ds", DEADLINE_S);
		for (i = 0; i < m; i++) {
			fd = evs[i].data.fd;
			if (got[fd] == -1) {
				if (write(fd, buf, sizeof(buf)) != sizeof(buf))
					err(1, "connrate write");
				got[fd] = 0;
				ev.events = EPOLLIN;
				ev.data.fd = fd;
				epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
				continue;
			}
			r = read(fd, buf, sizeof(buf));
			if (r == -1 && errno == EAGAIN)
				continue;
			if (r <= 0)
				errx(1, "connrate: connection lost");
			if ((got[fd] += (int)r) == sizeof(buf)) {
				close(fd);
				done++;
				inflight--;
			}
		}
	}
	printf("%.0f\n", n / (now_s() - t0));
	free(got);
}

static void
hold(int port, int n)
{
	char b;
	int *fds, i;

	raise_nofile();
	if ((fds = calloc((size_t)n, sizeof(*fds))) == NULL)
		err(1, "calloc");
	/* One byte each way on every connection: each is really through. */
	for (i = 0; i < n; i++) {
		fds[i] = dial(port, 0);
		if (write(fds[i], "h", 1) != 1 || read(fds[i], &b, 1) != 1)
			errx(1, "hold: connection %d failed", i);
	}
	printf("held %d\n", n);
	fflush(stdout);
	while (read(0, &b, 1) > 0)
		;
	for (i = 0; i < n; i++)
		close(fds[i]);
	free(fds);
}

int
main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	alarm(DEADLINE_S + 60);	/* a backstop for anything unbounded */
	if (argc == 2 && strcmp(argv[1], "echo") == 0) {
		alarm(0);
		echo_server();
	} else if (argc == 4 && strcmp(argv[1], "bulk") == 0)
		bulk(atoi(argv[2]), strtoull(argv[3], NULL, 10));
	else if (argc == 4 && strcmp(argv[1], "pingpong") == 0)
		pingpong(atoi(argv[2]), atoi(argv[3]));
	else if (argc == 5 && strcmp(argv[1], "connrate") == 0)
		connrate(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]));
	else if (argc == 4 && strcmp(argv[1], "hold") == 0) {
		alarm(0);
		hold(atoi(argv[2]), atoi(argv[3]));
	} else {
		fprintf(stderr, "usage: tcpbench echo | bulk PORT BYTES | "
		    "pingpong PORT N | connrate PORT N K | hold PORT N\n");
		return 2;
	}
	return 0;
}
