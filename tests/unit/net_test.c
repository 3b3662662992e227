/* net_test.c - unit tests for common/net.c and common/loop.c: address
 * parsing, resolving and formatting, listeners on port 0 and on a Unix
 * socket, connecting, and the epoll loop on a socketpair. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loop.h"
#include "net.h"
#include "util.h"
#include "t.h"

#define WAIT_MS	5000	/* for one socket event; valgrind is slow */

/* ---- addr_parse ---- */

struct acase {
	const char	*spec;
	enum addr_use	 use;
	const char	*text;	/* NULL: must fail */
	const char	*host;	/* or the reason, when it fails */
	const char	*port;	/* or the path, for unix: */
};

#define L	ADDR_LISTEN
#define T	ADDR_TARGET

static const struct acase acases[] = {
	{ "8080", L, "127.0.0.1:8080", "127.0.0.1", "8080" },
	{ ":8080", L, "127.0.0.1:8080", "127.0.0.1", "8080" },
	{ "0", L, "127.0.0.1:0", "127.0.0.1", "0" },
	{ "65535", L, "127.0.0.1:65535", "127.0.0.1", "65535" },
	{ "0.0.0.0:80", L, "0.0.0.0:80", "0.0.0.0", "80" },
	{ "[::1]:80", L, "[::1]:80", "::1", "80" },
	{ "[::]:0", L, "[::]:0", "::", "0" },
	{ "[fe80::1%lo]:80", L, "[fe80::1%lo]:80", "fe80::1%lo", "80" },
	{ "localhost:80", L, "localhost:80", "localhost", "80" },
	{ "example.com:443", T, "example.com:443", "example.com", "443" },
	{ "127.0.0.1:1", T, "127.0.0.1:1", "127.0.0.1", "1" },
	{ "[::1]:65535", T, "[::1]:65535", "::1", "65535" },
	{ "unix:/tmp/x", L, "unix:/tmp/x", NULL, "/tmp/x" },
	{ "unix:/run/tcpmon/a b.sock", T, "unix:/run/tcpmon/a b.sock", NULL,
	    "/run/tcpmon/a b.sock" },
	{ "unix:rel.sock", T, "unix:rel.sock", NULL, "rel.sock" },
	{ "65536", L, NULL, "bad port", NULL },
	{ "-1", L, NULL, "bad port", NULL },
	{ "x", L, NULL, "x: :PORT is missing ([ADDR:]PORT, such as x:8080)",
	    NULL },
	{ "myhost", T, NULL, ":PORT is missing (HOST:PORT, such as myhost:80)",
	    NULL },
	{ "10.0.0.1", T, NULL, ":PORT is missing (HOST:PORT", NULL },
	{ "http://10.0.0.1:8080/ws", T, NULL, "http://10.0.0.1:8080/ws: a URL "
	    "where HOST:PORT is expected, such as 10.0.0.1:8080 (proxy mode, "
	    "--proxy, is the one that takes URLs)", NULL },
	{ "https://u:p@ws.example.org/x?y", T, NULL, "such as "
	    "ws.example.org:443 (", NULL },
	{ "HTTP://h", T, NULL, "such as h:80 (", NULL },
	{ "ftp://h/x", T, NULL, "a URL where HOST:PORT is expected (proxy",
	    NULL },
	{ "http://[::1]:81/", T, NULL, "such as [::1]:81 (", NULL },
	{ "http://", T, NULL, "a URL where HOST:PORT is expected (proxy",
	    NULL },
	{ "http://0:80", L, NULL, "a URL where [ADDR:]PORT is expected", NULL },
	{ "80k", L, NULL, "bad port", NULL },
	{ "1k", L, NULL, "bad port", NULL },
	{ "", L, NULL, "bad port", NULL },
	{ ":", L, NULL, "bad port", NULL },
	{ " 80", L, NULL, "bad port", NULL },
	{ "80 ", L, NULL, "bad port", NULL },
	{ "+80", L, NULL, "bad port", NULL },
	{ "0x50", L, NULL, "bad port", NULL },
	{ "999999", L, NULL, "bad port", NULL },
	{ "18446744073709551696", L, NULL, "bad port", NULL },
	{ "host:", T, NULL, "bad port", NULL },
	{ "1.2.3.4:99999", T, NULL, "bad port", NULL },
	{ "::1:80", L, NULL, "brackets", NULL },
	{ "a:b:80", T, NULL, "brackets", NULL },
	{ "[::1]", L, NULL, "expected [IPV6]:PORT", NULL },
	{ "[::1]80", L, NULL, "expected [IPV6]:PORT", NULL },
	{ "[::1", L, NULL, "expected [IPV6]:PORT", NULL },
	{ "[]:80", L, NULL, "bad IPv6 address", NULL },
	{ "[::1]:", L, NULL, "bad port", NULL },
	{ "unix:", L, NULL, "empty socket path", NULL },
	{ "8080", T, NULL, "a target needs HOST:PORT", NULL },
	{ ":8080", T, NULL, "a target needs HOST:PORT", NULL },
	{ "127.0.0.1:0", T, NULL, "a target cannot be port 0", NULL },
	{ "[::1]:0", T, NULL, "a target cannot be port 0", NULL },
	{ "localhost:00", T, NULL, "a target cannot be port 0", NULL },
};

