/* send.c - tcpmon-send: posts a request (SOAP or plain HTTP), sends a raw
 * request file, or re-sends what a recorded client sent, and reports the
 * outcome in its exit status.  Options here; the work in the other files. */
#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "send.h"
#include "util.h"

#define MAX_DUR_MS	86400000	/* a day */

static void __attribute__((noreturn))
usage(int status)
{
	fprintf(status ? stderr : stdout,
"usage: tcpmon-send [-kLv] [-c CONCURRENCY] [-H 'NAME: VALUE'] [-n COUNT]\n"
"                   [-o FILE] [-X METHOD] [--connect-timeout DUR] [--no-check]\n"
"                   [--no-fail] [--pretty] [--soap-action ACTION] [--soap12]\n"
"                   [--text | --records] [--timeout DUR] [--cacert FILE]\n"
"                   [--cert FILE [--key FILE]] [--assert-status CODE]\n"
"                   [--assert-xpath EXPR] [--ns PREFIX=URI] [--assert-json PATH=VALUE]\n"
"                   [--assert-time DUR] [--assert-no-fault] URL [FILE | -]\n"
"       tcpmon-send --raw [-v] [--fix-length | --as-is] [...] [tls:]HOST:PORT\n"
"                   FILE | -\n"
"       tcpmon-send --replay CAPTURE [--conn N [--exchange K] | -c N] [-v]\n"
"                   [--pace] [--src TAG] [-t [tls:]HOST:PORT] [...]\n");
	if (status == TM_EXIT_OK)
		printf(
		    "\n"
		    "  -c, --concurrency N       with -n, or --replay: N connections at once\n"
		    "  -n, --count N             send the request N times\n"
		    "  -H, --header 'NAME: VALUE'  add or replace a header\n"
		    "  -X, --method METHOD       use this method\n"
		    "  -L, --location            follow redirects\n"
		    "  -o, --output FILE         write the body of the answer alone to FILE\n"
		    "  -v, --verbose             timings and the exchange on stderr\n"
		    "      --soap-action ACTION  send SOAP 1.1 with this SOAPAction\n"
		    "      --soap12              send SOAP 1.2\n"
		    "      --no-check            send XML bodies without checking them\n"
		    "      --no-fail             exit 0 for any complete answer, faults too\n"
		    "      --assert-status CODE  pass only when the answer's status is CODE\n"
		    "      --assert-xpath EXPR   pass only when EXPR is true of the answer (XPath)\n"
		    "      --ns PREFIX=URI       bind a prefix for --assert-xpath\n"
		    "      --assert-json PATH=VALUE  pass only when the answer's member is VALUE\n"
		    "      --assert-time DUR     pass only when the answer came within DUR\n"
		    "      --assert-no-fault     pass only when the answer is no SOAP Fault\n"
		    "      --pretty              show XML and JSON bodies formatted (--raw too)\n"
		    "      --text                write text even into a pipe\n"
		    "      --records             write records even to a terminal\n"
		    "      --connect-timeout DUR give up connecting after DUR\n"
		    "      --timeout DUR         give up on an exchange after DUR\n"
		    "      --raw                 send a request file as it is, to HOST:PORT\n"
		    "      --fix-length          with --raw: set Content-Length to the body's,\n"
		    "                            end the head's lines in CRLF\n"
		    "      --as-is               with --raw: send it even if its framing is wrong\n"
		    "      --replay CAPTURE      send again what a recorded client sent\n"
		    "      --conn N              with --replay: the connection to send (default: all)\n"
		    "      --exchange K          with --replay: only its K-th request (from 1)\n"
		    "      --pace                with --replay: keep the recorded pauses\n"
		    "      --src TAG             with --replay: the relay of a merged capture\n"
		    "  -t, --target HOST:PORT    with --replay: send there, not to the recorded one\n"
		    "                            (tls:HOST:PORT: over TLS)\n"
		    "      --cacert FILE         https: trust these CAs too\n"
		    "  -k, --insecure            https: do not verify the server\n"
		    "      --cert FILE           https: a client certificate (PEM)\n"
		    "      --key FILE            https: its key (default: in --cert's file)\n"
		    "  -h, --help                print this help and exit\n"
		    "      --version             print the version and exit\n"
		    "\n"
		    "See tcpmon-send(1).\n");
	exit(status);
}

