/* relay.c - tcpmon-relay: options, listeners and signals.  It forwards every
 * connection to its target and writes the records of all it sees. */
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "relay.h"
#include "util.h"

#define SWEEP_MS	100

struct opts {
	const char	*listen[MAX_LISTENERS];
	const char	*target[MAX_LISTENERS];
	int		 nlisten, ntarget;
	/* A socket given rather than bound: systemd's first (npassed of
	 * them, named or not), then --listen-fd's in their place among the
	 * -l's; -1 for a -l. */
	int		 lfd[MAX_LISTENERS];
	char		*lname[MAX_LISTENERS];
	int		 npassed;
	const char	*out;
	const char	*tap;
	int		 lossy;
	uint64_t	 max_conns;
	uint64_t	 connect_ms;
	uint64_t	 idle_ms;
	uint64_t	 head_ms;
	int		 head_given;
	int		 verbose, quiet;
	int		 proxy;
	int		 nallow;
	const char	*upstream;
	char		*through[MAX_STAGES];
	int		 nthrough;
	uint64_t	 stage_ms;
	struct rotation	 rot;
	int		 rewrite_host;
	struct tls_opts	 tls;
	int		 tls_in, tls_out;	/* some -l tls:, -t tls: */
	char		 ltls[MAX_LISTENERS], ttls[MAX_LISTENERS];	/* which */
	int		 mitm, nno_mitm, print_ca;
};

static void __attribute__((noreturn))
usage(int status)
{
	fprintf(status ? stderr : stdout,
	    "usage: tcpmon-relay -l [ADDR:]PORT -t HOST:PORT [-l ... -t ...] "
	    "[-qv] [-o FILE]\n"
	    "                    [--rotate-size SIZE] [--rotate-time DUR] "
	    "[--rotate-keep N]\n"
	    "                    [--rotate-gzip]\n"
	    "                    [--listen-fd N -t HOST:PORT ...]\n"
	    "                    [--tap PATH] [--lossy] [--max-conns N]\n"
	    "                    [--connect-timeout DUR] [--idle-timeout DUR]\n"
	    "                    [--upstream-proxy HOST:PORT] [--rewrite-host]\n"
	    "                    [--through CMD ...] [--stage-timeout DUR]\n"
	    "                    [--cert FILE --key FILE] [--sni NAME] "
	    "[--ca-file FILE]\n"
	    "                    [--insecure] [--client-cert FILE "
	    "--client-key FILE]\n"
	    "                    [--keylog FILE]\n"
	    "       tcpmon-relay --proxy -l [ADDR:]PORT [-l ...] "
	    "[--listen-fd N ...]\n"
	    "                    "
	    "[--allow CIDR ...] [-qv]\n"
	    "                    [-o FILE] [--tap PATH] [--lossy] "
	    "[--max-conns N]\n"
	    "                    [--connect-timeout DUR] [--idle-timeout DUR]\n"
	    "                    [--head-timeout DUR]\n"
	    "                    [--upstream-proxy HOST:PORT] [--through CMD ...]\n"
	    "                    [--stage-timeout DUR] [--mitm "
	    "[--no-mitm PATTERN ...]]\n"
	    "                    [--ca-dir DIR] [--ca-file FILE] [--insecure] "
	    "[--keylog FILE]\n"
	    "       tcpmon-relay [--ca-dir DIR] --print-ca\n"
	    "       tcpmon-relay -h | --version\n");
	if (status == TM_EXIT_OK)
		printf("\n"
		    "  -l, --listen [ADDR:]PORT  listen there; 0 picks a free "
		    "port, ADDR 127.0.0.1\n"
		    "                            (tls:[ADDR:]PORT: clients "
		    "speak TLS to the relay)\n"
		    "      --listen-fd N         listen on the socket inherited "
		    "as descriptor N\n"
		    "  -t, --target HOST:PORT    forward the preceding -l's "
		    "connections there\n"
		    "                            (tls:HOST:PORT: the relay "
		    "speaks TLS to it)\n"
		    "      --cert FILE           tls: listeners: the "
		    "certificate (PEM, chain after it)\n"
		    "      --key FILE            tls: listeners: its private "
		    "key\n"
		    "      --sni NAME            tls: targets: the name to ask "
		    "for and verify\n"
		    "      --ca-file FILE        tls: targets: trust these CAs "
		    "too\n"
		    "      --insecure            tls: targets: do not verify "
		    "the server (recorded)\n"
		    "      --client-cert FILE    tls: targets: the relay's "
		    "certificate, when asked\n"
		    "      --client-key FILE     tls: targets: its private "
		    "key\n"
		    "      --keylog FILE         append TLS secrets for "
		    "Wireshark (SSLKEYLOGFILE)\n"
		    "      --mitm                proxy mode: decrypt CONNECT "
		    "tunnels (the relay's CA)\n"
		    "      --no-mitm PATTERN     --mitm: leave matching hosts "
		    "tunnels (repeatable)\n"
		    "      --ca-dir DIR          the relay's CA (default "
		    "~/.local/share/tcpmon)\n"
		    "      --print-ca            print the CA certificate "
		    "and exit\n"
		    "      --proxy               serve as an HTTP proxy: "
		    "clients name the target\n"
		    "      --allow CIDR          proxy mode: serve clients from "
		    "CIDR (repeatable)\n"
		    "      --upstream-proxy HOST:PORT  reach every target "
		    "through this HTTP proxy\n"
		    "  -o, --output FILE         write the records to FILE\n"
		    "      --rotate-size SIZE    start a new FILE past SIZE "
		    "bytes (k, m, g)\n"
		    "      --rotate-time DUR     start a new FILE every DUR\n"
		    "      --rotate-keep N       keep the N newest rotated "
		    "files\n"
		    "      --rotate-gzip         compress rotated files\n"
		    "      --tap PATH            publish the records to viewers "
		    "on a Unix socket\n"
		    "      --lossy               drop records rather than slow "
		    "the traffic\n"
		    "  -q, --quiet               errors only: no listening line, "
		    "no warnings\n"
		    "  -v, --verbose             a line per connection opened, "
		    "connected and closed\n"
		    "      --max-conns N         accept at most N connections "
		    "at once\n"
		    "      --connect-timeout DUR give up on a target that has "
		    "not answered after DUR\n"
		    "      --idle-timeout DUR    close a connection on which "
		    "nothing moved for DUR\n"
		    "      --head-timeout DUR    proxy mode: 408 for a request "
		    "head not whole in DUR\n"
		    "      --rewrite-host        HTTP: Host to the target's, "
		    "redirects and WSDLs to the relay\n"
		    "      --through CMD         put CMD in the data path (a "
		    "stage); may be repeated\n"
		    "      --stage-timeout DUR   a stage silent for DUR with "
		    "data to pass fails\n"
		    "  -h, --help                print this help and exit\n"
		    "      --version             print the version and exit\n"
		    "\nSockets passed by systemd (LISTEN_FDS) are the first "
		    "listeners, each -t\nfollowing one of them in order.\n"
		    "\nSee tcpmon-relay(1).\n");
	exit(status);
}