static void
test_parse(void)
{
	const struct acase *c;
	struct addr a;
	char err[512], spec[600];
	size_t i;
	int rc;

	for (i = 0; i < sizeof(acases) / sizeof(acases[0]); i++) {
		c = &acases[i];
		err[0] = '\0';
		rc = addr_parse(c->spec, c->use, &a, err, sizeof(err));
		if (c->text == NULL)
			ok(rc == -1 && strstr(err, c->host) != NULL &&
			    strncmp(err, c->spec, strlen(c->spec)) == 0,
			    "addr_parse %s \"%s\" fails: %s (got: %s)",
			    c->use == L ? "listen" : "target", c->spec,
			    c->host, rc == 0 ? a.text : err);
		else if (c->host == NULL)
			ok(rc == 0 && a.unix_path && strcmp(a.path, c->port) ==
			    0 && strcmp(a.text, c->text) == 0,
			    "addr_parse %s \"%s\" -> %s (got: %s)",
			    c->use == L ? "listen" : "target", c->spec,
			    c->text, rc == 0 ? a.text : err);
		else
			ok(rc == 0 && !a.unix_path && strcmp(a.host, c->host) ==
			    0 && strcmp(a.port, c->port) == 0 &&
			    strcmp(a.text, c->text) == 0,
			    "addr_parse %s \"%s\" -> %s (got: %s)",
			    c->use == L ? "listen" : "target", c->spec,
			    c->text, rc == 0 ? a.text : err);
	}

	/* The longest host and path there is room for, and one more. */
	memset(spec, 'h', 255);
	strcpy(spec + 255, ":80");
	rc = addr_parse(spec, T, &a, err, sizeof(err));
	ok(rc == 0 && strlen(a.host) == 255, "addr_parse: a host of 255 "
	    "bytes");
	memset(spec, 'h', 256);
	strcpy(spec + 256, ":80");
	rc = addr_parse(spec, T, &a, err, sizeof(err));
	ok(rc == -1 && strstr(err, "host name too long") != NULL,
	    "addr_parse: a host of 256 bytes is too long");
	strcpy(spec, "unix:/");
	memset(spec + 6, 'p', sizeof(a.path) - 2);
	spec[5 + sizeof(a.path) - 1] = '\0';
	rc = addr_parse(spec, L, &a, err, sizeof(err));
	ok(rc == 0 && strlen(a.path) == sizeof(a.path) - 1,
	    "addr_parse: a path of %zu bytes", sizeof(a.path) - 1);
	strcpy(spec + 5 + sizeof(a.path) - 1, "p");
	rc = addr_parse(spec, L, &a, err, sizeof(err));
	ok(rc == -1 && strstr(err, "socket path too long") != NULL,
	    "addr_parse: a path of %zu bytes is too long", sizeof(a.path));
	rc = addr_parse("65536", L, &a, err, 8);
	ok(rc == -1 && strlen(err) == 7, "addr_parse: a short err buffer "
	    "is not overrun");
}

