/* mime.c - Content-Type parameters and the root part of multipart/related
 * bodies, for formatting the XML of an MTOM message in place. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "mime.h"

int
mime_param(const char *ct, const char *name, char *buf, size_t n)
{
	size_t nl = strlen(name), k;
	const char *p;

	if (ct == NULL)
		return -1;
	for (p = strchr(ct, ';'); p != NULL; p = strchr(p, ';')) {
		p++;
		while (*p == ' ' || *p == '\t')
			p++;
		if (strncasecmp(p, name, nl) != 0 || p[nl] != '=')
			continue;
		p += nl + 1;
		if (*p == '"') {
			for (k = 0, p++; *p != '\0' && *p != '"'; p++) {
				if (*p == '\\' && p[1] != '\0')
					p++;
				if (k + 1 >= n)
					return -1;
				buf[k++] = *p;
			}
		} else {
			k = strcspn(p, "; \t");
			if (k + 1 > n)
				return -1;
			memcpy(buf, p, k);
		}
		buf[k] = '\0';
		return 0;
	}
	return -1;
}

/* The next occurrence of s[0..sn) in p[from..n), or n. */
static size_t
find(const unsigned char *p, size_t n, size_t from, const char *s, size_t sn)
{
	const unsigned char *q;

	if (from >= n)
		return n;
	q = memmem(p + from, n - from, s, sn);
	return q == NULL ? n : (size_t)(q - p);
}

/* Copies a header value of the part head [b, e) into buf. */
static void
part_header(const unsigned char *p, size_t b, size_t e, const char *name,
    char *buf, size_t bn)
{
	size_t nl = strlen(name), le, k;

	buf[0] = '\0';
	while (b < e) {
		for (le = b; le < e && p[le] != '\n'; le++)
			;
		if (le - b > nl && strncasecmp((const char *)p + b, name,
		    nl) == 0 && p[b + nl] == ':') {
			b += nl + 1;
			while (b < le && (p[b] == ' ' || p[b] == '\t'))
				b++;
			k = le - b;
			while (k > 0 && (p[b + k - 1] == '\r' ||
			    p[b + k - 1] == ' '))
				k--;
			if (k >= bn)
				k = bn - 1;
			memcpy(buf, p + b, k);
			buf[k] = '\0';
			return;
		}
		b = le + 1;
	}
}

int
mime_root(const unsigned char *p, size_t n, const char *ct,
    struct mime_part *root)
{
	char bnd[80], delim[84], start[256], id[256];
	size_t dl, at, hs, he, cs, ce;
	int first = 1;

	if (mime_param(ct, "boundary", bnd, sizeof(bnd)) == -1 ||
	    bnd[0] == '\0')
		return -1;
	if (mime_param(ct, "start", start, sizeof(start)) == -1)
		start[0] = '\0';
	/* "\r\n--boundary"; the first may be at the very start. */
	dl = (size_t)snprintf(delim, sizeof(delim), "\n--%s", bnd);
	if (n >= dl - 1 && memcmp(p, delim + 1, dl - 1) == 0)
		at = 0;
	else if ((at = find(p, n, 0, delim, dl)) == n)
		return -1;
	else
		at++;
	for (;;) {
		at += dl - 1;
		if (at + 2 <= n && p[at] == '-' && p[at + 1] == '-')
			return -1;	/* the closing delimiter */
		if ((hs = find(p, n, at, "\n", 1)) == n)
			return -1;
		hs++;
		if ((he = find(p, n, hs, "\r\n\r\n", 4)) < n)
			cs = he + 4;
		else if ((he = find(p, n, hs, "\n\n", 2)) < n)
			cs = he + 2;
		else
			return -1;
		if ((ce = find(p, n, cs, delim, dl)) == n)
			return -1;
		at = ce + 1;
		if (ce > cs && p[ce - 1] == '\r')
			ce--;
		part_header(p, hs, he, "Content-ID", id, sizeof(id));
		if ((start[0] == '\0' && first) || (start[0] != '\0' &&
		    strcmp(id, start) == 0)) {
			root->start = cs;
			root->end = ce;
			part_header(p, hs, he, "Content-Type", root->ctype,
			    sizeof(root->ctype));
			part_header(p, hs, he, "Content-Transfer-Encoding",
			    root->cte, sizeof(root->cte));
			return 0;
		}
		first = 0;
	}
}
