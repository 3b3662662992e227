/* net.c - address parsing and formatting, listening and connecting. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "net.h"
#include "util.h"

static int
set_err(char *err, size_t n, const char *fmt, const char *arg)
{
	snprintf(err, n, fmt, arg);
	return -1;
}

/* A port as plain decimal: "0080" becomes "80", so that checks and the
 * text shown see the number, not how it was written. */
static int
port_parse(const char *p, char *out, size_t n)
{
	uint64_t v;
	const char *e;

	if (strlen(p) > 8 || strpbrk(p, "kKmMgG") != NULL ||
	    num_parse(p, 0, 65535, &v, &e) == -1)
		return -1;
	snprintf(out, n, "%u", (unsigned)v);
	return 0;
}

/* A name or an IPv4 literal rather than a mistyped port ("x", "a.b" or
 * "10.0.0.1", not "1k", "-1" or "0x50"). */
static int
is_hostlike(const char *s)
{
	return ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
	    strchr(s, '.') != NULL) &&
	    strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789.-_") == strlen(s);
}

/*
 * A URL given where HOST:PORT is expected (-t http://host:8080/): names
 * the HOST:PORT it holds, the scheme's port when it has none.
 */
static int
url_err(const char *spec, const char *sep, enum addr_use use, char *err,
    size_t n)
{
	const char *want = use == ADDR_TARGET ? "HOST:PORT" : "[ADDR:]PORT";
	const char *auth = sep + 3, *end, *at, *c;
	const char *port = NULL;
	size_t sl = (size_t)(sep - spec), al;

	end = auth + strcspn(auth, "/?#");
	for (at = auth; (c = memchr(at, '@', (size_t)(end - at))) != NULL;)
		at = c + 1;
	auth = at;
	al = (size_t)(end - auth);
	c = auth + al;
	while (c > auth && c[-1] >= '0' && c[-1] <= '9')
		c--;
	if (!(c > auth && c < end && c[-1] == ':')) {
		if (sl == 4 && strncasecmp(spec, "http", 4) == 0)
			port = ":80";
		else if (sl == 5 && strncasecmp(spec, "https", 5) == 0)
			port = ":443";
	}
	if (al == 0 || al > 300 || (port == NULL && c == auth + al))
		snprintf(err, n, "%s: a URL where %s is expected (proxy "
		    "mode, --proxy, is the one that takes URLs)", spec, want);
	else
		snprintf(err, n, "%s: a URL where %s is expected, such as "
		    "%.*s%s (proxy mode, --proxy, is the one that takes URLs)",
		    spec, want, (int)al, auth, port != NULL ? port : "");
	return -1;
}