/* ---- addr_resolve and addr_fmt ---- */

static int
resolve(const char *spec, enum addr_use use, struct sockaddr_any *sa,
    char *err, size_t n)
{
	struct addr a;

	if (addr_parse(spec, use, &a, err, n) == -1)
		return -1;
	return addr_resolve(&a, use, sa, err, n);
}

static void
test_resolve(void)
{
	struct sockaddr_any sa;
	struct sockaddr_in *in;
	struct sockaddr_in6 *in6;
	struct sockaddr_un *sun;
	char err[512], buf[ADDR_TEXT + 64];
	int rc;

	rc = resolve("127.0.0.1:80", T, &sa, err, sizeof(err));
	in = (struct sockaddr_in *)&sa.ss;
	ok(rc == 0 && sa.ss.ss_family == AF_INET && sa.len == sizeof(*in) &&
	    in->sin_port == htons(80) && in->sin_addr.s_addr ==
	    htonl(INADDR_LOOPBACK) && strcmp(addr_fmt((struct sockaddr *)
	    &sa.ss, sa.len, buf, sizeof(buf)), "127.0.0.1:80") == 0,
	    "addr_resolve 127.0.0.1:80 -> %s", rc == 0 ? buf : err);

	rc = resolve("8080", L, &sa, err, sizeof(err));
	ok(rc == 0 && strcmp(addr_fmt((struct sockaddr *)&sa.ss, sa.len, buf,
	    sizeof(buf)), "127.0.0.1:8080") == 0,
	    "addr_resolve listen 8080 -> 127.0.0.1:8080 (%s)",
	    rc == 0 ? buf : err);

	rc = resolve("[::1]:443", T, &sa, err, sizeof(err));
	in6 = (struct sockaddr_in6 *)&sa.ss;
	ok(rc == 0 && sa.ss.ss_family == AF_INET6 && sa.len == sizeof(*in6) &&
	    in6->sin6_port == htons(443) &&
	    IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr) &&
	    strcmp(addr_fmt((struct sockaddr *)&sa.ss, sa.len, buf,
	    sizeof(buf)), "[::1]:443") == 0,
	    "addr_resolve [::1]:443 -> %s", rc == 0 ? buf : err);

	rc = resolve("[::]:0", L, &sa, err, sizeof(err));
	ok(rc == 0 && strcmp(addr_fmt((struct sockaddr *)&sa.ss, sa.len, buf,
	    sizeof(buf)), "[::]:0") == 0, "addr_resolve [::]:0 -> %s",
	    rc == 0 ? buf : err);

	/* localhost comes from /etc/hosts, as either family. */
	rc = resolve("localhost:80", T, &sa, err, sizeof(err));
	if (rc == 0)
		addr_fmt((struct sockaddr *)&sa.ss, sa.len, buf, sizeof(buf));
	ok(rc == 0 && (strcmp(buf, "127.0.0.1:80") == 0 ||
	    strcmp(buf, "[::1]:80") == 0), "addr_resolve localhost:80 -> %s",
	    rc == 0 ? buf : err);

	rc = resolve("unix:/tmp/x.sock", L, &sa, err, sizeof(err));
	sun = (struct sockaddr_un *)&sa.ss;
	ok(rc == 0 && sa.ss.ss_family == AF_UNIX &&
	    strcmp(sun->sun_path, "/tmp/x.sock") == 0 &&
	    strcmp(addr_fmt((struct sockaddr *)&sa.ss, sa.len, buf,
	    sizeof(buf)), "unix:/tmp/x.sock") == 0,
	    "addr_resolve unix:/tmp/x.sock -> %s", rc == 0 ? buf : err);

	/* A path that fills sun_path, with no NUL after it. */
	memset(sun->sun_path, 'p', sizeof(sun->sun_path));
	addr_fmt((struct sockaddr *)&sa.ss, sizeof(*sun), buf, sizeof(buf));
	ok(strlen(buf) == 5 + sizeof(sun->sun_path),
	    "addr_fmt: a full sun_path without a NUL");
	addr_fmt((struct sockaddr *)&sa.ss, sizeof(sa_family_t), buf,
	    sizeof(buf));
	ok(strcmp(buf, "unix:") == 0, "addr_fmt: an unnamed Unix socket");
	sa.ss.ss_family = AF_APPLETALK;
	addr_fmt((struct sockaddr *)&sa.ss, sa.len, buf, sizeof(buf));
	ok(strcmp(buf, "unknown") == 0, "addr_fmt: another family");
	rc = resolve("127.0.0.1:80", T, &sa, err, sizeof(err));
	memset(buf, '#', sizeof(buf));
	addr_fmt((struct sockaddr *)&sa.ss, sa.len, buf, 6);
	ok(strcmp(buf, "127.0") == 0 && buf[6] == '#',
	    "addr_fmt: a short buffer is not overrun");
}

