/* url.c - http:// and https://HOST[:PORT][/PATH], and the Location of a
 * redirect. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "send.h"
#include "util.h"

static int
fail(char *err, size_t n, const char *what, const char *s)
{
	snprintf(err, n, "%s: %s", s, what);
	return -1;
}

int
url_parse(const char *s, struct url *u, char *err, size_t errlen)
{
	const char *p = s, *hend, *pstart, *colon = NULL, *port;
	size_t hl, pl;
	uint64_t v;
	const char *e;

	memset(u, 0, sizeof(*u));
	if (strncasecmp(p, "https://", 8) == 0) {
		p += 8;
		u->tls = 1;
	} else if (strncasecmp(p, "http://", 7) == 0)
		p += 7;
	else if (strstr(p, "://") != NULL)
		return fail(err, errlen, "not an http:// or https:// URL", s);
	pstart = p + strcspn(p, "/?#");
	if (memchr(p, '@', (size_t)(pstart - p)) != NULL)
		return fail(err, errlen, "user names in URLs are not "
		    "supported (use -H Authorization)", s);
	if (*p == '[') {
		if ((hend = memchr(p, ']', (size_t)(pstart - p))) == NULL)
			return fail(err, errlen, "no ] after the IPv6 address",
			    s);
		hl = (size_t)(hend - p - 1);
		if (hl == 0 || hl >= sizeof(u->host))
			return fail(err, errlen, "bad host", s);
		memcpy(u->host, p + 1, hl);
		if (hend[1] == ':')
			colon = hend + 1;
		else if (hend + 1 != pstart)
			return fail(err, errlen, "bad host", s);
	} else {
		colon = memchr(p, ':', (size_t)(pstart - p));
		hend = colon != NULL ? colon : pstart;
		hl = (size_t)(hend - p);
		if (hl == 0 || hl >= sizeof(u->host))
			return fail(err, errlen, "no host", s);
		memcpy(u->host, p, hl);
	}
	if (colon != NULL) {
		port = colon + 1;
		pl = (size_t)(pstart - port);
		if (pl == 0 || pl >= sizeof(u->port))
			return fail(err, errlen, "bad port", s);
		memcpy(u->port, port, pl);
		if (strspn(u->port, "0123456789") != pl ||
		    num_parse(u->port, 1, 65535, &v, &e) == -1)
			return fail(err, errlen, "bad port (1 to 65535)", s);
	} else
		strcpy(u->port, u->tls ? "443" : "80");
	snprintf(u->hostport, sizeof(u->hostport), "%.*s",
	    (int)(pstart - p), p);
	/* The fragment is the browser's business, never sent. */
	pl = strcspn(pstart, "#");
	if ((u->path = malloc(pl + 2)) == NULL)
		return fail(err, errlen, "out of memory", s);
	if (pl == 0 || *pstart != '/')
		snprintf(u->path, pl + 2, "/%.*s", (int)pl, pstart);
	else
		snprintf(u->path, pl + 2, "%.*s", (int)pl, pstart);
	for (e = u->path; *e != '\0'; e++)
		if ((unsigned char)*e <= ' ' || *e == 0x7f) {
			url_free(u);
			return fail(err, errlen, "spaces and control "
			    "characters must be %-encoded", s);
		}
	snprintf(u->text, sizeof(u->text), "%s://%s%s", u->tls ? "https" :
	    "http", u->hostport, u->path);
	return 0;
}

int
url_follow(const struct url *base, const char *loc, struct url *u,
    char *err, size_t errlen)
{
	char *abs;
	const char *slash;
	size_t n;
	int rc;

	if (strstr(loc, "://") != NULL)
		return url_parse(loc, u, err, errlen);
	n = strlen(base->hostport) + strlen(base->path) + strlen(loc) + 16;
	if ((abs = malloc(n)) == NULL)
		return fail(err, errlen, "out of memory", loc);
	/* The scheme of the URL it came from. */
	if (strncmp(loc, "//", 2) == 0)
		snprintf(abs, n, "%s:%s", base->tls ? "https" : "http", loc);
	else if (loc[0] == '/')
		snprintf(abs, n, "%s://%s%s", base->tls ? "https" : "http",
		    base->hostport, loc);
	else {
		/* Relative to the directory of the current path. */
		slash = strrchr(base->path, '/');
		snprintf(abs, n, "%s://%s%.*s/%s", base->tls ? "https" :
		    "http", base->hostport, (int)(slash - base->path),
		    base->path, loc);
	}
	rc = url_parse(abs, u, err, errlen);
	free(abs);
	return rc;
}

void
url_free(struct url *u)
{
	free(u->path);
	u->path = NULL;
}

int
url_addr(const struct url *u, struct addr *a, char *err, size_t errlen)
{
	char spec[300];

	snprintf(spec, sizeof(spec), strchr(u->host, ':') != NULL ?
	    "[%s]:%s" : "%s:%s", u->host, u->port);
	return addr_parse(spec, ADDR_TARGET, a, err, errlen);
}