enum { OPT_ROTATE_SIZE = 200, OPT_ROTATE_TIME, OPT_ROTATE_KEEP,
    OPT_ROTATE_GZIP };
enum { OPT_CERT = 300, OPT_KEY, OPT_SNI, OPT_CA_FILE, OPT_INSECURE,
    OPT_CLIENT_CERT, OPT_CLIENT_KEY, OPT_KEYLOG, OPT_MITM, OPT_NO_MITM,
    OPT_CA_DIR, OPT_PRINT_CA };
enum { OPT_MAX_CONNS = 256, OPT_CONNECT_TIMEOUT, OPT_IDLE_TIMEOUT,
    OPT_LOSSY, OPT_TAP, OPT_VERSION, OPT_PROXY, OPT_ALLOW, OPT_UPSTREAM,
    OPT_THROUGH, OPT_STAGE_TIMEOUT, OPT_HEAD_TIMEOUT, OPT_REWRITE_HOST,
    OPT_LISTEN_FD };

static const struct option longopts[] = {
	{ "allow",		required_argument, NULL, OPT_ALLOW },
	{ "ca-dir",		required_argument, NULL, OPT_CA_DIR },
	{ "ca-file",		required_argument, NULL, OPT_CA_FILE },
	{ "cert",		required_argument, NULL, OPT_CERT },
	{ "client-cert",	required_argument, NULL, OPT_CLIENT_CERT },
	{ "client-key",		required_argument, NULL, OPT_CLIENT_KEY },
	{ "connect-timeout",	required_argument, NULL, OPT_CONNECT_TIMEOUT },
	{ "head-timeout",	required_argument, NULL, OPT_HEAD_TIMEOUT },
	{ "help",		no_argument,	   NULL, 'h' },
	{ "idle-timeout",	required_argument, NULL, OPT_IDLE_TIMEOUT },
	{ "insecure",		no_argument,	   NULL, OPT_INSECURE },
	{ "key",		required_argument, NULL, OPT_KEY },
	{ "keylog",		required_argument, NULL, OPT_KEYLOG },
	{ "listen",		required_argument, NULL, 'l' },
	{ "listen-fd",		required_argument, NULL, OPT_LISTEN_FD },
	{ "lossy",		no_argument,	   NULL, OPT_LOSSY },
	{ "max-conns",		required_argument, NULL, OPT_MAX_CONNS },
	{ "mitm",		no_argument,	   NULL, OPT_MITM },
	{ "no-mitm",		required_argument, NULL, OPT_NO_MITM },
	{ "output",		required_argument, NULL, 'o' },
	{ "print-ca",		no_argument,	   NULL, OPT_PRINT_CA },
	{ "proxy",		no_argument,	   NULL, OPT_PROXY },
	{ "quiet",		no_argument,	   NULL, 'q' },
	{ "rotate-gzip",	no_argument,	   NULL, OPT_ROTATE_GZIP },
	{ "rotate-keep",	required_argument, NULL, OPT_ROTATE_KEEP },
	{ "rotate-size",	required_argument, NULL, OPT_ROTATE_SIZE },
	{ "rotate-time",	required_argument, NULL, OPT_ROTATE_TIME },
	{ "rewrite-host",	no_argument,	   NULL, OPT_REWRITE_HOST },
	{ "sni",		required_argument, NULL, OPT_SNI },
	{ "stage-timeout",	required_argument, NULL, OPT_STAGE_TIMEOUT },
	{ "tap",		required_argument, NULL, OPT_TAP },
	{ "target",		required_argument, NULL, 't' },
	{ "upstream-proxy",	required_argument, NULL, OPT_UPSTREAM },
	{ "through",		required_argument, NULL, OPT_THROUGH },
	{ "verbose",		no_argument,	   NULL, 'v' },
	{ "version",		no_argument,	   NULL, OPT_VERSION },
	{ NULL,			0,		   NULL, 0 }
};

/*
 * --rewrite-host is a stage, tcpmon-rewrite(1), first in the chain, so that
 * the stages after it and the peers see the rewritten bytes.  It lets go of
 * what it holds well before --stage-timeout would fail it.
 */