/* ---- listening, connecting ---- */

static int
wait_fd(int fd, short ev)
{
	struct pollfd p = { fd, ev, 0 };

	return poll(&p, 1, WAIT_MS) == 1 ? p.revents : 0;
}

static int
flags_ok(int fd)
{
	return (fcntl(fd, F_GETFL) & O_NONBLOCK) &&
	    (fcntl(fd, F_GETFD) & FD_CLOEXEC);
}

/*
 * Listens on spec, connects to what it bound, and checks both ends.
 * Returns -1 to skip (no such family here).
 */
static int
listen_connect(const char *spec, const char *want_prefix, char *why,
    size_t n)
{
	struct sockaddr_any sa, to;
	char err[512], lbuf[ADDR_TEXT + 64], cl[ADDR_TEXT + 64],
	    cp[ADDR_TEXT + 64], al[ADDR_TEXT + 64], ap[ADDR_TEXT + 64];
	int lfd, cfd = -1, afd = -1, pending, soerr, on = 0, ret = 0;
	socklen_t sl;
	char b[8];

	if (resolve(spec, L, &sa, err, sizeof(err)) == -1) {
		snprintf(why, n, "resolve: %s", err);
		return 0;
	}
	if ((lfd = sock_listen(&sa, 16)) == -1) {
		snprintf(why, n, "sock_listen: %s", strerror(errno));
		return errno == EAFNOSUPPORT || errno == EADDRNOTAVAIL ? -1 : 0;
	}
	addr_fmt_local(lfd, lbuf, sizeof(lbuf));
	if (!flags_ok(lfd) || strncmp(lbuf, want_prefix, strlen(want_prefix))
	    != 0 || strcmp(lbuf + strlen(want_prefix), "0") == 0) {
		snprintf(why, n, "listener %s, flags %d", lbuf, flags_ok(lfd));
		goto out;
	}
	to.len = sizeof(to.ss);
	getsockname(lfd, (struct sockaddr *)&to.ss, &to.len);
	if ((cfd = sock_connect(&to, &pending)) == -1) {
		snprintf(why, n, "sock_connect %s: %s", lbuf, strerror(errno));
		goto out;
	}
	if (pending && !(wait_fd(cfd, POLLOUT) & POLLOUT)) {
		snprintf(why, n, "connect to %s never completes", lbuf);
		goto out;
	}
	sl = sizeof(soerr);
	getsockopt(cfd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
	if (soerr != 0 || !flags_ok(cfd)) {
		snprintf(why, n, "connect: %s, flags %d", strerror(soerr),
		    flags_ok(cfd));
		goto out;
	}
	sl = sizeof(on);
	if (to.ss.ss_family != AF_UNIX && (getsockopt(cfd, IPPROTO_TCP,
	    TCP_NODELAY, &on, &sl) == -1 || !on)) {
		snprintf(why, n, "no TCP_NODELAY on the client");
		goto out;
	}
	wait_fd(lfd, POLLIN);
	if ((afd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) == -1) {
		snprintf(why, n, "accept: %s", strerror(errno));
		goto out;
	}
	addr_fmt_local(cfd, cl, sizeof(cl));
	addr_fmt_peer(cfd, cp, sizeof(cp));
	addr_fmt_local(afd, al, sizeof(al));
	addr_fmt_peer(afd, ap, sizeof(ap));
	if (strcmp(cp, lbuf) != 0 || strcmp(al, lbuf) != 0 ||
	    strcmp(ap, cl) != 0) {
		snprintf(why, n, "client %.100s -> %.100s, accepted %.100s <- %.100s", cl, cp,
		    al, ap);
		goto out;
	}
	if (write(cfd, "ping", 4) != 4 || !(wait_fd(afd, POLLIN) & POLLIN) ||
	    read(afd, b, sizeof(b)) != 4 || memcmp(b, "ping", 4) != 0) {
		snprintf(why, n, "no data through %s", lbuf);
		goto out;
	}
	/* sock_reset: the peer sees a reset, not an EOF. */
	sock_reset(afd);
	afd = -1;
	wait_fd(cfd, POLLIN);
	if (read(cfd, b, sizeof(b)) != -1 || errno != ECONNRESET) {
		snprintf(why, n, "%s: no ECONNRESET after sock_reset",
		    to.ss.ss_family == AF_UNIX ? "unix (EOF is fine)" : lbuf);
		if (to.ss.ss_family != AF_UNIX)
			goto out;
	}
	snprintf(why, n, "%s, client %s", lbuf, cl);
	ret = 1;
out:
	if (afd != -1)
		close(afd);
	if (cfd != -1)
		close(cfd);
	close(lfd);
	return ret;
}

static void
test_sockets(void)
{
	struct sockaddr_any sa;
	struct stat st;
	char dir[] = "/tmp/tmnet.XXXXXX", spec[128], why[600], err[512];
	char buf[ADDR_TEXT + 64];
	int rc, lfd, lfd2, cfd, afd, pending, p[2];
	mode_t um;

	memset(&st, 0, sizeof(st));

	rc = listen_connect("127.0.0.1:0", "127.0.0.1:", why, sizeof(why));
	ok(rc == 1, "sock_listen 127.0.0.1:0, sock_connect, accept: %s", why);
	rc = listen_connect("[::1]:0", "[::1]:", why, sizeof(why));
	if (rc == -1)
		ok(1, "# skip no IPv6 here: %s", why);
	else
		ok(rc == 1, "sock_listen [::1]:0, sock_connect, accept: %s",
		    why);

	/* A closed port: refused at once, or once the connect completes. */
	resolve("127.0.0.1:0", L, &sa, err, sizeof(err));
	lfd = sock_listen(&sa, 1);
	sa.len = sizeof(sa.ss);
	getsockname(lfd, (struct sockaddr *)&sa.ss, &sa.len);
	close(lfd);
	errno = 0;
	cfd = sock_connect(&sa, &pending);
	if (cfd != -1 && pending) {
		socklen_t sl = sizeof(rc);

		wait_fd(cfd, POLLOUT);
		getsockopt(cfd, SOL_SOCKET, SO_ERROR, &rc, &sl);
		errno = rc;
	}
	ok(errno == ECONNREFUSED, "sock_connect to a closed port: %s",
	    strerror(errno));
	if (cfd != -1)
		close(cfd);

	/* Unix sockets: mode 0600, whatever the umask. */
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		exit(2);
	}
	snprintf(spec, sizeof(spec), "unix:%s/s", dir);
	um = umask(0);
	rc = resolve(spec, L, &sa, err, sizeof(err));
	lfd = rc == 0 ? sock_listen(&sa, 4) : -1;
	ok(lfd != -1 && flags_ok(lfd), "sock_listen %s (umask 000)", spec);
	rc = stat(spec + 5, &st);
	ok(rc == 0 && S_ISSOCK(st.st_mode) && (st.st_mode & 07777) == 0600, "sock_listen: the socket has mode "
	    "0600 (got %04o)", (unsigned)(st.st_mode & 07777));
	ok(umask(022) == 0, "sock_listen: the umask is restored");
	ok(strcmp(addr_fmt_local(lfd, buf, sizeof(buf)), spec) == 0,
	    "addr_fmt_local of the listener: %s", buf);
	errno = 0;
	lfd2 = sock_listen(&sa, 4);
	ok(lfd2 == -1 && errno == EADDRINUSE && umask(022) == 022,
	    "sock_listen on a path in use: EADDRINUSE (%s), umask restored",
	    strerror(errno));
	cfd = sock_connect(&sa, &pending);
	if (cfd != -1 && pending)
		wait_fd(cfd, POLLOUT);
	wait_fd(lfd, POLLIN);
	afd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	ok(cfd != -1 && afd != -1 && strcmp(addr_fmt_peer(cfd, buf,
	    sizeof(buf)), spec) == 0, "sock_connect %s: peer %s", spec, buf);
	ok(afd != -1 && strcmp(addr_fmt_peer(afd, buf, sizeof(buf)),
	    "unix:") == 0, "addr_fmt_peer of an unnamed client: %s", buf);
	if (afd != -1)
		close(afd);
	if (cfd != -1)
		close(cfd);
	close(lfd);
	unlink(spec + 5);
	errno = 0;
	cfd = sock_connect(&sa, &pending);
	ok(cfd == -1 && errno == ENOENT, "sock_connect to a missing path: "
	    "%s", strerror(errno));
	rmdir(dir);
	umask(um);

	ok(strcmp(addr_fmt_local(-1, buf, sizeof(buf)), "unknown") == 0 &&
	    strcmp(addr_fmt_peer(-1, buf, sizeof(buf)), "unknown") == 0,
	    "addr_fmt_local/peer of a bad fd: unknown");
	if (pipe(p) == -1)
		exit(2);
	ok(sock_nonblock(p[0]) == 0 && (fcntl(p[0], F_GETFL) & O_NONBLOCK) &&
	    sock_nonblock(-1) == -1, "sock_nonblock");
	close(p[0]);
	close(p[1]);
}

