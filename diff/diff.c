/* diff.c - tcpmon-diff: does the new build answer as the old one did?
 * Pairs the HTTP exchanges of two captures (in order, connection by
 * connection, or by request with --by request), compares the answers'
 * status, headers and bodies (XML canonically, JSON as values, text line
 * by line), leaving out what changes from run to run, prints a unified
 * diff per differing exchange and a summary, and exits as diff(1) does:
 * 0 the same, 1 different, 2 trouble.  --junit writes JUnit XML. */
#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cmp.h"
#include "grow.h"
#include "util.h"
#include "xch.h"

struct opts {
	int		 by_request;
	int		 quiet;
	const char	*junit;
	const char	*regex[CMP_MAX];
	int		 nregex;
	struct cmp_opts	 c;
};

/* What one pair (or lone exchange) came to, for the summary and JUnit. */
struct result {
	char		*name;
	char		*failure;	/* NULL: the same */
	size_t		 flen, fcap;
};

static const struct option longopts[] = {
	{ "by",			required_argument, NULL, 'b' },
	{ "help",		no_argument,	   NULL, 'h' },
	{ "ignore-header",	required_argument, NULL, 'H' },
	{ "ignore-json",	required_argument, NULL, 'J' },
	{ "ignore-regex",	required_argument, NULL, 'R' },
	{ "ignore-xpath",	required_argument, NULL, 'X' },
	{ "junit",		required_argument, NULL, 'j' },
	{ "ns",			required_argument, NULL, 'N' },
	{ "quiet",		no_argument,	   NULL, 'q' },
	{ "version",		no_argument,	   NULL, 'V' },
	{ NULL,			0,		   NULL, 0 }
};

static void __attribute__((noreturn))
usage(int status)
{
	FILE *f = status == 0 ? stdout : stderr;

	fputs("usage: tcpmon-diff [-q] [--by order|request] "
	    "[--ignore-header NAME] [--ignore-xpath EXPR]\n"
	    "                   [--ns PREFIX=URI] [--ignore-json PATH] "
	    "[--ignore-regex RE] [--junit FILE]\n"
	    "                   A B\n", f);
	if (status == TM_EXIT_OK)
		fputs("\n"
		    "      --by order|request    pair exchanges in order "
		    "(default), or by method and target\n"
		    "      --ignore-header NAME  leave a header out (Date, "
		    "Server and framing always are)\n"
		    "      --ignore-xpath EXPR   leave the nodes EXPR selects "
		    "out of XML bodies\n"
		    "      --ns PREFIX=URI       bind a prefix for "
		    "--ignore-xpath\n"
		    "      --ignore-json PATH    leave a member out of JSON "
		    "bodies (a.b.0.c)\n"
		    "      --ignore-regex RE     leave what RE matches out of "
		    "text bodies\n"
		    "      --junit FILE          write JUnit XML, a test case "
		    "per exchange\n"
		    "  -q, --quiet               the summary only\n"
		    "  -h, --help                print this help and exit\n"
		    "      --version             print the version and exit\n"
		    "\nExit status: 0 the same, 1 different, 2 trouble.  "
		    "See tcpmon-diff(1).\n", f);
	exit(status);
}

static void
add_opt(const char **v, int *n, const char *arg, const char *name)
{
	if (*n >= CMP_MAX)
		errx(TM_EXIT_USAGE, "%s: at most %d", name, CMP_MAX);
	v[(*n)++] = arg;
}