static void
prepend_rewrite(struct opts *o)
{
	static char cmd[64];

	if (o->nthrough == MAX_STAGES)
		errx(TM_EXIT_USAGE, "--rewrite-host is a stage: at most %d "
		    "stages besides it", MAX_STAGES - 1);
	snprintf(cmd, sizeof(cmd), "tcpmon-rewrite --hold-timeout %llums",
	    (unsigned long long)(o->stage_ms / 2 > 0 ? o->stage_ms / 2 : 1));
	memmove(o->through + 1, o->through, (size_t)o->nthrough *
	    sizeof(o->through[0]));
	o->through[0] = cmd;
	o->nthrough++;
}

/* How listener i was given, for messages. */
static const char *
listen_label(const struct opts *o, int i, char *buf, size_t n)
{
	if (o->lfd[i] == -1)
		snprintf(buf, n, "-l %s", o->listen[i]);
	else if (i >= o->npassed)
		snprintf(buf, n, "--listen-fd %d", o->lfd[i]);
	else
		snprintf(buf, n, "socket %d from systemd%s%s%s", o->lfd[i],
		    o->lname[i] ? " (" : "", o->lname[i] ? o->lname[i] : "",
		    o->lname[i] ? ")" : "");
	return buf;
}

/* --listen-fd N: a descriptor this process inherited, once, not one of
 * the standard three but stdin (inetd's "wait" passes its socket there). */
static void
listen_fd_opt(struct opts *o, const char *arg)
{
	char msg[256];
	uint64_t v;
	int i;

	v = opt_num("--listen-fd", arg, 0, INT32_MAX, NULL);
	if (v == STDOUT_FILENO || v == STDERR_FILENO)
		errx(TM_EXIT_USAGE, "--listen-fd %s: stdout and stderr are "
		    "not listeners", arg);
	for (i = 0; i < o->nlisten; i++)
		if (o->lfd[i] == (int)v)
			errx(TM_EXIT_USAGE, "--listen-fd %s: already %s", arg,
			    listen_label(o, i, msg, sizeof(msg)));
	if (activate_take((int)v, msg, sizeof(msg)) == -1)
		errx(TM_EXIT_FAIL, "--listen-fd %s: %s", arg, msg);
	o->lfd[o->nlisten] = (int)v;
}

/* The name of a long option, for messages. */
static const char *
longopt_name(int val)
{
	const struct option *p;

	for (p = longopts; p->name != NULL; p++)
		if (p->val == val)
			return p->name;
	return "?";
}

/* Takes a tls: prefix off an address: 1 when there was one. */
static int
tls_prefix(const char **spec)
{
	if (strncmp(*spec, "tls:", 4) != 0)
		return 0;
	*spec += 4;
	return 1;
}

/* Where the relay's CA lives when --ca-dir does not say:
 * $XDG_DATA_HOME/tcpmon, or ~/.local/share/tcpmon. */
static const char *
default_ca_dir(void)
{
	static char dir[4096];
	const char *x = getenv("XDG_DATA_HOME"), *h = getenv("HOME");

	if (x != NULL && *x == '/')
		snprintf(dir, sizeof(dir), "%s/tcpmon", x);
	else if (h != NULL && *h != '\0')
		snprintf(dir, sizeof(dir), "%s/.local/share/tcpmon", h);
	else
		errx(TM_EXIT_USAGE, "no HOME: give --ca-dir DIR");
	return dir;
}

/* The TLS options agree with the addresses: each is for a tls: side that
 * is there, and what a side needs is given. */
static void
check_tls(struct opts *o)
{
	int i;

	for (i = 0; i < o->nlisten; i++)
		if (o->listen[i] != NULL && tls_prefix(&o->listen[i]))
			o->tls_in = o->ltls[i] = 1;
	for (i = 0; i < o->ntarget; i++)
		if (tls_prefix(&o->target[i]))
			o->tls_out = o->ttls[i] = 1;
	if (o->tls_in && o->proxy)
		errx(TM_EXIT_USAGE, "-l tls:: not with --proxy (yet): the "
		    "proxy's clients ask for TLS with CONNECT");
	if ((o->tls.cert == NULL) != (o->tls.key == NULL))
		errx(TM_EXIT_USAGE, "--cert and --key go together");
	if (o->mitm && !o->proxy)
		errx(TM_EXIT_USAGE, "--mitm: only with --proxy (a tls: "
		    "listener decrypts in forward mode)");
	if (o->nno_mitm > 0 && !o->mitm)
		errx(TM_EXIT_USAGE, "--no-mitm: only with --mitm");
	if (o->mitm)
		o->tls_in = o->tls_out = 1;	/* both contexts */
	if ((!o->tls_in || o->mitm) && (o->tls.cert != NULL ||
	    o->tls.key != NULL))
		errx(TM_EXIT_USAGE, "--cert, --key: only with a -l tls: "
		    "listener");
	if (!o->tls_out && (o->tls.sni != NULL || o->tls.ca_file != NULL ||
	    o->tls.insecure || o->tls.client_cert != NULL ||
	    o->tls.client_key != NULL))
		errx(TM_EXIT_USAGE, "--sni, --ca-file, --insecure, "
		    "--client-cert, --client-key: only with a -t tls: "
		    "target");
	if ((o->tls.client_cert == NULL) != (o->tls.client_key == NULL))
		errx(TM_EXIT_USAGE, "--client-cert and --client-key go "
		    "together");
	if (o->tls.keylog != NULL && !o->tls_in && !o->tls_out)
		errx(TM_EXIT_USAGE, "--keylog: only with a tls: listener or "
		    "target");
}