/* ---- the loop ---- */

struct lstate {
	int	 sv[2];
	int	 ticks, reads, writes, errors, afters;
	unsigned last;
	char	 got[64];
	size_t	 ngot;
	int	 quiet_reads;	/* reads while the fd was quiet or gone */
	int	 phase;		/* 0 read, 1 write, 2 quiet, 3 read, 4 gone */
	int	 mod_rc;
};

static void
on_fd(struct loop *l, int fd, unsigned ev, void *arg)
{
	struct lstate *s = arg;
	ssize_t k;

	s->last = ev;
	if (ev & LOOP_ERROR)
		s->errors++;
	if (s->phase == 2 || s->phase == 4)
		s->quiet_reads++;
	if (ev & LOOP_READ) {
		s->reads++;
		if ((k = read(fd, s->got + s->ngot, sizeof(s->got) - 1 -
		    s->ngot)) > 0)
			s->ngot += (size_t)k;
		if (s->phase == 0) {
			/* Now wait for writability only. */
			s->mod_rc |= loop_mod(l, fd, LOOP_WRITE);
			s->phase = 1;
		}
	}
	if (ev & LOOP_WRITE) {
		s->writes++;
		if (s->phase == 1) {
			s->mod_rc |= loop_mod(l, fd, 0);
			s->phase = 2;
		}
	}
}

