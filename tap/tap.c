/* tap.c - tcpmon-tap: reads records from files, stdin or a running relay
 * and shows them to a person: as conversations (the default), a table of
 * one row per HTTP exchange or per connection (--list), JSON Lines
 * (--json), or the exact bytes of one direction of one connection
 * (--raw). */
#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "input.h"
#include "har.h"
#include "list.h"
#include "record.h"
#include "safe.h"
#include "select.h"
#include "show.h"
#include "util.h"

enum view { V_CONV, V_LIST, V_JSON, V_RAW, V_HAR, V_ECS };

struct opts {
	enum view	 view;
	int		 side;
	int		 color;		/* -1 auto */
	int		 http;
	int		 pretty;
	int		 per_conn;	/* --list=conn */
	int		 width;
	int		 dir;		/* --dir: REC_C2S, REC_S2C */
	const char	*attach;
	const char	*at;		/* --at: the copies shown, or NULL */
	struct sel_opts	 sel;
};

struct tap {
	struct opts	*o;
	struct sel	 sel;
	struct show	 show;
	struct list	 list;
	struct har	 har;
	/* --raw: the connection is (src, conn); a merged stream may have
	 * the same number under another source, which is not ours. */
	char		*raw_src;
	int		 raw_xform_warned;
	int		 raw_src_warned;
};

static void __attribute__((noreturn))
usage(int status)
{
	fprintf(status ? stderr : stdout,
	    "usage: tcpmon-tap [--list[=conn] | --json[=exchange] | --har |\n"
	    "                   --raw --conn N --dir request|response]\n"
	    "                  [--layout stacked|side] [--color "
	    "auto|always|never] [--width N]\n"
	    "                  [--pretty] [--no-http] [--conn [SRC#]N[,M...]]\n"
	    "                  [--since TIME] [--until TIME]\n"
	    "                  [-e PATTERN] [--header NAME[=PATTERN]] [-iv] "
	    "[--max-hold SIZE]\n"
	    "                  [--max-conns N] [--at sent|delivered|all]\n"
	    "                  [--attach PATH | FILE ...]\n");
	if (status == TM_EXIT_OK)
		printf(
		    "\n"
		    "      --list, --list=conn   a table: a row per HTTP exchange, or per connection\n"
		    "      --json                JSON Lines: one object per record\n"
		    "      --json=exchange       JSON Lines: one object per HTTP exchange (ECS names)\n"
		    "      --har                 one HAR 1.2 document of every HTTP exchange\n"
		    "      --raw                 the exact payload of --conn N in direction --dir\n"
		    "      --dir request|response  the direction of --raw\n"
		    "      --layout stacked|side requests above responses, or side by side\n"
		    "      --width N             the width of --layout side and --list (default: the terminal)\n"
		    "      --color auto|always|never  colors (auto: on a terminal)\n"
		    "      --no-http             every record as it is, HTTP not taken apart\n"
		    "      --pretty              XML and JSON bodies indented\n"
		    "      --at sent|delivered|all  which copy of a staged relay's records to show\n"
		    "      --attach PATH         show a running relay's records live (its --tap)\n"
		    SEL_HELP
		    "  -h, --help                print this help and exit\n"
		    "      --version             print the version and exit\n"
		    "\n"
		    "See tcpmon-tap(1).\n");
	exit(status);
}

enum { OPT_AT = 255, OPT_ATTACH = 256, OPT_COLOR, OPT_DIR, OPT_HAR, OPT_JSON,
    OPT_LAYOUT,
    OPT_LIST, OPT_NO_HTTP, OPT_PRETTY, OPT_RAW, OPT_VERSION, OPT_WIDTH };