enum { OPT_AS_IS = 256, OPT_CONN, OPT_CONNECT_TIMEOUT, OPT_EXCHANGE,
    OPT_FIX_LENGTH, OPT_NO_CHECK, OPT_NO_FAIL, OPT_PACE, OPT_PRETTY, OPT_RAW, OPT_RECORDS, OPT_REPLAY,
    OPT_SOAP_ACTION, OPT_SOAP12, OPT_SRC, OPT_TEXT, OPT_TIMEOUT,
    OPT_VERSION, OPT_CACERT, OPT_CERT, OPT_KEY };

static const struct option longopts[] = {
	{ "as-is",		no_argument,	   NULL, OPT_AS_IS },
	{ "assert-json",	required_argument, NULL, ASSERT_JSON },
	{ "assert-no-fault",	no_argument,	   NULL, ASSERT_NO_FAULT },
	{ "assert-status",	required_argument, NULL, ASSERT_STATUS },
	{ "assert-time",	required_argument, NULL, ASSERT_TIME },
	{ "assert-xpath",	required_argument, NULL, ASSERT_XPATH },
	{ "cacert",		required_argument, NULL, OPT_CACERT },
	{ "cert",		required_argument, NULL, OPT_CERT },
	{ "concurrency",	required_argument, NULL, 'c' },
	{ "conn",		required_argument, NULL, OPT_CONN },
	{ "connect-timeout",	required_argument, NULL, OPT_CONNECT_TIMEOUT },
	{ "count",		required_argument, NULL, 'n' },
	{ "exchange",		required_argument, NULL, OPT_EXCHANGE },
	{ "fix-length",		no_argument,	   NULL, OPT_FIX_LENGTH },
	{ "header",		required_argument, NULL, 'H' },
	{ "help",		no_argument,	   NULL, 'h' },
	{ "insecure",		no_argument,	   NULL, 'k' },
	{ "key",		required_argument, NULL, OPT_KEY },
	{ "location",		no_argument,	   NULL, 'L' },
	{ "method",		required_argument, NULL, 'X' },
	{ "no-check",		no_argument,	   NULL, OPT_NO_CHECK },
	{ "no-fail",		no_argument,	   NULL, OPT_NO_FAIL },
	{ "ns",			required_argument, NULL, ASSERT_NS },
	{ "output",		required_argument, NULL, 'o' },
	{ "pace",		no_argument,	   NULL, OPT_PACE },
	{ "pretty",		no_argument,	   NULL, OPT_PRETTY },
	{ "raw",		no_argument,	   NULL, OPT_RAW },
	{ "records",		no_argument,	   NULL, OPT_RECORDS },
	{ "replay",		required_argument, NULL, OPT_REPLAY },
	{ "soap-action",	required_argument, NULL, OPT_SOAP_ACTION },
	{ "soap12",		no_argument,	   NULL, OPT_SOAP12 },
	{ "src",		required_argument, NULL, OPT_SRC },
	{ "target",		required_argument, NULL, 't' },
	{ "text",		no_argument,	   NULL, OPT_TEXT },
	{ "timeout",		required_argument, NULL, OPT_TIMEOUT },
	{ "verbose",		no_argument,	   NULL, 'v' },
	{ "version",		no_argument,	   NULL, OPT_VERSION },
	{ NULL,			0,		   NULL, 0 }
};

static void
check_header(const char *h)
{
	const char *c = strchr(h, ':');

	if (c == NULL || !http_token(h, (size_t)(c - h)) || c - h >= 128)
		errx(TM_EXIT_USAGE, "-H %s: expected 'NAME: VALUE'", h);
	if (strpbrk(h, "\r\n") != NULL)
		errx(TM_EXIT_USAGE, "-H %s: a header is one line", h);
}

static void
dur(const char *opt, const char *arg, uint64_t *ms)
{
	*ms = opt_dur(opt, arg, MAX_DUR_MS);
}