static void
on_tick(struct loop *l, void *arg)
{
	struct lstate *s = arg;

	switch (++s->ticks) {
	case 1:
		if (write(s->sv[1], "hello", 5) != 5)
			exit(2);
		break;
	case 4:
		/* Quiet: this must not wake the callback. */
		if (write(s->sv[1], " more", 5) != 5)
			exit(2);
		break;
	case 7:
		s->phase = 3;
		s->mod_rc |= loop_mod(l, s->sv[0], LOOP_READ);
		s->mod_rc |= loop_mod(l, s->sv[0], LOOP_READ);	/* no-op */
		break;
	case 10:
		loop_del(l, s->sv[0]);
		s->phase = 4;
		if (write(s->sv[1], " gone", 5) != 5)
			exit(2);
		break;
	case 13:
		loop_stop(l);
		break;
	}
}

static void
on_after(struct loop *l, void *arg)
{
	struct lstate *s = arg;

	(void)l;
	s->afters++;
}

/* Two fds ready in one batch: whichever runs first removes the other. */
struct pair {
	int	 fd[2];
	int	 calls[2];
	int	 del_rc;
};

static struct pair pr;

static void
on_pair(struct loop *l, int fd, unsigned ev, void *arg)
{
	int i = fd == pr.fd[0] ? 0 : 1;
	char b[16];

	(void)ev;
	(void)arg;
	pr.calls[i]++;
	if (read(fd, b, sizeof(b)) < 0)
		pr.del_rc = -1;
	if (pr.fd[1 - i] != -1) {
		loop_del(l, pr.fd[1 - i]);
		close(pr.fd[1 - i]);
		pr.fd[1 - i] = -1;
	}
}