int
addr_parse(const char *spec, enum addr_use use, struct addr *a, char *err,
    size_t errlen)
{
	const char *colon, *port, *sep;
	size_t hl;

	memset(a, 0, sizeof(*a));
	if ((sep = strstr(spec, "://")) != NULL && sep > spec &&
	    strspn(spec, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789+-.") == (size_t)(sep - spec))
		return url_err(spec, sep, use, err, errlen);
	if (strncmp(spec, "unix:", 5) == 0) {
		if (spec[5] == '\0')
			return set_err(err, errlen, "%s: empty socket path",
			    spec);
		if (strlen(spec + 5) >= sizeof(a->path))
			return set_err(err, errlen,
			    "%s: socket path too long", spec);
		a->unix_path = 1;
		strcpy(a->path, spec + 5);
		snprintf(a->text, sizeof(a->text), "unix:%s", a->path);
		return 0;
	}
	if (spec[0] == '[') {
		const char *rb = strchr(spec, ']');

		if (rb == NULL || rb[1] != ':')
			return set_err(err, errlen,
			    "%s: expected [IPV6]:PORT", spec);
		hl = (size_t)(rb - spec - 1);
		if (hl == 0 || hl >= sizeof(a->host))
			return set_err(err, errlen, "%s: bad IPv6 address",
			    spec);
		memcpy(a->host, spec + 1, hl);
		port = rb + 2;
	} else if ((colon = strrchr(spec, ':')) != NULL) {
		hl = (size_t)(colon - spec);
		if (memchr(spec, ':', hl) != NULL)
			return set_err(err, errlen,
			    "%s: IPv6 addresses go in brackets: [ADDR]:PORT",
			    spec);
		if (hl >= sizeof(a->host))
			return set_err(err, errlen, "%s: host name too long",
			    spec);
		memcpy(a->host, spec, hl);
		port = colon + 1;
	} else if (is_hostlike(spec)) {
		/* A host alone: the port was left out. */
		if (strlen(spec) > 255)
			return set_err(err, errlen, "%s: host name too long",
			    spec);
		snprintf(err, errlen, "%s: :PORT is missing (%s, such as "
		    "%s:%s)", spec, use == ADDR_TARGET ? "HOST:PORT" :
		    "[ADDR:]PORT", spec, use == ADDR_TARGET ? "80" : "8080");
		return -1;
	} else
		port = spec;
	if (port_parse(port, a->port, sizeof(a->port)) == -1)
		return set_err(err, errlen, "%s: bad port (0 to 65535)",
		    spec);
	if (a->host[0] == '\0') {
		if (use == ADDR_TARGET)
			return set_err(err, errlen,
			    "%s: a target needs HOST:PORT", spec);
		strcpy(a->host, "127.0.0.1");	/* safe by default */
	}
	if (use == ADDR_TARGET && strcmp(a->port, "0") == 0)
		return set_err(err, errlen, "%s: a target cannot be port 0",
		    spec);
	snprintf(a->text, sizeof(a->text), strchr(a->host, ':') ?
	    "[%s]:%s" : "%s:%s", a->host, a->port);
	return 0;
}

int
addr_resolve(const struct addr *a, enum addr_use use, struct sockaddr_any *sa,
    char *err, size_t errlen)
{
	struct addrinfo hints, *res;
	struct sockaddr_un *sun;
	int rc;

	memset(sa, 0, sizeof(*sa));
	if (a->unix_path) {
		sun = (struct sockaddr_un *)&sa->ss;
		sun->sun_family = AF_UNIX;
		strcpy(sun->sun_path, a->path);
		sa->len = (socklen_t)sizeof(*sun);
		return 0;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV | (use == ADDR_LISTEN ? AI_PASSIVE : 0);
	if ((rc = getaddrinfo(a->host, a->port, &hints, &res)) != 0) {
		snprintf(err, errlen, "%s: %s", a->text, rc == EAI_SYSTEM ?
		    strerror(errno) : gai_strerror(rc));
		return -1;
	}
	memcpy(&sa->ss, res->ai_addr, res->ai_addrlen);
	sa->len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

char *
addr_fmt(const struct sockaddr *sa, socklen_t len, char *buf, size_t n)
{
	char host[INET6_ADDRSTRLEN];
	const struct sockaddr_un *sun;

	switch (sa->sa_family) {
	case AF_INET:
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr,
		    host, sizeof(host));
		snprintf(buf, n, "%s:%u", host,
		    ntohs(((const struct sockaddr_in *)sa)->sin_port));
		break;
	case AF_INET6:
		inet_ntop(AF_INET6,
		    &((const struct sockaddr_in6 *)sa)->sin6_addr, host,
		    sizeof(host));
		snprintf(buf, n, "[%s]:%u", host,
		    ntohs(((const struct sockaddr_in6 *)sa)->sin6_port));
		break;
	case AF_UNIX:
		sun = (const struct sockaddr_un *)sa;
		/* An unnamed peer (a client socket) has no path. */
		if (len <= offsetof(struct sockaddr_un, sun_path) ||
		    sun->sun_path[0] == '\0')
			snprintf(buf, n, "unix:");
		else
			snprintf(buf, n, "unix:%.*s", (int)(len -
			    offsetof(struct sockaddr_un, sun_path)),
			    sun->sun_path);
		break;
	default:
		snprintf(buf, n, "unknown");
	}
	return buf;
}

char *
addr_fmt_local(int fd, char *buf, size_t n)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) == -1) {
		snprintf(buf, n, "unknown");
		return buf;
	}
	return addr_fmt((struct sockaddr *)&ss, len, buf, n);
}