static void
opts_parse(struct opts *o, int argc, char **argv)
{
	int ch;

	memset(o, 0, sizeof(*o));
	while ((ch = getopt_long(argc, argv, "hq", longopts, NULL)) != -1) {
		switch (ch) {
		case 'b':
			if (strcmp(optarg, "request") == 0)
				o->by_request = 1;
			else if (strcmp(optarg, "order") != 0)
				errx(TM_EXIT_USAGE, "--by %s: use order or "
				    "request", optarg);
			break;
		case 'h':
			usage(TM_EXIT_OK);
			break;
		case 'H':
			add_opt(o->c.header, &o->c.nheader, optarg,
			    "--ignore-header");
			break;
		case 'J': case 'X': case 'N':
			cmp_opt(&o->c, ch, optarg);
			break;
		case 'R':
			add_opt(o->regex, &o->nregex, optarg,
			    "--ignore-regex");
			break;

		case 'j':
			o->junit = optarg;
			break;
		case 'q':
			o->quiet = 1;
			break;
		case 'V':
			printf("tcpmon-diff %s\n", TCPMON_VERSION);
			exit(TM_EXIT_OK);
		default:
			usage(TM_EXIT_USAGE);
		}
	}
	if (argc - optind != 2) {
		warnx("two captures to compare, A and B");
		usage(TM_EXIT_USAGE);
	}
}