static void
stop_tick(struct loop *l, void *arg)
{
	(void)arg;
	loop_stop(l);
}

static void
on_hup(struct loop *l, int fd, unsigned ev, void *arg)
{
	unsigned *got = arg;
	char b[8];

	*got |= ev;
	if (read(fd, b, sizeof(b)) != 0)
		*got |= 0x100;		/* not an EOF */
	loop_del(l, fd);
	loop_stop(l);
}

static void
noop_tick(struct loop *l, void *arg)
{
	(void)l;
	(void)arg;
}

static void
test_loop(void)
{
	struct lstate s;
	struct loop *l;
	int64_t t0, dt;
	int sv[2], sv2[2], rc, i, big;
	unsigned got = 0;

	memset(&s, 0, sizeof(s));
	if ((l = loop_new()) == NULL ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, s.sv) == -1)
		exit(2);
	ok(loop_add(l, s.sv[0], LOOP_READ, on_fd, &s) == 0 &&
	    loop_every(l, 10, on_tick, &s) >= 0, "loop: loop_add, loop_every");
	loop_after(l, on_after, &s);
	t0 = tm_mono_ms();
	rc = loop_run(l);
	dt = tm_mono_ms() - t0;
	ok(rc == 0 && s.ticks == 13 && dt >= 120 && dt < 10000,
	    "loop: 13 ticks of 10 ms, loop_stop from a timer (%d ticks, "
	    "%lld ms)", s.ticks, (long long)dt);
	s.got[s.ngot] = '\0';
	ok(strcmp(s.got, "hello more") == 0 && s.reads >= 2,
	    "loop: LOOP_READ delivers (\"%s\", %d reads)", s.got, s.reads);
	ok(s.writes >= 1 && s.mod_rc == 0, "loop: loop_mod to LOOP_WRITE "
	    "(%d writes)", s.writes);
	ok(s.quiet_reads == 0, "loop: no callback while quiet (events 0) or "
	    "after loop_del (%d)", s.quiet_reads);
	ok(s.afters >= s.reads + s.writes && s.errors == 0,
	    "loop: loop_after after each batch (%d)", s.afters);
	ok(loop_mod(l, s.sv[0], LOOP_READ) == -1 && loop_mod(l, 999,
	    LOOP_READ) == -1 && loop_mod(l, -1, LOOP_READ) == -1,
	    "loop: loop_mod of an fd it does not watch: -1");
	loop_del(l, s.sv[0]);
	loop_del(l, 999);
	loop_del(l, -1);
	ok(loop_every(l, 0, on_tick, &s) == -1 && loop_every(l, -5, on_tick,
	    &s) == -1, "loop: loop_every of 0 or less: -1");
	for (i = 0, rc = 0; i < 5000; i++)
		rc += loop_every(l, 100000, noop_tick, NULL) >= 0;
	ok(rc == 5000, "loop: timers without a fixed cap (%d)", rc);
	ok(loop_add(l, 999, LOOP_READ, on_fd, &s) == -1,
	    "loop: loop_add of a bad fd: -1");
	close(s.sv[0]);
	close(s.sv[1]);
	loop_free(l);

	/* Removal of an fd that is in the same batch. */
	l = loop_new();
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == -1 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv2) == -1)
		exit(2);
	pr.fd[0] = sv[0];
	pr.fd[1] = sv2[0];
	if (write(sv[1], "a", 1) != 1 || write(sv2[1], "b", 1) != 1)
		exit(2);
	loop_add(l, sv[0], LOOP_READ, on_pair, NULL);
	loop_add(l, sv2[0], LOOP_READ, on_pair, NULL);
	loop_every(l, 50, stop_tick, NULL);
	loop_run(l);
	ok(pr.calls[0] + pr.calls[1] == 1 && pr.del_rc == 0,
	    "loop: an fd removed by an earlier callback of the batch is not "
	    "called (%d, %d)", pr.calls[0], pr.calls[1]);
	for (i = 0; i < 2; i++)
		if (pr.fd[i] != -1) {
			loop_del(l, pr.fd[i]);
			close(pr.fd[i]);
		}
	close(sv[1]);
	close(sv2[1]);
	loop_free(l);

	/* A quiet fd (events 0) still hears of a hang-up: epoll always
	 * reports it, and a caller that ignores LOOP_ERROR would spin. */
	l = loop_new();
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == -1)
		exit(2);
	got = 0;
	rc = loop_add(l, sv[0], 0, on_hup, &got);
	close(sv[1]);
	loop_every(l, WAIT_MS, stop_tick, NULL);
	loop_run(l);
	ok(rc == 0 && (got & LOOP_ERROR) && !(got & LOOP_WRITE),
	    "loop: a quiet fd is told of a hang-up with LOOP_ERROR (events "
	    "%#x)", got);
	close(sv[0]);
	loop_free(l);

	/* The peer goes away; and an fd number past the first slots. */
	l = loop_new();
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == -1)
		exit(2);
	big = fcntl(sv[0], F_DUPFD_CLOEXEC, 300);
	close(sv[0]);
	got = 0;
	rc = loop_add(l, big, LOOP_READ, on_hup, &got);
	close(sv[1]);
	loop_every(l, WAIT_MS, stop_tick, NULL);
	loop_run(l);
	ok(rc == 0 && (got & LOOP_READ) && !(got & 0x100),
	    "loop: the peer's close is LOOP_READ then EOF, on fd %d "
	    "(events %#x)", big, got);
	close(big);
	loop_free(l);
	loop_free(NULL);
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	alarm(60);
	test_parse();
	test_resolve();
	test_sockets();
	test_loop();
	return t_done();
}