static void
parse_opts(int argc, char **argv, struct opts *o)
{
	char label[300];
	const char *e;
	int ch;

	memset(o, 0, sizeof(*o));
	o->connect_ms = 10000;
	o->stage_ms = 10000;
	o->head_ms = 30000;
	/* Taken before anything is started, so that nothing inherits them. */
	if ((o->npassed = activate_systemd(o->lfd, o->lname, MAX_LISTENERS,
	    label, sizeof(label))) == -1)
		errx(TM_EXIT_FAIL, "%s", label);
	o->nlisten = o->npassed;
	if (argc == 2 && strcmp(argv[1], TM_LIST_OPTIONS) == 0)
		exit(tm_list_options(STDOUT_FILENO, longopts));
	while ((ch = getopt_long(argc, argv, "hl:o:qt:v", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'l':
		case OPT_LISTEN_FD:
			if (o->nlisten != o->ntarget && !o->proxy)
				errx(TM_EXIT_USAGE, "%s %s: %s before it has "
				    "no -t", ch == 'l' ? "-l" : "--listen-fd",
				    optarg, o->lfd[o->nlisten - 1] == -1 ?
				    "the -l" : listen_label(o, o->nlisten - 1,
				    label, sizeof(label)));
			if (o->nlisten == MAX_LISTENERS)
				errx(TM_EXIT_USAGE, "at most %d listeners",
				    MAX_LISTENERS);
			o->lfd[o->nlisten] = -1;
			if (ch == OPT_LISTEN_FD)
				listen_fd_opt(o, optarg);
			o->listen[o->nlisten++] = optarg;
			break;
		case 't':
			if (o->ntarget >= o->nlisten)
				errx(TM_EXIT_USAGE, "-t %s: every -t follows "
				    "its -l", optarg);
			o->target[o->ntarget++] = optarg;
			break;
		case 'o':
			if (*optarg == '\0')
				errx(TM_EXIT_USAGE, "-o: empty file name");
			o->out = optarg;
			break;
		case OPT_TAP:
			if (*optarg == '\0')
				errx(TM_EXIT_USAGE, "--tap: empty socket path");
			if (strlen(optarg) >= sizeof(((struct relay *)0)->
			    tappath))
				errx(TM_EXIT_USAGE, "--tap %s: socket path too "
				    "long", optarg);
			o->tap = optarg;
			break;
		case OPT_LOSSY:
			o->lossy = 1;
			break;
		case OPT_PROXY:
			if (o->nlisten > o->npassed)
				errx(TM_EXIT_USAGE, "--proxy goes before the "
				    "first -l");
			o->proxy = 1;
			break;
		case OPT_ALLOW:
			if (proxy_allow(optarg, &e) == -1)
				errx(TM_EXIT_USAGE, "--allow %s: %s", optarg,
				    e);
			o->nallow++;
			break;
		case OPT_UPSTREAM:
			if (*optarg == '\0')
				errx(TM_EXIT_USAGE, "--upstream-proxy: empty "
				    "address");
			o->upstream = optarg;
			break;
		case 'q':
			o->quiet = 1;
			break;
		case OPT_ROTATE_SIZE:
			o->rot.size = opt_num("--rotate-size", optarg, 4096,
			    1ull << 50, "4k to 1024t");
			break;
		case OPT_ROTATE_TIME:
			o->rot.ms = opt_dur("--rotate-time", optarg,
			    31ull * 86400000);
			if (o->rot.ms < 1000)
				errx(TM_EXIT_USAGE, "--rotate-time %s: too "
				    "small (1s at least)", optarg);
			break;
		case OPT_ROTATE_KEEP:
			o->rot.keep = opt_num("--rotate-keep", optarg, 1,
			    1000000, NULL);
			break;
		case OPT_ROTATE_GZIP:
			o->rot.gzip = 1;
			break;
		case 'v':
			o->verbose = 1;
			break;
		case OPT_MAX_CONNS:
			o->max_conns = opt_num("--max-conns", optarg, 1,
			    1000000, NULL);
			break;
		case OPT_CONNECT_TIMEOUT:
			o->connect_ms = opt_dur("--connect-timeout", optarg,
			    86400000);
			break;
		case OPT_IDLE_TIMEOUT:
			o->idle_ms = opt_dur("--idle-timeout", optarg,
			    86400000);
			break;
		case OPT_HEAD_TIMEOUT:
			o->head_ms = opt_dur("--head-timeout", optarg,
			    86400000);
			o->head_given = 1;
			break;
		case OPT_THROUGH:
			if (*optarg == '\0')
				errx(TM_EXIT_USAGE, "--through: empty command");
			if (o->nthrough == MAX_STAGES)
				errx(TM_EXIT_USAGE, "at most %d stages",
				    MAX_STAGES);
			o->through[o->nthrough++] = optarg;
			break;
		case OPT_REWRITE_HOST:
			o->rewrite_host = 1;
			break;
		case OPT_CERT:
		case OPT_KEY:
		case OPT_CA_FILE:
		case OPT_CLIENT_CERT:
		case OPT_CLIENT_KEY:
		case OPT_KEYLOG:
			if (*optarg == '\0')
				errx(TM_EXIT_USAGE, "--%s: empty file name",
				    longopt_name(ch));
			*(ch == OPT_CERT ? &o->tls.cert : ch == OPT_KEY ?
			    &o->tls.key : ch == OPT_CA_FILE ? &o->tls.ca_file :
			    ch == OPT_CLIENT_CERT ? &o->tls.client_cert :
			    ch == OPT_CLIENT_KEY ? &o->tls.client_key :
			    &o->tls.keylog) = optarg;
			break;
		case OPT_SNI:
			if (*optarg == '\0' || strlen(optarg) > 253 ||
			    strspn(optarg, "abcdefghijklmnopqrstuvwxyz"
			    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_") !=
			    strlen(optarg))
				errx(TM_EXIT_USAGE, "--sni %s: not a host name",
				    optarg);
			o->tls.sni = optarg;
			break;
		case OPT_INSECURE:
			o->tls.insecure = 1;
			break;
		case OPT_MITM:
			o->mitm = 1;
			break;
		case OPT_NO_MITM:
			if (*optarg == '\0' || proxy_no_mitm(optarg) == -1)
				errx(TM_EXIT_USAGE, "--no-mitm %s: %s", optarg,
				    *optarg == '\0' ? "empty pattern" :
				    "too many patterns");
			o->nno_mitm++;
			break;
		case OPT_CA_DIR:
			if (*optarg == '\0')
				errx(TM_EXIT_USAGE, "--ca-dir: empty directory "
				    "name");
			o->tls.ca_dir = optarg;
			break;
		case OPT_PRINT_CA:
			o->print_ca = 1;
			break;
		case OPT_STAGE_TIMEOUT:
			o->stage_ms = opt_dur("--stage-timeout", optarg,
			    86400000);
			if (o->stage_ms == 0)
				errx(TM_EXIT_USAGE, "--stage-timeout %s: too "
				    "small", optarg);
			break;
		case OPT_VERSION:
			printf("tcpmon-relay %s\n", TCPMON_VERSION);
			exit(TM_EXIT_OK);
		case 'h':
			usage(TM_EXIT_OK);
		default:
			usage(TM_EXIT_USAGE);
		}
	}
	if (optind != argc)
		errx(TM_EXIT_USAGE, "%s: unexpected argument", argv[optind]);
	if (o->tls.ca_dir == NULL)
		o->tls.ca_dir = default_ca_dir();
	if (o->print_ca)
		return;		/* and nothing else */
	check_tls(o);
	if ((o->rot.size || o->rot.ms || o->rot.keep || o->rot.gzip) &&
	    o->out == NULL)
		errx(TM_EXIT_USAGE, "--rotate-*: only with -o FILE");
	if ((o->rot.keep || o->rot.gzip) && !o->rot.size && !o->rot.ms)
		errx(TM_EXIT_USAGE, "--rotate-keep, --rotate-gzip: give "
		    "--rotate-size or --rotate-time");
	if (o->proxy) {
		if (o->nlisten == 0)
			errx(TM_EXIT_USAGE, "--proxy: give -l PORT");
		if (o->ntarget > 0)
			errx(TM_EXIT_USAGE, "-t %s: --proxy takes its targets "
			    "from the requests", o->target[0]);
		if (o->rewrite_host)
			errx(TM_EXIT_USAGE, "--rewrite-host: only in forward "
			    "mode (-t), not with --proxy");
		return;
	}
	if (o->nallow > 0)
		errx(TM_EXIT_USAGE, "--allow: only with --proxy");
	if (o->head_given)
		errx(TM_EXIT_USAGE, "--head-timeout: only with --proxy");
	if (o->nlisten == 0)
		errx(TM_EXIT_USAGE, "nothing to do: give -l PORT -t HOST:PORT");
	if (o->nlisten != o->ntarget)
		errx(TM_EXIT_USAGE, "%s: no -t for this listener",
		    listen_label(o, o->ntarget, label, sizeof(label)));
	if (o->rewrite_host)
		prepend_rewrite(o);
}

static void listener_event(struct loop *, int, unsigned, void *);

/* How often at most a state that can last (at the limit, out of
 * descriptors) is told on stderr: once an hour is not 36,000 lines. */
#define NOTE_MS		10000

/* Says msg, unless it was said less than NOTE_MS ago: then it is counted,
 * and the count goes with the next saying. */
static void
note(struct relay *r, struct ratelim *rl, const char *fmt, ...)
{
	char msg[400];
	int64_t now = tm_mono_ms();
	va_list ap;

	if (r->quiet)
		return;
	if (rl->at != 0 && now - rl->at < NOTE_MS) {
		rl->quiet++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (rl->quiet > 0)
		warnx("%s (%llu more times in the last %llds)", msg,
		    (unsigned long long)rl->quiet,
		    (long long)(now - rl->at) / 1000);
	else
		warnx("%s (said at most every %ds)", msg, NOTE_MS / 1000);
	rl->at = now;
	rl->quiet = 0;
}

/*
 * Out of descriptors all the same (viewers, stages, splice's pipes, or
 * what the relay inherited): the reserve descriptor is given up to take
 * the next client and refuse it at once, so that it hears no rather than
 * waiting in the queue, and the listener does not spin.  Returns 1 when
 * one was refused, 0 when there is none waiting, -1 when the listeners
 * had to pause (the reserve could not be had).
 */
static int
refuse_client(struct relay *r, struct listener *l)
{
	int cfd, e = errno;

	if (r->reserve_fd == -1) {
		note(r, &r->fd_note, "accept on %s: %s: not accepting until "
		    "connections end", l->text, strerror(e));
		listen_pause(r);
		return -1;
	}
	close(r->reserve_fd);
	r->reserve_fd = -1;
	cfd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (cfd != -1) {
		if (l->proxy)
			proxy_refuse(r, cfd);
		else
			sock_reset(cfd);
		note(r, &r->fd_note, "accept on %s: %s: refusing clients "
		    "until connections end", l->text, strerror(e));
	}
	if ((r->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) == -1) {
		listen_pause(r);
		return -1;
	}
	return cfd != -1;
}

static void
listener_event(struct loop *loop, int fd, unsigned ev, void *arg)
{
	struct listener *l = arg;
	struct relay *r = l->r;
	int cfd, on = 1, i;

	(void)loop;
	(void)ev;
	for (i = 0; i < 64; i++) {
		if ((cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK |
		    SOCK_CLOEXEC)) == -1) {
			if (errno == EMFILE || errno == ENFILE) {
				if (refuse_client(r, l) == 1)
					continue;
			} else if (errno != EAGAIN && errno != EINTR &&
			    errno != ECONNABORTED)
				warn("accept on %s", l->text);
			return;
		}
		setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
		if (l->proxy)
			proxy_accept(r, l, cfd);
		else
			conn_accept(r, l, cfd);
		if (listen_full(r)) {
			/* Further clients wait in the listen queue. */
			if (r->max_by_fds)
				note(r, &r->full_note, "%llu %s open (all the "
				    "open-files limit allows): not accepting "
				    "more for now", (unsigned long long)
				    (r->proxy ? r->nclients : r->nconns),
				    r->proxy ? "clients" : "connections");
			else
				note(r, &r->full_note, "%llu %s open "
				    "(--max-conns %llu): not accepting more "
				    "for now", (unsigned long long)
				    (r->proxy ? r->nclients : r->nconns),
				    r->proxy ? "clients" : "connections",
				    (unsigned long long)r->max_conns);
			listen_pause(r);
			return;
		}
	}
}

static const int stop_signals[] = {
	SIGHUP, SIGINT, SIGTERM, SIGUSR1, SIGUSR2, SIGALRM, SIGVTALRM,
	SIGPROF, SIGPOLL, SIGPWR, SIGSTKFLT, SIGXCPU
};

static void
on_signal(struct loop *l, int fd, unsigned ev, void *arg)
{
	struct signalfd_siginfo si;
	struct relay *r = arg;

	(void)ev;
	if (read(fd, &si, sizeof(si)) <= 0)
		return;
	/* SIGHUP with -o FILE: logrotate moved the file; a new one. */
	if (si.ssi_signo == SIGHUP && r->outpath != NULL && r->out.sync) {
		out_reopen(r);
		return;
	}
	loop_stop(l);
}

static void
on_tick(struct loop *l, void *arg)
{
	struct relay *r = arg;

	(void)l;
	out_retry(r);
	if (r->outpath != NULL)
		out_rotate_sweep(r);
	conn_linger_sweep(r);
	conn_sweep(r);
	proxy_sweep(r);
	tap_sweep(r);
	if (r->stage != NULL)
		stage_sweep(r);
	listen_resume(arg);	/* after a pause for descriptors */
}

/*
 * Each connection needs two descriptors, a proxy client up to four (its
 * own, the two ends of the pair to its conversation and the target's):
 * take as many as allowed, and keep the number of connections (clients)
 * to what fits, so that one taken is one that can be served.  Some are
 * kept back for the output, viewers, stages and splice's pipes.
 */
static void
raise_nofile(struct relay *r)
{
	struct rlimit rl;
	uint64_t lim, room, per = r->proxy != NULL ? 4 : 2;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		rl.rlim_cur = rl.rlim_max = 1024;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	lim = rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > 4000000 ?
	    4000000 : rl.rlim_cur;
	r->fd_room = lim - (lim >= 256 ? 64 : lim / 4);
	if ((room = r->fd_room / per) > 1000000)
		room = 1000000;
	if (room == 0)
		room = 1;
	if (r->max_conns != 0 && r->max_conns <= room)
		return;
	if (r->max_conns != 0 && !r->quiet)
		warnx("open-files limit %llu: room for %llu %s, not "
		    "--max-conns %llu", (unsigned long long)lim,
		    (unsigned long long)room, r->proxy != NULL ? "clients" :
		    "connections", (unsigned long long)r->max_conns);
	r->max_conns = room;	/* the default: all there is room for */
	r->max_by_fds = 1;
}

static void
open_listeners(struct relay *r, const struct opts *o)
{
	struct addr la;
	struct sockaddr_any sa;
	struct listener *l;
	char msg[512];
	int i;

	for (i = 0; i < o->nlisten; i++) {
		l = &r->l[i];
		l->r = r;
		l->fd = -1;
		if (o->lfd[i] == -1 && addr_parse(o->listen[i], ADDR_LISTEN,
		    &la, msg, sizeof(msg)) == -1)
			errx(TM_EXIT_USAGE, "-l %s", msg);
		l->proxy = o->proxy;
		l->tls_in = o->ltls[i];
		l->tls_out = o->ttls[i];
		if (o->proxy)
			goto bind;
		if (addr_parse(o->target[i], ADDR_TARGET, &l->target, msg,
		    sizeof(msg)) == -1)
			errx(TM_EXIT_USAGE, "-t %s", msg);
		if (r->upstream != NULL) {
			/* The upstream proxy resolves the name. */
			if (l->target.unix_path)
				errx(TM_EXIT_USAGE, "-t %s: a Unix socket is "
				    "not reached through --upstream-proxy",
				    o->target[i]);
			goto bind;
		}
		if (addr_resolve(&l->target, ADDR_TARGET, &l->taddr, msg,
		    sizeof(msg)) == -1)
			errx(TM_EXIT_FAIL, "target %s", msg);
bind:
		if (o->lfd[i] != -1) {
			l->fd = o->lfd[i];
			l->passed = 1;
		} else {
			if (addr_resolve(&la, ADDR_LISTEN, &sa, msg,
			    sizeof(msg)) == -1)
				errx(TM_EXIT_FAIL, "listen %s", msg);
			if ((l->fd = sock_listen(&sa, 511)) == -1)
				err(TM_EXIT_FAIL, "listen %s", la.text);
		}
		addr_fmt_local(l->fd, l->text, sizeof(l->text));
		r->nl++;
	}
	if ((r->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) == -1)
		err(TM_EXIT_FAIL, "/dev/null");
}

static void
close_listeners(struct relay *r)
{
	struct addr a;
	char msg[256];
	int i;

	for (i = 0; i < r->nl; i++) {
		if (r->l[i].fd == -1)
			continue;
		loop_del(r->loop, r->l[i].fd);
		close(r->l[i].fd);
		r->l[i].fd = -1;
		/* Our own Unix socket goes with us (one given to us stays
		 * for the next). */
		if (!r->l[i].passed && strncmp(r->l[i].text, "unix:", 5) == 0 &&
		    addr_parse(r->l[i].text, ADDR_LISTEN, &a, msg,
		    sizeof(msg)) == 0)
			unlink(a.path);
	}
}

/* The output's failure (r->out_lost): the relay ends at once, exit 1, as
 * the records cannot be written any more: every open connection is reset
 * on both sides, so that no peer takes a cut transfer for a complete one.
 * The message says why. */
static void __attribute__((noreturn))
out_lost(struct relay *r, const char *msg)
{
	uint64_t n;

	n = proxy_stop_all(r);
	n += conn_reset_all(r);
	close_listeners(r);
	tap_close(r);
	stage_stop(r);
	if (n > 0)
		errx(TM_EXIT_FAIL, "%s; %llu connection%s reset", msg,
		    (unsigned long long)n, n == 1 ? "" : "s");
	errx(TM_EXIT_FAIL, "%s", msg);
}

/* The output has room again (r->out_room_again): what waited for it
 * reads again. */
static void
out_room_again(struct relay *r)
{
	if (r->parked != NULL)
		conn_unpark_all(r);
	if (r->stage != NULL)
		stage_unpark(r);
}

/*
 * The terminal view: a tcpmon-tap child reading the records from a pipe.
 * It is looked for next to this program first, so that a build tree works
 * as installed.  Returns the pipe's write end.
 */
static int
spawn_view(struct relay *r)
{
	char self[4096], *slash;
	sigset_t none;
	ssize_t n;
	int p[2];

	if (pipe2(p, O_CLOEXEC) == -1)
		err(TM_EXIT_FAIL, "pipe");
	if ((n = readlink("/proc/self/exe", self, sizeof(self) - 16)) > 0) {
		self[n] = '\0';
		if ((slash = strrchr(self, '/')) != NULL)
			strcpy(slash + 1, "tcpmon-tap");
		if (access(self, X_OK) == -1)
			n = -1;
	}
	switch (r->view_pid = fork()) {
	case -1:
		err(TM_EXIT_FAIL, "fork");
	case 0:
		/* Ctrl-C is for the relay: the view ends when its input
		 * does, after the relay's last records. */
		signal(SIGINT, SIG_IGN);
		signal(SIGPIPE, SIG_DFL);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		if (dup2(p[0], STDIN_FILENO) == -1)
			_exit(127);
		if (n > 0)
			execl(self, "tcpmon-tap", "--pretty", (char *)NULL);
		execlp("tcpmon-tap", "tcpmon-tap", "--pretty", (char *)NULL);
		warn("tcpmon-tap (for the terminal view; use -o FILE or a "
		    "pipe instead)");
		_exit(127);
	}
	close(p[0]);
	return p[1];
}

/*
 * --tap PATH publishes every record, secrets included.  In a directory that
 * another user may write (without the sticky bit that keeps them from
 * replacing what is not theirs), or that belongs to another user, the
 * socket could be swapped for theirs: refused, as ssh's StrictModes does.
 */
static void
check_tap_dir(const char *path)
{
	char dir[4096], *slash;
	struct stat st;

	snprintf(dir, sizeof(dir), "%s", path);
	if ((slash = strrchr(dir, '/')) == NULL)
		strcpy(dir, ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	if (stat(dir, &st) == -1)
		return;		/* bind says what is wrong */
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX))
		errx(TM_EXIT_FAIL, "--tap %s: %s is writable by other users "
		    "and not sticky: refused", path, dir);
	if (st.st_uid != 0 && st.st_uid != geteuid())
		errx(TM_EXIT_FAIL, "--tap %s: %s belongs to another user "
		    "(uid %lu): refused", path, dir, (unsigned long)st.st_uid);
}

/* Chooses where the records go when not -o FILE: the terminal view or
 * stdout. */
static int
open_output(struct relay *r, const char **name)
{
	if (isatty(STDOUT_FILENO)) {
		*name = "tcpmon-tap";
		return spawn_view(r);
	}
	*name = "stdout";
	return STDOUT_FILENO;
}

/* A pipe or a socket is written without blocking, so that a slow reader
 * holds back the traffic (not the whole relay) and viewers keep moving. */
static void
set_output_nonblock(struct relay *r)
{
	int fd = r->out.fd;

	if (r->out.sync)
		return;
	/* A larger pipe means fewer wakeups for both ends; best effort. */
	(void)fcntl(fd, F_SETPIPE_SZ, 1024 * 1024);
	if ((r->out_fl = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, r->out_fl | O_NONBLOCK) == -1)
		err(TM_EXIT_FAIL, "%s", r->outname);
}

int
main(int argc, char **argv)
{
	struct relay *r;
	struct opts o;
	struct rec rec;
	const char *outname;
	char msg[600];
	sigset_t mask;
	struct stat sb;
	int fd, sfd, i, st;

	tm_setprogname(argv, "tcpmon-relay");
	parse_opts(argc, argv, &o);
	if ((r = calloc(1, sizeof(*r))) == NULL ||
	    (r->loop = loop_new()) == NULL)
		err(TM_EXIT_FAIL, "init");
	r->out_room_again = out_room_again;
	r->out_lost = out_lost;
	if (o.print_ca) {
		/* The CA certificate and nothing else, for a trust store. */
		struct ca *ca = ca_open(o.tls.ca_dir, 1);

		ca_print(ca, stdout);
		ca_free(ca);
		exit(TM_EXIT_OK);
	}
	r->mitm = o.mitm;
	if (o.upstream != NULL)
		upstream_init(r, o.upstream);
	/* Certificates and keys are read before anything starts: one
	 * that cannot be used is bad usage, said at once. */
	if (o.tls_in || o.tls_out)
		tls_init(r, &o.tls, o.tls_in, o.tls_out);
	if (o.proxy && proxy_init(r) == -1)
		err(TM_EXIT_FAIL, "init");
	r->max_conns = o.max_conns;
	r->connect_ms = o.connect_ms;
	r->idle_ms = o.idle_ms;
	r->head_ms = o.head_ms;
	r->verbose = o.verbose;
	r->quiet = o.quiet;
	r->lossy = o.lossy;
	snprintf(r->src, sizeof(r->src), "relay-%ld", (long)getpid());

	/* Before SIGPIPE is ignored and signals blocked: the terminal
	 * view's child must not inherit either. */
	r->tapfd = -1;
	fd = -1;
	/* A usage error, so said before anything listens: rotation renames
	 * and reopens a file, which a device or a FIFO is not. */
	if (o.out != NULL && (o.rot.size || o.rot.ms) &&
	    stat(o.out, &sb) == 0 && !S_ISREG(sb.st_mode))
		errx(TM_EXIT_USAGE, "--rotate-*: %s is not a regular file",
		    o.out);
	outname = o.out;
	if (o.out == NULL)
		fd = open_output(r, &outname);
	signal(SIGPIPE, SIG_IGN);
	/* A capture larger than RLIMIT_FSIZE is a write error (EFBIG), not
	 * a death without close records. */
	signal(SIGXFSZ, SIG_IGN);
	raise_nofile(r);
	/* Stages first: they do not inherit the listeners, and the relay
	 * listens only once its data path is whole. */
	if (o.nthrough > 0) {
		stage_start(r, o.through, o.nthrough, o.stage_ms);
		stage_ready(r);
	}
	open_listeners(r, &o);
	if (o.tap != NULL)
		check_tap_dir(o.tap);
	if (o.tap != NULL && tap_open(r, o.tap) == -1)
		err(TM_EXIT_FAIL, "--tap %s", o.tap);
	if (o.out != NULL && (fd = capture_open(o.out, msg,
	    sizeof(msg))) == -1)
		errx(TM_EXIT_FAIL, "%s", msg);
	if (out_init(r, fd, outname) == -1)
		err(TM_EXIT_FAIL, "init");
	set_output_nonblock(r);
	if (o.out != NULL && r->out.sync) {
		/* Rotation and SIGHUP are for a file (not a FIFO or a
		 * device given as -o). */
		r->outpath = o.out;
		r->rot = o.rot;
		r->cap_opened = tm_mono_ms();
	}

	/* Every signal whose default would end the relay ends it as SIGTERM
	 * does: with a close record for each connection and a whole
	 * stream.  (SIGQUIT keeps its core dump, for debugging.) */
	sigemptyset(&mask);
	for (i = 0; i < (int)(sizeof(stop_signals) / sizeof(stop_signals[0]));
	    i++)
		sigaddset(&mask, stop_signals[i]);
	for (i = SIGRTMIN; i <= SIGRTMAX; i++)
		sigaddset(&mask, i);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	if ((sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC)) == -1 ||
	    loop_add(r->loop, sfd, LOOP_READ, on_signal, r) == -1)
		err(TM_EXIT_FAIL, "signalfd");
	for (i = 0; i < r->nl; i++)
		if (loop_add(r->loop, r->l[i].fd, LOOP_READ, listener_event,
		    &r->l[i]) == -1)
			err(TM_EXIT_FAIL, "epoll");
	loop_every(r->loop, SWEEP_MS, on_tick, r);
	loop_after(r->loop, out_flush, r);

	relay_stream_rec(r, &rec);
	relay_put(r, &rec, NULL, 0);
	out_flush(r->loop, r);

	for (i = 0; i < r->nl; i++)
		if (!r->quiet)
			fprintf(stderr, "tcpmon-relay: listening on %s\n",
			    r->l[i].text);
	if (r->tapfd != -1 && !r->quiet)
		fprintf(stderr, "tcpmon-relay: viewers attach to unix:%s\n",
		    r->tappath);

	if (loop_run(r->loop) == -1)
		err(TM_EXIT_FAIL, "epoll_wait");

	/* Stopped by a signal (or a failed stage): every open connection
	 * gets its close record, so the capture is complete.  A reader
	 * that takes nothing for EXIT_STALL_MS is not waited for longer:
	 * the relay ends, saying how much it could not write. */
	r->out.stall_ms = EXIT_STALL_MS;
	close_listeners(r);
	proxy_stop_all(r);
	conn_stop_all(r);
	stage_stop(r);
	out_finish(r);
	if (r->outpath != NULL)
		capture_finish(r);
	if (!r->out.sync)
		(void)fcntl(fd, F_SETFL, r->out_fl);
	/* r->out.fd: rotation and SIGHUP change it. */
	if (r->out.fd != STDOUT_FILENO && close(r->out.fd) == -1)
		err(TM_EXIT_FAIL, "%s", outname);
	if (r->view_pid > 0)
		while (waitpid(r->view_pid, &st, 0) == -1 && errno == EINTR)
			;
	close(sfd);
	proxy_free(r);
	pool_free(r);
	sp_free(r);
	tls_finish(r);
	loop_free(r->loop);
	st = r->status;
	free(r);
	return st;
}