static const struct option longopts[] = {
	{ "at",		required_argument, NULL, OPT_AT },
	{ "attach",	required_argument, NULL, OPT_ATTACH },
	{ "color",	required_argument, NULL, OPT_COLOR },
	{ "dir",	required_argument, NULL, OPT_DIR },
	{ "help",	no_argument,	   NULL, 'h' },
	{ "har",	no_argument,	   NULL, OPT_HAR },
	{ "json",	optional_argument, NULL, OPT_JSON },
	{ "layout",	required_argument, NULL, OPT_LAYOUT },
	{ "list",	optional_argument, NULL, OPT_LIST },
	{ "no-http",	no_argument,	   NULL, OPT_NO_HTTP },
	{ "pretty",	no_argument,	   NULL, OPT_PRETTY },
	{ "raw",	no_argument,	   NULL, OPT_RAW },
	{ "version",	no_argument,	   NULL, OPT_VERSION },
	{ "width",	required_argument, NULL, OPT_WIDTH },
	SEL_LONGOPTS,
	{ NULL,		0,		   NULL, 0 }
};

static void
set_view(struct opts *o, enum view v, const char *name)
{
	if (o->view != V_CONV && o->view != v)
		errx(TM_EXIT_USAGE, "%s: only one of --list, --json, --har "
		    "and --raw", name);
	o->view = v;
}

/* The width of the output: $COLUMNS when it is set (as ls(1) takes
 * it), that of the terminal, or 80 when it is not one. */
static int
term_width(void)
{
	struct winsize ws;
	const char *c;
	uint64_t v;
	const char *e;

	if ((c = getenv("COLUMNS")) != NULL && num_parse(c, 40, 10000, &v,
	    &e) == 0)
		return (int)v;
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 40)
		return ws.ws_col;
	return 80;
}

