/* upstream.c - --upstream-proxy: every target is reached through an HTTP
 * proxy with CONNECT, in forward and in proxy mode.  The credentials come
 * from the environment only, never from the command line, where ps(1)
 * would show them to everyone. */
#include <err.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "relay.h"
#include "safe.h"
#include "util.h"

/* The upstream's answer to CONNECT: a status line and headers.  Longer
 * is not a proxy worth talking to. */
#define REPLY_MAX	4096
#define AUTH_MAX	1024	/* user:password, before base64 */

struct upstream {
	struct addr	 addr;
	struct sockaddr_any sa;
	char		 auth[4 * (AUTH_MAX + 2) / 3 + 8];	/* base64 */
};

void
upstream_init(struct relay *r, const char *spec)
{
	struct upstream *u;
	const char *user, *pass;
	char msg[512], cred[AUTH_MAX + 2];
	int n;

	/* Held by r at once: the exits below leave nothing unreachable. */
	if ((u = r->upstream = calloc(1, sizeof(*u))) == NULL)
		err(TM_EXIT_FAIL, "calloc");
	if (addr_parse(spec, ADDR_TARGET, &u->addr, msg, sizeof(msg)) == -1)
		errx(TM_EXIT_USAGE, "--upstream-proxy %s", msg);
	if (u->addr.unix_path)
		errx(TM_EXIT_USAGE, "--upstream-proxy %s: give HOST:PORT",
		    spec);
	if (addr_resolve(&u->addr, ADDR_TARGET, &u->sa, msg, sizeof(msg)) == -1)
		errx(TM_EXIT_FAIL, "--upstream-proxy %s", msg);
	user = getenv("TCPMON_PROXY_USER");
	pass = getenv("TCPMON_PROXY_PASSWORD");
	if (user != NULL && *user != '\0') {
		if (strchr(user, ':') != NULL)
			errx(TM_EXIT_USAGE, "TCPMON_PROXY_USER: a user name "
			    "holds no colon");
		n = snprintf(cred, sizeof(cred), "%s:%s", user,
		    pass != NULL ? pass : "");
		if (n < 0 || (size_t)n > AUTH_MAX)
			errx(TM_EXIT_USAGE, "TCPMON_PROXY_USER and "
			    "TCPMON_PROXY_PASSWORD: longer than %d bytes",
			    AUTH_MAX);
		b64_encode(cred, (size_t)n, u->auth);
		explicit_bzero(cred, sizeof(cred));
	} else if (pass != NULL && *pass != '\0')
		errx(TM_EXIT_USAGE, "TCPMON_PROXY_PASSWORD without "
		    "TCPMON_PROXY_USER");
}

const char *
upstream_text(const struct relay *r)
{
	return r->upstream->addr.text;
}

const struct sockaddr_any *
upstream_addr(const struct relay *r)
{
	return &r->upstream->sa;
}

int
upstream_start(struct relay *r, int fd, const char *target, char *msg,
    size_t n)
{
	struct upstream *u = r->upstream;
	char req[REPLY_MAX + sizeof(u->auth)];
	const char *tok = r->via_token;
	ssize_t w;
	int len;

	/* In proxy mode the CONNECT carries our Via, so that an upstream
	 * proxy that is this relay again is known (proxy.c). */
	len = snprintf(req, sizeof(req), "CONNECT %s HTTP/1.1\r\nHost: %s\r\n"
	    "%s%s%s%s%s%s\r\n", target, target,
	    *u->auth ? "Proxy-Authorization: Basic " : "", u->auth,
	    *u->auth ? "\r\n" : "", tok != NULL ? "Via: 1.1 " : "",
	    tok != NULL ? tok : "", tok != NULL ? "\r\n" : "");
	if (len < 0 || (size_t)len >= sizeof(req)) {
		snprintf(msg, n, "upstream proxy %s: target too long",
		    u->addr.text);
		return -1;
	}
	/* A fresh socket's send buffer takes a few hundred bytes whole. */
	w = send(fd, req, (size_t)len, MSG_NOSIGNAL);
	explicit_bzero(req, sizeof(req));
	if (w != len) {
		snprintf(msg, n, "upstream proxy %s: %s", u->addr.text,
		    w == -1 ? strerror(errno) : "short write");
		return -1;
	}
	return 0;
}

/*
 * Peeks at the answer so that not one byte past its head is taken: what
 * follows belongs to the target (a server that speaks first).
 */
int
upstream_reply(struct relay *r, int fd, char *msg, size_t n)
{
	struct upstream *u = r->upstream;
	char buf[REPLY_MAX + 1], *end, *eol, line[SAFE_ROOM(200)];
	ssize_t got;
	size_t headlen;
	int status;

	do
		got = recv(fd, buf, REPLY_MAX, MSG_PEEK);
	while (got == -1 && errno == EINTR);
	if (got == -1) {
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return 0;
		snprintf(msg, n, "upstream proxy %s: %s", u->addr.text,
		    strerror(errno));
		return -1;
	}
	if (got == 0) {
		snprintf(msg, n, "upstream proxy %s: closed before answering "
		    "CONNECT", u->addr.text);
		return -1;
	}
	buf[got] = '\0';
	if ((end = strstr(buf, "\r\n\r\n")) == NULL) {
		if (got == REPLY_MAX) {
			snprintf(msg, n, "upstream proxy %s: answer head over "
			    "%d bytes", u->addr.text, REPLY_MAX);
			return -1;
		}
		return 0;
	}
	headlen = (size_t)(end - buf) + 4;
	if ((eol = strstr(buf, "\r\n")) != NULL)
		*eol = '\0';
	if (strncmp(buf, "HTTP/1.", 7) != 0 || (buf[7] != '0' &&
	    buf[7] != '1') || buf[8] != ' ' || sscanf(buf + 9, "%3d",
	    &status) != 1) {
		/* The peer's line goes to stderr: shown, not obeyed. */
		snprintf(msg, n, "upstream proxy %s: not an HTTP answer: %s",
		    u->addr.text, safe_mem(buf, strnlen(buf, 80), line,
		    sizeof(line)));
		return -1;
	}
	if (status / 100 != 2) {
		/* The status line is what a person needs to see. */
		snprintf(msg, n, "upstream proxy %s: %s", u->addr.text,
		    safe_mem(buf, strnlen(buf, 200), line, sizeof(line)));
		return -1;
	}
	if (recv(fd, buf, headlen, 0) != (ssize_t)headlen) {
		snprintf(msg, n, "upstream proxy %s: %s", u->addr.text,
		    strerror(errno));
		return -1;
	}
	return 1;
}