static void
say(struct result *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
say(struct result *r, const char *fmt, ...)
{
	char line[2048];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	grow_put((unsigned char **)&r->failure, &r->flen, &r->fcap, 512, line,
	    (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
	grow_put((unsigned char **)&r->failure, &r->flen, &r->fcap, 512, "\n",
	    1);
	r->failure[r->flen] = '\0';
	grow_reserve((unsigned char **)&r->failure, r->flen, &r->fcap, 512, 1);
	r->failure[r->flen] = '\0';
}

/* A value for a one-line message: cut, and nothing that is not printable. */
static const char *
shown(const char *v, char *buf, size_t n)
{
	size_t i, k = 0;

	for (i = 0; v[i] != '\0' && k + 4 < n; i++)
		buf[k++] = (unsigned char)v[i] >= 0x20 && v[i] != 0x7f ?
		    v[i] : '.';
	if (v[i] != '\0' && k + 4 >= n)
		memcpy(buf + k - 3, "...", 3);
	buf[k] = '\0';
	return buf;
}

static int
write_tmp(const char *s, size_t n, char *path, size_t pathlen)
{
	const char *dir;
	int fd;

	if ((dir = getenv("TMPDIR")) == NULL || *dir == '\0')
		dir = "/tmp";
	snprintf(path, pathlen, "%s/tcpmon-diff.XXXXXX", dir);
	if ((fd = mkstemp(path)) < 0)
		err(TM_EXIT_USAGE, "%s", path);
	if (write_all(fd, s, n) < 0 || (n > 0 && s[n - 1] != '\n' &&
	    write_all(fd, "\n", 1) < 0))
		err(TM_EXIT_USAGE, "%s", path);
	close(fd);
	return 0;
}

/* The unified diff of two bodies' shown forms, by diff(1), into r. */
static void
body_diff(struct result *r, const struct norm *a, const struct norm *b,
    const char *la, const char *lb)
{
	char pa[256], pb[256], buf[4096];
	int out[2], st;
	ssize_t n;
	pid_t pid;

	write_tmp(a->show, a->showlen, pa, sizeof(pa));
	write_tmp(b->show, b->showlen, pb, sizeof(pb));
	if (pipe(out) < 0 || (pid = fork()) < 0)
		err(TM_EXIT_USAGE, "diff");
	if (pid == 0) {
		dup2(out[1], 1);
		close(out[0]);
		close(out[1]);
		execlp("diff", "diff", "-u", "--label", la, "--label", lb, pa,
		    pb, (char *)NULL);
		fprintf(stderr, "tcpmon-diff: diff: %s\n", strerror(errno));
		_exit(2);
	}
	close(out[1]);
	while ((n = read(out[0], buf, sizeof(buf))) > 0)
		grow_put((unsigned char **)&r->failure, &r->flen, &r->fcap,
		    512, buf, (size_t)n);
	close(out[0]);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	grow_reserve((unsigned char **)&r->failure, r->flen, &r->fcap, 512, 1);
	r->failure[r->flen] = '\0';
	unlink(pa);
	unlink(pb);
}

/* Headers of the two answers, each name not left out: its values. */
static void
cmp_headers(const struct opts *o, struct result *r, const struct dmsg *a,
    const struct dmsg *b, int bodies_equal)
{
	const struct dmsg *m[2] = { a, b };
	char va[256], vb[256];
	const char *name, *x, *y;
	int s, i, k, seen;

	for (s = 0; s < 2; s++)
		for (i = 0; i < m[s]->nh; i++) {
			name = m[s]->h[i].name;
			if (cmp_ignored_header(&o->c, name) ||
			    (bodies_equal && strcasecmp(name,
			    "Content-Length") == 0))
				continue;
			/* Each name once: where it first appears. */
			for (seen = 0, k = 0; k < i && !seen; k++)
				seen = strcasecmp(m[s]->h[k].name, name) == 0;
			if (seen || (s == 1 && dmsg_header(a, name) != NULL))
				continue;
			x = dmsg_header(a, name);
			y = dmsg_header(b, name);
			if (x != NULL && y != NULL &&
			    strcasecmp(name, "Set-Cookie") == 0) {
				/* Values change; the cookie's name does not. */
				if (strcspn(x, "=") == strcspn(y, "=") &&
				    strncmp(x, y, strcspn(x, "=")) == 0)
					continue;
			} else if (x != NULL && y != NULL && strcmp(x, y) == 0)
				continue;
			if (x == NULL)
				say(r, "header %s: only in B: %s", name,
				    shown(y, vb, sizeof(vb)));
			else if (y == NULL)
				say(r, "header %s: only in A: %s", name,
				    shown(x, va, sizeof(va)));
			else
				say(r, "header %s: A %s, B %s", name,
				    shown(x, va, sizeof(va)),
				    shown(y, vb, sizeof(vb)));
		}
}

static void
compare(const struct opts *o, const char *na, const char *nb,
    const struct dxch *a, const struct dxch *b, struct result *r)
{
	struct norm x, y;
	char la[512], lb[512], ra[256], rb[256];
	int equal;

	if (strcmp(a->req.method, b->req.method) != 0 ||
	    strcmp(a->req.target, b->req.target) != 0)
		say(r, "request: A %s %s, B %s %s", a->req.method,
		    shown(a->req.target, ra, sizeof(ra)), b->req.method,
		    shown(b->req.target, rb, sizeof(rb)));
	if (!a->resp.have || !b->resp.have) {
		if (a->resp.have != b->resp.have)
			say(r, "answer: only in %s", a->resp.have ? "A" : "B");
		return;
	}
	if (a->resp.status != b->resp.status)
		say(r, "status: A %d, B %d", a->resp.status, b->resp.status);
	/* The same bytes are the same body: no parsing. */
	memset(&x, 0, sizeof(x));
	memset(&y, 0, sizeof(y));
	equal = a->resp.blen == b->resp.blen && (a->resp.blen == 0 ||
	    memcmp(a->resp.body, b->resp.body, a->resp.blen) == 0);
	if (!equal) {
		cmp_body(&o->c, a->resp.ctype, a->resp.body, a->resp.blen, &x,
		    0);
		cmp_body(&o->c, b->resp.ctype, b->resp.body, b->resp.blen, &y,
		    0);
		equal = x.cmplen == y.cmplen &&
		    memcmp(x.cmp, y.cmp, x.cmplen) == 0;
	}
	cmp_headers(o, r, &a->resp, &b->resp, equal);
	if (!equal) {
		/* Different: again, with the forms a diff shows. */
		norm_free(&x);
		norm_free(&y);
		cmp_body(&o->c, a->resp.ctype, a->resp.body, a->resp.blen, &x,
		    1);
		cmp_body(&o->c, b->resp.ctype, b->resp.body, b->resp.blen, &y,
		    1);
		say(r, "body (%s%s%s) differs:", x.kind,
		    strcmp(x.kind, y.kind) != 0 ? " in A, " : "",
		    strcmp(x.kind, y.kind) != 0 ? y.kind : "");
		snprintf(la, sizeof(la), "A %s #%llu.%d", na,
		    (unsigned long long)a->conn, a->seq + 1);
		snprintf(lb, sizeof(lb), "B %s #%llu.%d", nb,
		    (unsigned long long)b->conn, b->seq + 1);
		body_diff(r, &x, &y, la, lb);
	}
	norm_free(&x);
	norm_free(&y);
}

/* B's exchange for A's i-th: in order, or the first unused one with the
 * same method and target. */
static struct dxch *
partner(const struct opts *o, struct capture *b, size_t i,
    const struct dxch *ax)
{
	size_t k;

	if (!o->by_request)
		return i < b->n ? b->x[i] : NULL;
	for (k = 0; k < b->n; k++)
		if (!b->x[k]->used && strcmp(b->x[k]->req.method,
		    ax->req.method) == 0 && strcmp(b->x[k]->req.target,
		    ax->req.target) == 0)
			return b->x[k];
	return NULL;
}

static void
xml_escaped(FILE *f, const char *s)
{
	for (; *s != '\0'; s++)
		switch (*s) {
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '&': fputs("&amp;", f); break;
		case '"': fputs("&quot;", f); break;
		default:
			/* XML 1.0 allows no other control character. */
			if ((unsigned char)*s < 0x20 && *s != '\n' &&
			    *s != '\t' && *s != '\r')
				fputc('?', f);
			else
				fputc(*s, f);
		}
}

static int
junit(const char *path, const char *na, const char *nb, struct result *res,
    size_t n, size_t failures)
{
	char first[512];
	FILE *f;
	size_t i;

	if ((f = fopen(path, "w")) == NULL)
		return -1;
	fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<testsuites>\n<testsuite name=\"tcpmon-diff\" tests=\"%zu\" "
	    "failures=\"%zu\" errors=\"0\" skipped=\"0\">\n", n, failures);
	for (i = 0; i < n; i++) {
		fputs("  <testcase classname=\"", f);
		xml_escaped(f, na);
		fputs(" vs ", f);
		xml_escaped(f, nb);
		fputs("\" name=\"", f);
		xml_escaped(f, res[i].name);
		fputs("\"", f);
		if (res[i].failure == NULL) {
			fputs("/>\n", f);
			continue;
		}
		fputs(">\n    <failure message=\"", f);
		snprintf(first, sizeof(first), "%.*s",
		    (int)strcspn(res[i].failure, "\n"), res[i].failure);
		xml_escaped(f, first);
		fputs("\">", f);
		xml_escaped(f, res[i].failure);
		fputs("</failure>\n  </testcase>\n", f);
	}
	fputs("</testsuite>\n</testsuites>\n", f);
	return fclose(f) == EOF ? -1 : 0;
}

static struct result *
next_result(struct result **res, size_t *n)
{
	static size_t cap;

	*res = grow_items(*res, &cap, *n + 1, sizeof(**res), 64);
	memset(&(*res)[*n], 0, sizeof(**res));
	return &(*res)[(*n)++];
}

static void
name_result(struct result *r, size_t k, const struct dxch *x)
{
	char what[600];

	snprintf(what, sizeof(what), "exchange %zu: %s %.500s", k,
	    x->req.method, x->req.target);
	if ((r->name = strdup(what)) == NULL)
		err(TM_EXIT_FAIL, "strdup");
}

/* In order: both captures read together, an exchange of each at a time,
 * so that memory holds what is open in them, not the captures. */
static void
in_order(const struct opts *o, const char *na, const char *nb,
    struct result **res, size_t *n, size_t *only_a, size_t *only_b)
{
	struct creader *ra, *rb;
	struct dxch *ax, *bx;
	struct result *r;
	char msg[1024];

	if ((ra = cr_open(na, msg, sizeof(msg))) == NULL ||
	    (rb = cr_open(nb, msg, sizeof(msg))) == NULL)
		errx(TM_EXIT_USAGE, "%s", msg);
	for (;;) {
		ax = cr_next(ra);
		bx = cr_next(rb);
		if (cr_error(ra) != NULL)
			errx(TM_EXIT_USAGE, "%s", cr_error(ra));
		if (cr_error(rb) != NULL)
			errx(TM_EXIT_USAGE, "%s", cr_error(rb));
		if (ax == NULL && bx == NULL)
			break;
		r = next_result(res, n);
		name_result(r, *n, ax != NULL ? ax : bx);
		if (bx == NULL) {
			say(r, "only in A (#%llu.%d)",
			    (unsigned long long)ax->conn, ax->seq + 1);
			(*only_a)++;
		} else if (ax == NULL) {
			say(r, "only in B (#%llu.%d)",
			    (unsigned long long)bx->conn, bx->seq + 1);
			(*only_b)++;
		} else
			compare(o, na, nb, ax, bx, r);
		dxch_free(ax);
		dxch_free(bx);
	}
	cr_close(ra);
	cr_close(rb);
}

/* By request: each exchange of A with B's first unused one of the same
 * method and target; the rest of B after. */
static void
by_request(const struct opts *o, struct capture *a, struct capture *b,
    struct result **res, size_t *n, size_t *only_a, size_t *only_b)
{
	struct dxch *ax, *bx;
	struct result *r;
	size_t i;

	for (i = 0; i < a->n; i++) {
		ax = a->x[i];
		bx = partner(o, b, i, ax);
		r = next_result(res, n);
		name_result(r, *n, ax);
		if (bx == NULL) {
			say(r, "only in A (#%llu.%d)",
			    (unsigned long long)ax->conn, ax->seq + 1);
			(*only_a)++;
		} else {
			bx->used = 1;
			compare(o, a->name, b->name, ax, bx, r);
		}
	}
	for (i = 0; i < b->n; i++) {
		bx = b->x[i];
		if (bx->used)
			continue;
		r = next_result(res, n);
		name_result(r, *n, bx);
		say(r, "only in B (#%llu.%d)",
		    (unsigned long long)bx->conn, bx->seq + 1);
		(*only_b)++;
	}
}

int
main(int argc, char **argv)
{
	struct capture a, b;
	struct result *res = NULL;
	struct opts o;
	char msg[1024];
	size_t i, n = 0, failures = 0, only_a = 0, only_b = 0;

	tm_setprogname(argv, "tcpmon-diff");
	if (argc == 2 && strcmp(argv[1], TM_LIST_OPTIONS) == 0)
		return tm_list_options(STDOUT_FILENO, longopts);
	opts_parse(&o, argc, argv);
	if (cmp_setup(&o.c, o.regex, o.nregex, msg, sizeof(msg)) < 0)
		errx(TM_EXIT_USAGE, "%s", msg);
	if (o.by_request) {
		if (cap_read(&a, argv[optind], msg, sizeof(msg)) < 0)
			errx(TM_EXIT_USAGE, "%s", msg);
		if (cap_read(&b, argv[optind + 1], msg, sizeof(msg)) < 0)
			errx(TM_EXIT_USAGE, "%s", msg);
		by_request(&o, &a, &b, &res, &n, &only_a, &only_b);
		cap_free(&a);
		cap_free(&b);
	} else
		in_order(&o, argv[optind], argv[optind + 1], &res, &n, &only_a,
		    &only_b);
	for (i = 0; i < n; i++) {
		if (res[i].failure == NULL)
			continue;
		failures++;
		if (!o.quiet)
			printf("--- %s\n%s", res[i].name, res[i].failure);
	}
	printf("%zu exchange%s compared: %zu differ%s, %zu only in A, %zu "
	    "only in B\n", n, n == 1 ? "" : "s", failures, failures == 1 ?
	    "s" : "", only_a, only_b);
	if (fflush(stdout) == EOF)
		err(TM_EXIT_USAGE, "write stdout");
	if (o.junit != NULL && junit(o.junit, argv[optind], argv[optind + 1], res, n,
	    failures) < 0)
		err(TM_EXIT_USAGE, "%s", o.junit);
	for (i = 0; i < n; i++) {
		free(res[i].name);
		free(res[i].failure);
	}
	free(res);
	cmp_free(&o.c);
	return failures > 0 ? 1 : 0;
}