static void
parse_opts(int argc, char **argv, struct opts *o)
{
	const char *e, *nc;
	int ch;

	memset(o, 0, sizeof(*o));
	o->color = -1;
	o->http = 1;
	o->at = "delivered";
	sel_opts_init(&o->sel);
	if (argc == 2 && strcmp(argv[1], TM_LIST_OPTIONS) == 0)
		exit(tm_list_options(STDOUT_FILENO, longopts));
	while ((ch = getopt_long(argc, argv, "h" SEL_SHORTOPTS, longopts,
	    NULL)) != -1) {
		if (sel_opt(&o->sel, ch, optarg))
			continue;
		switch (ch) {
		case OPT_AT:
			if (strcmp(optarg, "all") == 0)
				o->at = NULL;
			else if (strcmp(optarg, "sent") == 0 ||
			    strcmp(optarg, "delivered") == 0)
				o->at = optarg;
			else
				errx(TM_EXIT_USAGE, "--at %s: sent, delivered "
				    "or all", optarg);
			break;
		case OPT_ATTACH:
			o->attach = optarg;
			break;
		case OPT_COLOR:
			if (strcmp(optarg, "auto") == 0)
				o->color = -1;
			else if (strcmp(optarg, "always") == 0)
				o->color = 1;
			else if (strcmp(optarg, "never") == 0)
				o->color = 0;
			else
				errx(TM_EXIT_USAGE, "--color %s: use auto, "
				    "always or never", optarg);
			break;
		case OPT_DIR:
			if (strcmp(optarg, "request") == 0 ||
			    strcmp(optarg, "c2s") == 0)
				o->dir = REC_C2S;
			else if (strcmp(optarg, "response") == 0 ||
			    strcmp(optarg, "s2c") == 0)
				o->dir = REC_S2C;
			else
				errx(TM_EXIT_USAGE, "--dir %s: use request "
				    "or response", optarg);
			break;
		case OPT_JSON:
			if (optarg == NULL || strcmp(optarg, "record") == 0)
				set_view(o, V_JSON, "--json");
			else if (strcmp(optarg, "exchange") == 0)
				set_view(o, V_ECS, "--json=exchange");
			else
				errx(TM_EXIT_USAGE, "--json=%s: use --json or "
				    "--json=exchange", optarg);
			break;
		case OPT_HAR:
			set_view(o, V_HAR, "--har");
			break;
		case OPT_LAYOUT:
			if (strcmp(optarg, "stacked") == 0)
				o->side = 0;
			else if (strcmp(optarg, "side") == 0)
				o->side = 1;
			else
				errx(TM_EXIT_USAGE, "--layout %s: use stacked "
				    "or side", optarg);
			break;
		case OPT_LIST:
			set_view(o, V_LIST, "--list");
			if (optarg != NULL && strcmp(optarg, "conn") == 0)
				o->per_conn = 1;
			else if (optarg != NULL &&
			    strcmp(optarg, "exchange") != 0)
				errx(TM_EXIT_USAGE, "--list=%s: use --list or "
				    "--list=conn", optarg);
			break;
		case OPT_NO_HTTP:
			o->http = 0;
			break;
		case OPT_PRETTY:
			o->pretty = 1;
			break;
		case OPT_RAW:
			set_view(o, V_RAW, "--raw");
			break;
		case OPT_WIDTH:
			o->width = (int)opt_num("--width", optarg, 40, 10000,
			    NULL);
			break;
		case OPT_VERSION:
			printf("tcpmon-tap %s\n", TCPMON_VERSION);
			exit(TM_EXIT_OK);
		case 'h':
			usage(TM_EXIT_OK);
		default:
			usage(TM_EXIT_USAGE);
		}
	}
	if (o->attach != NULL && optind != argc)
		errx(TM_EXIT_USAGE, "%s: --attach reads no files",
		    argv[optind]);
	if (o->view == V_RAW) {
		if (o->sel.nconn != 1)
			errx(TM_EXIT_USAGE, "--raw needs one connection: "
			    "--conn N");
		if (o->dir == 0)
			errx(TM_EXIT_USAGE, "--raw needs --dir request or "
			    "--dir response");
		if (o->sel.invert)
			errx(TM_EXIT_USAGE, "--raw and -v do not go together");
	} else if (o->dir != 0)
		errx(TM_EXIT_USAGE, "--dir goes with --raw");
	if (o->color == -1) {
		nc = getenv("NO_COLOR");
		e = getenv("TERM");
		o->color = isatty(STDOUT_FILENO) && (nc == NULL ||
		    nc[0] == '\0') && (e == NULL || strcmp(e, "dumb") != 0);
	}
	if (o->width == 0)
		o->width = term_width();
}

/* What the selector lets through, to the view. */
static void
view(void *arg, const struct rec *r, const unsigned char *raw, size_t rawlen)
{
	struct tap *t = arg;
	char xf[SAFE_ROOM(64)];

	(void)raw;
	(void)rawlen;
	switch (t->o->view) {
	case V_CONV:
		show_record(&t->show, r);
		break;
	case V_LIST:
		list_record(&t->list, r);
		break;
	case V_JSON:
		json_record(stdout, r);
		break;
	case V_HAR:
	case V_ECS:
		har_record(&t->har, r);
		break;
	case V_RAW:
		if (r->type != REC_DATA || r->dir != (enum rec_dir)t->o->dir ||
		    r->conn != t->o->sel.conn[0])
			break;
		if (t->raw_src == NULL && (t->raw_src = strdup(r->src != NULL ?
		    r->src : "")) == NULL)
			err(TM_EXIT_FAIL, "strdup");
		if (strcmp(t->raw_src, r->src != NULL ? r->src : "") != 0) {
			if (!t->raw_src_warned++)
				warnx("connection %llu is in the stream from "
				    "more than one source: the first one's "
				    "is written; --conn SRC#%llu picks one",
				    (unsigned long long)r->conn,
				    (unsigned long long)r->conn);
			break;
		}
		if (rec_get(r, "xform") != NULL && !t->raw_xform_warned) {
			warnx("connection %llu: records with xform=%s carry "
			    "reformatted bytes, not what went over the wire",
			    (unsigned long long)r->conn, safe_str(rec_get(r,
			    "xform"), xf, sizeof(xf)));
			t->raw_xform_warned = 1;
		}
		fwrite(r->data, 1, r->len, stdout);
		break;
	}
}