char *
addr_fmt_peer(int fd, char *buf, size_t n)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getpeername(fd, (struct sockaddr *)&ss, &len) == -1) {
		snprintf(buf, n, "unknown");
		return buf;
	}
	return addr_fmt((struct sockaddr *)&ss, len, buf, n);
}

int
sock_nonblock(int fd)
{
	int fl;

	if ((fl = fcntl(fd, F_GETFL)) == -1)
		return -1;
	return fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* Whether the Unix socket at sa is a leftover: a socket file that nobody
 * listens on any more (its owner died without removing it). */
static int
stale_unix(const struct sockaddr_any *sa)
{
	const struct sockaddr_un *sun = (const struct sockaddr_un *)&sa->ss;
	struct stat st;
	int fd, r;

	if (sun->sun_path[0] == '\0' || lstat(sun->sun_path, &st) == -1 ||
	    !S_ISSOCK(st.st_mode))
		return 0;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return 0;
	r = connect(fd, (const struct sockaddr *)&sa->ss, sa->len) == -1 &&
	    errno == ECONNREFUSED;
	close(fd);
	return r;
}

/* bind(2), and once more after removing a leftover Unix socket file, as
 * a relay killed by a signal leaves behind (a live one is never taken
 * over). */
static int
bind_once(int fd, const struct sockaddr_any *sa)
{
	const struct sockaddr_un *sun = (const struct sockaddr_un *)&sa->ss;

	if (bind(fd, (const struct sockaddr *)&sa->ss, sa->len) == 0)
		return 0;
	if (sa->ss.ss_family != AF_UNIX || errno != EADDRINUSE)
		return -1;
	if (!stale_unix(sa) || unlink(sun->sun_path) == -1) {
		errno = EADDRINUSE;
		return -1;
	}
	return bind(fd, (const struct sockaddr *)&sa->ss, sa->len);
}

int
sock_listen(const struct sockaddr_any *sa, int backlog)
{
	int fd, on = 1, family = sa->ss.ss_family, saved;
	mode_t old = 0;

	if ((fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1)
		return -1;
	if (family != AF_UNIX)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
	/* The umask makes the socket 0600 from its birth (a socket takes
	 * 0777 less the umask): no window in which another user could
	 * connect. */
	if (family == AF_UNIX)
		old = umask(0177);
	if (bind_once(fd, sa) == -1) {
		saved = errno;
		if (family == AF_UNIX)
			umask(old);
		close(fd);
		errno = saved;
		return -1;
	}
	if (family == AF_UNIX)
		umask(old);
	if (listen(fd, backlog) == -1) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

int
sock_connect(const struct sockaddr_any *sa, int *pending)
{
	int fd, saved, on = 1;

	*pending = 0;
	if ((fd = socket(sa->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (sa->ss.ss_family != AF_UNIX)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	if (connect(fd, (const struct sockaddr *)&sa->ss, sa->len) == -1) {
		if (errno == EINPROGRESS) {
			*pending = 1;
			return fd;
		}
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

void
sock_reset(int fd)
{
	sock_set_reset(fd);
	close(fd);
}

void
sock_set_reset(int fd)
{
	struct linger l = { 1, 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
}

int
sock_error(int fd)
{
	int e = 0;
	socklen_t len = sizeof(e);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) == -1)
		return errno;
	return e;
}

const char *
sock_connect_reason(int e)
{
	switch (e) {
	case ECONNREFUSED:
		return "refused";
	case EHOSTUNREACH:
	case ENETUNREACH:
	case EHOSTDOWN:
	case ENETDOWN:
		return "unreachable";
	case ETIMEDOUT:
		return "timeout";
	default:
		return "error";
	}
}

int
sock_connect_unix(const char *path)
{
	struct sockaddr_un sun;
	int fd, e;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path));
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}