/* The range is said in numbers: send's limits have no k or m to say. */
static void
num(const char *opt, const char *arg, uint64_t min, uint64_t max,
    uint64_t *v)
{
	char range[64];

	snprintf(range, sizeof(range), "%llu to %llu",
	    (unsigned long long)min, (unsigned long long)max);
	*v = opt_num(opt, arg, min, max, range);
}

/* An option that only one way of sending takes. */
static void
only(int given, int mode, const char *opt, const char *with)
{
	if (given && !mode)
		errx(TM_EXIT_USAGE, "%s needs %s", opt, with);
}

static void
never(int given, int mode, const char *opt, const char *with)
{
	if (given && mode)
		errx(TM_EXIT_USAGE, "%s cannot be used with %s", opt, with);
}

static void
parse_opts(int argc, char **argv, struct opts *o)
{
	char amsg[600];
	int ch, nargs, posting;

	memset(o, 0, sizeof(*o));
	o->connect_ms = 10000;
	o->as.time_ms = -1;
	if (argc == 2 && strcmp(argv[1], TM_LIST_OPTIONS) == 0)
		exit(tm_list_options(STDOUT_FILENO, longopts));
	while ((ch = getopt_long(argc, argv, "c:H:hkLn:o:t:vX:", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'c':
			num("-c", optarg, 1, SEND_MAX_CONC, &o->conc);
			o->repeat = 1;
			break;
		case 'H':
			if (o->nheader == SEND_MAX_HEADERS)
				errx(TM_EXIT_USAGE, "at most %d -H",
				    SEND_MAX_HEADERS);
			check_header(optarg);
			o->header[o->nheader++] = optarg;
			break;
		case 'L':
			o->follow = 1;
			break;
		case 'n':
			num("-n", optarg, 1, SEND_MAX_COUNT, &o->count);
			o->repeat = 1;
			break;
		case 'o':
			o->out = optarg;
			break;
		case 't':
			o->target = optarg;
			break;
		case 'k':
			o->insecure = 1;
			break;
		case OPT_CACERT:
		case OPT_CERT:
		case OPT_KEY:
			if (*optarg == '\0')
				errx(TM_EXIT_USAGE, "--%s: empty file name",
				    ch == OPT_CACERT ? "cacert" : ch == OPT_CERT ?
				    "cert" : "key");
			*(ch == OPT_CACERT ? &o->cacert : ch == OPT_CERT ?
			    &o->cert : &o->key) = optarg;
			break;
		case 'v':
			o->verbose = 1;
			break;
		case 'X':
			if (!http_token(optarg, strlen(optarg)))
				errx(TM_EXIT_USAGE, "-X %s: not a method name",
				    optarg);
			o->method = optarg;
			break;
		case OPT_AS_IS:
			o->as_is = 1;
			break;
		case OPT_EXCHANGE:
			num("--exchange", optarg, 1, UINT64_MAX, &o->exchange);
			break;
		case OPT_CONN:
			num("--conn", optarg, 1, UINT64_MAX, &o->conn);
			o->have_conn = 1;
			break;
		case OPT_CONNECT_TIMEOUT:
			dur("--connect-timeout", optarg, &o->connect_ms);
			if (o->connect_ms == 0)
				errx(TM_EXIT_USAGE, "--connect-timeout %s: "
				    "too small", optarg);
			break;
		case OPT_FIX_LENGTH:
			o->fix_length = 1;
			break;
		case OPT_NO_CHECK:
			o->no_check = 1;
			break;
		case OPT_NO_FAIL:
			o->no_fail = 1;
			break;
		case ASSERT_STATUS: case ASSERT_XPATH: case ASSERT_JSON:
		case ASSERT_TIME: case ASSERT_NO_FAULT: case ASSERT_NS:
			if (assert_opt(&o->as, ch, optarg, amsg,
			    sizeof(amsg)) < 0)
				errx(TM_EXIT_USAGE, "%s", amsg);
			break;
		case OPT_PACE:
			o->pace = 1;
			break;
		case OPT_PRETTY:
			o->pretty = 1;
			break;
		case OPT_RAW:
			o->raw = 1;
			break;
		case OPT_RECORDS:
			o->records = 1;
			break;
		case OPT_REPLAY:
			o->replay = optarg;
			break;
		case OPT_SOAP_ACTION:
			if (strpbrk(optarg, "\"\r\n") != NULL)
				errx(TM_EXIT_USAGE, "--soap-action %s: no "
				    "quotes or line breaks", optarg);
			o->soap_action = optarg;
			break;
		case OPT_SOAP12:
			o->soap12 = 1;
			break;
		case OPT_SRC:
			o->src = optarg;
			break;
		case OPT_TEXT:
			o->text = 1;
			break;
		case OPT_TIMEOUT:
			dur("--timeout", optarg, &o->timeout_ms);
			if (o->timeout_ms == 0)
				errx(TM_EXIT_USAGE, "--timeout %s: too small",
				    optarg);
			break;
		case OPT_VERSION:
			printf("tcpmon-send %s\n", TCPMON_VERSION);
			exit(TM_EXIT_OK);
		case 'h':
			usage(TM_EXIT_OK);
		default:
			usage(TM_EXIT_USAGE);
		}
	}

	nargs = argc - optind;
	/* -c without -n, with --replay: connections replayed at once. */
	if (o->replay != NULL && o->conc > 0 && o->count == 0) {
		o->replay_conc = o->conc;
		o->conc = 0;
		o->repeat = 0;
		if (o->have_conn)
			errx(TM_EXIT_USAGE, "-c with --replay: only without "
			    "--conn (every connection, N at a time)");
		never(o->replay_conc > 1, o->text, "-c with --replay",
		    "--text");
		never(o->replay_conc > 1, o->out != NULL, "-c with --replay",
		    "-o");
		if (o->replay_conc > 1 && !o->records &&
		    isatty(STDOUT_FILENO))
			errx(TM_EXIT_USAGE, "-c with --replay writes records: "
			    "give --records or a pipe");
	}
	never(o->raw, o->replay != NULL, "--raw", "--replay");
	never(o->text, o->records, "--text", "--records");
	posting = !o->raw && o->replay == NULL;
	only(o->have_conn, o->replay != NULL, "--conn", "--replay");
	only(o->src != NULL, o->replay != NULL, "--src", "--replay");
	only(o->target != NULL, o->replay != NULL, "-t", "--replay");
	only(o->pace, o->replay != NULL, "--pace", "--replay");
	only(o->fix_length, o->raw, "--fix-length", "--raw");
	only(o->as_is, o->raw, "--as-is", "--raw");
	never(o->as_is, o->fix_length, "--as-is", "--fix-length");
	only(o->exchange > 0, o->replay != NULL, "--exchange", "--replay");
	o->as_came = o->raw && !o->pretty;
	only(o->method != NULL, posting, "-X", "a URL (not --raw or --replay)");
	only(o->nheader > 0, posting, "-H", "a URL (not --raw or --replay)");
	only(o->soap_action != NULL, posting, "--soap-action",
	    "a URL (not --raw or --replay)");
	only(o->soap12, posting, "--soap12", "a URL (not --raw or --replay)");
	only(o->no_check, posting, "--no-check",
	    "a URL (not --raw or --replay)");
	only(o->follow, posting, "-L", "a URL (not --raw or --replay)");
	never(o->repeat, o->replay != NULL, "-n and -c", "--replay");
	never(o->repeat, o->as.any, "-n and -c", "--assert-*");
	never(o->no_fail, o->as.any, "--no-fail", "--assert-*");
	if (o->as.nns > 0 && o->as.nxpath == 0)
		errx(TM_EXIT_USAGE, "--ns: only with --assert-xpath");
	if (assert_setup(&o->as, amsg, sizeof(amsg)) < 0)
		errx(TM_EXIT_USAGE, "%s", amsg);
	never(o->repeat, o->out != NULL, "-n and -c", "-o");
	never(o->repeat, o->pretty, "-n and -c", "--pretty");
	never(o->repeat, o->follow, "-n and -c", "-L");
	never(o->repeat, o->text || o->records, "-n and -c",
	    "--text or --records");
	never(o->out != NULL, o->text || o->records, "-o",
	    "--text or --records");

	if (o->replay != NULL) {
		if (nargs > 0)
			errx(TM_EXIT_USAGE, "%s: --replay takes no URL",
			    argv[optind]);
		/* Without --conn: every connection, one after another. */
		if (!o->have_conn) {
			o->replay_all = 1;
			if (o->exchange > 0)
				errx(TM_EXIT_USAGE, "--exchange needs --conn N");
			if (o->as.any)
				errx(TM_EXIT_USAGE, "--assert-* needs --conn N "
				    "with --replay");
		}
	} else if (o->raw) {
		if (nargs != 2)
			errx(TM_EXIT_USAGE, "--raw needs HOST:PORT and FILE");
		o->url = argv[optind];
		o->file = argv[optind + 1];
	} else {
		if (nargs == 0)
			errx(TM_EXIT_USAGE, "nothing to do: give a URL");
		if (nargs > 2)
			errx(TM_EXIT_USAGE, "%s: unexpected argument",
			    argv[optind + 2]);
		o->url = argv[optind];
		o->file = nargs == 2 ? argv[optind + 1] : NULL;
		if ((o->soap_action != NULL || o->soap12) && o->file == NULL)
			errx(TM_EXIT_USAGE, "%s needs a request body (FILE "
			    "or -)", o->soap12 ? "--soap12" : "--soap-action");
		if (o->method == NULL)
			o->method = o->file != NULL ? "POST" : "GET";
	}
	if (o->repeat) {
		if (o->count == 0)
			o->count = o->conc;
		if (o->conc == 0)
			o->conc = 1;
		if (o->conc > o->count)
			o->conc = o->count;
	}
}

/* --replay without --conn: each recorded client connection sent again,
 * one after another, in the order they opened; the records of the new
 * conversation numbered on from one run to the next.  Returns the worst
 * exit status. */
static int
replay_every(struct opts *o)
{
	struct request rq;
	struct replay rp, *rps = NULL;
	struct plan *pl, **pls = NULL;
	const char *target = o->target;
	char msg[2200], *srcs;
	uint64_t *conns;
	size_t n, i;
	int st, worst = TM_EXIT_OK, tls = 0;

	if (target != NULL && strncmp(target, "tls:", 4) == 0) {
		target += 4;
		tls = 1;
	}
	conns = replay_list(o, &srcs, &n);
	memset(&rq, 0, sizeof(rq));
	if (tls || o->cacert != NULL || o->cert != NULL)
		stls_init(o);
	if (o->replay_conc > 1 && ((rps = calloc(n, sizeof(*rps))) == NULL ||
	    (pls = calloc(n, sizeof(*pls))) == NULL))
		err(TM_EXIT_FAIL, "malloc");
	for (i = 0; i < n; i++) {
		o->conn = conns[i];
		o->have_conn = 1;
		o->src = srcs + i * SEND_SRC_MAX;
		replay_load(o, rps != NULL ? &rps[i] : &rp);
		if (rps != NULL)
			rp = rps[i];
		if ((pl = calloc(1, sizeof(*pl))) == NULL)
			err(TM_EXIT_FAIL, "malloc");
		if (addr_parse(target != NULL ? target : rp.target,
		    ADDR_TARGET, &pl->addr, msg, sizeof(msg)) == -1)
			errx(TM_EXIT_USAGE, "%s%s", target != NULL ? "-t " :
			    "target in the capture: ", msg);
		pl->tls = tls;
		pl->chunk = rp.chunk;
		pl->nchunk = rp.nchunk;
		pl->pace = o->pace;
		snprintf(pl->what, sizeof(pl->what), "%s", pl->addr.text);
		if (plan_resolve(pl, msg, sizeof(msg)) == -1)
			errx(TM_EXIT_FAIL, "%s", msg);
		if (pls != NULL) {
			/* -c N: all loaded, then run N at a time. */
			pls[i] = pl;
			continue;
		}
		st = run_show(o, pl, NULL, &rq);
		if (st > worst)
			worst = st;
		o->id_base++;
		o->no_stream = 1;
		replay_free(&rp);
		free(pl);
	}
	if (pls != NULL) {
		worst = run_many(o, pls, n, (size_t)o->replay_conc);
		for (i = 0; i < n; i++) {
			replay_free(&rps[i]);
			free(pls[i]);
		}
		free(rps);
		free(pls);
	}
	free(conns);
	free(srcs);
	return worst;
}

int
main(int argc, char **argv)
{
	struct opts o;
	struct plan *pl;
	struct url u;
	struct request rq;
	struct replay rp;
	unsigned char *in = NULL;
	size_t inlen = 0;
	char msg[2200];
	int status;

	tm_setprogname(argv, "tcpmon-send");
	parse_opts(argc, argv, &o);
	signal(SIGPIPE, SIG_IGN);
	if (o.replay_all) {
		status = replay_every(&o);
		if (fflush(stdout) == EOF && errno != EPIPE &&
		    status == TM_EXIT_OK) {
			warn("write stdout");
			status = TM_EXIT_FAIL;
		}
		stls_done();
		xml_done();
		return status;
	}
	if ((pl = calloc(1, sizeof(*pl))) == NULL)
		err(TM_EXIT_FAIL, "malloc");
	memset(&u, 0, sizeof(u));
	memset(&rq, 0, sizeof(rq));
	memset(&rp, 0, sizeof(rp));

	if (o.replay != NULL) {
		replay_load(&o, &rp);
		if (o.target != NULL && strncmp(o.target, "tls:", 4) == 0) {
			o.target += 4;
			pl->tls = 1;
		}
		if (addr_parse(o.target != NULL ? o.target : rp.target,
		    ADDR_TARGET, &pl->addr, msg, sizeof(msg)) == -1)
			errx(TM_EXIT_USAGE, "%s%s", o.target != NULL ? "-t " :
			    "target in the capture: ", msg);
		pl->chunk = rp.chunk;
		pl->nchunk = rp.nchunk;
		pl->pace = o.pace;
		snprintf(pl->what, sizeof(pl->what), "%s", pl->addr.text);
	} else if (o.raw) {
		if (strncmp(o.url, "tls:", 4) == 0) {
			o.url += 4;
			pl->tls = 1;
		}
		if (addr_parse(o.url, ADDR_TARGET, &pl->addr, msg,
		    sizeof(msg)) == -1)
			errx(TM_EXIT_USAGE, "%s", msg);
		read_input(o.file, &in, &inlen);
		req_raw(&o, in, inlen, &rq);
		in = NULL;
		pl->chunk = rq.chunk;
		pl->nchunk = rq.nchunk;
		snprintf(pl->what, sizeof(pl->what), "%s", pl->addr.text);
	} else {
		if (url_parse(o.url, &u, msg, sizeof(msg)) == -1 ||
		    url_addr(&u, &pl->addr, msg, sizeof(msg)) == -1)
			errx(TM_EXIT_USAGE, "%s", msg);
		if (o.file != NULL)
			read_input(o.file, &in, &inlen);
		req_build(&o, &u, o.method, in, inlen, o.file != NULL, &rq);
		pl->chunk = rq.chunk;
		pl->nchunk = rq.nchunk;
		pl->tls = u.tls;
		snprintf(pl->what, sizeof(pl->what), "%s", u.text);
	}
	/* Read once, before anything is sent: a file that cannot be
	 * used is bad usage.  Redirects may lead to https:// too. */
	if (pl->tls || o.follow || o.cacert != NULL || o.cert != NULL)
		stls_init(&o);
	if (plan_resolve(pl, msg, sizeof(msg)) == -1)
		errx(TM_EXIT_FAIL, "%s", msg);

	if (o.repeat)
		status = run_repeat(&o, pl);
	else
		status = run_show(&o, pl, o.raw || o.replay ? NULL : &u, &rq);

	/* Whatever is left in stdio's buffer: output that could not be
	 * written is the job failing (`| head` aside, as in run_show). */
	if (fflush(stdout) == EOF && errno != EPIPE && status == TM_EXIT_OK) {
		warn("write stdout");
		status = TM_EXIT_FAIL;
	}
	free(in);
	req_free(&rq);
	replay_free(&rp);
	url_free(&u);
	free(pl);
	stls_done();
	xml_done();
	return status;
}