static void
feed(void *arg, const struct rec *r, const unsigned char *raw, size_t rawlen)
{
	struct tap *t = arg;
	const char *at;

	/* A relay with stages records each event twice (tcpmon-relay(1),
	 * STAGES); one copy is shown, as delivered unless --at says, but
	 * the open as accepted: a stage's copy of it is an echo. */
	if (t->o->at != NULL && (at = rec_get(r, "at")) != NULL &&
	    (strcmp(t->o->at, "sent") == 0 ? strcmp(at, "sent") != 0 :
	    (strcmp(at, "sent") == 0) != (r->type == REC_OPEN)))
		return;
	sel_feed(&t->sel, r, raw, rawlen);
}

/* Output that cannot be written is the job failing: the first failed
 * write ends the tool, rather than a read of the rest for nothing.  A
 * reader that went away (`| head`, with SIGPIPE ignored) is not one. */
static void
check_stdout(void)
{
	if ((fflush(stdout) == EOF || ferror(stdout)) && errno != EPIPE)
		err(TM_EXIT_FAIL, "write stdout");
}

/* Output reaches a person watching a live stream before we wait for more. */
static void
flush_stdout(void *arg)
{
	(void)arg;
	check_stdout();
}

int
main(int argc, char **argv)
{
	static char obuf[256 * 1024];
	struct opts o;
	struct tap t;
	struct input in;
	struct show_opts so;
	struct list_opts lo;
	int i;

	tm_setprogname(argv, "tcpmon-tap");
	parse_opts(argc, argv, &o);
	memset(&t, 0, sizeof(t));
	t.o = &o;
	/* Patterns are compiled, and refused, before any input is read. */
	sel_init(&t.sel, &o.sel, view, &t);
	if (!isatty(STDOUT_FILENO))
		setvbuf(stdout, obuf, _IOFBF, sizeof(obuf));
	so.color = o.color;
	so.side = o.side;
	so.width = o.width;
	so.http = o.http;
	so.pretty = o.pretty;
	so.max_conns = (size_t)o.sel.max_conns;
	lo.color = o.color;
	lo.per_conn = o.per_conn;
	lo.width = o.width;
	lo.max_conns = (size_t)o.sel.max_conns;
	if (o.view == V_CONV)
		show_init(&t.show, stdout, &so);
	else if (o.view == V_LIST)
		list_init(&t.list, stdout, &lo);
	else if (o.view == V_HAR || o.view == V_ECS)
		har_init(&t.har, stdout, o.view == V_HAR ? HAR_DOC : HAR_ECS,
		    (size_t)o.sel.max_conns);

	in_init(&in, feed, &t, flush_stdout);
	if (o.attach != NULL)
		in_attach(&in, o.attach);
	else if (optind == argc)
		in_file(&in, "-");
	for (i = optind; i < argc; i++)
		in_file(&in, argv[i]);

	/* What was read before a bad record stays shown: the connections
	 * still undecided or open are finished on what was seen. */
	sel_free(&t.sel);
	if (o.view == V_CONV)
		show_end(&t.show);
	else if (o.view == V_LIST)
		list_end(&t.list);
	else if (o.view == V_HAR || o.view == V_ECS)
		har_end(&t.har);
	free(t.raw_src);
	in_free(&in);
	check_stdout();
	/* As grep(1): selectors that chose nothing are a failure, so that
	 * `--conn 99` of a capture without it is not silence and 0. */
	if (in.status == TM_EXIT_OK && sel_any(&o.sel) &&
	    t.sel.selected == 0) {
		warnx("no connection selected");
		return TM_EXIT_FAIL;
	}
	return in.status;
}
