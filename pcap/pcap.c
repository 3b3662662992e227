/* pcap.c - tcpmon-pcap: records to pcapng or pcap (-w), and pcap or pcapng
 * captures back to records (-r), so that tcpdump, Wireshark and tshark
 * and the tcpmon tools read each other's captures.  Options here; the two
 * ways in topcap.c and frompcap.c. */
#include <err.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pcapconv.h"
#include "util.h"

static void __attribute__((noreturn))
usage(int status)
{
	fprintf(status ? stderr : stdout,
	    "usage: tcpmon-pcap -w OUT [--format pcapng | pcap] [CAPTURE ...]\n"
	    "       tcpmon-pcap -r FILE [--src TAG] [--buffer BYTES] "
	    "[FILTER ...]\n");
	if (status == TM_EXIT_OK)
		printf(
		    "\n"
		    "  -w, --write OUT           write records as a capture to OUT (- for stdout)\n"
		    "      --format FORMAT       with -w: pcapng (the default) or pcap\n"
		    "  -r, --read FILE           read a pcap or pcapng capture (- for stdin)\n"
		    "      --src TAG             with -r: the records' src (default pcap-BASENAME)\n"
		    "      --buffer BYTES        with -r: early bytes held per direction (default 4m)\n"
		    "  -h, --help                print this help and exit\n"
		    "      --version             print the version and exit\n"
		    "\n"
		    "With -w, CAPTURE files of records (none: stdin); with -r, FILTER is a\n"
		    "BPF expression as tcpdump takes it.\n"
		    "\n"
		    "See tcpmon-pcap(1).\n");
	exit(status);
}

enum { OPT_FORMAT = 256, OPT_SRC, OPT_BUFFER, OPT_VERSION };

static const struct option longopts[] = {
	{ "buffer",	required_argument, NULL, OPT_BUFFER },
	{ "format",	required_argument, NULL, OPT_FORMAT },
	{ "help",	no_argument,	   NULL, 'h' },
	{ "read",	required_argument, NULL, 'r' },
	{ "src",	required_argument, NULL, OPT_SRC },
	{ "version",	no_argument,	   NULL, OPT_VERSION },
	{ "write",	required_argument, NULL, 'w' },
	{ NULL,		0,		   NULL, 0 }
};

static void
parse_opts(int argc, char **argv, struct pcap_opts *o)
{
	size_t len;
	int ch, i, has_format = 0, has_read_opt = 0;

	memset(o, 0, sizeof(*o));
	o->pcapng = 1;
	o->buffer = 4 * 1024 * 1024;
	if (argc == 2 && strcmp(argv[1], TM_LIST_OPTIONS) == 0)
		exit(tm_list_options(STDOUT_FILENO, longopts));
	while ((ch = getopt_long(argc, argv, "hr:w:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'w':
			o->write = optarg;
			break;
		case 'r':
			o->read = optarg;
			break;
		case OPT_FORMAT:
			if (strcmp(optarg, "pcapng") == 0)
				o->pcapng = 1;
			else if (strcmp(optarg, "pcap") == 0)
				o->pcapng = 0;
			else
				errx(TM_EXIT_USAGE, "--format %s: pcapng or "
				    "pcap", optarg);
			has_format = 1;
			break;
		case OPT_SRC:
			if (optarg[0] == '\0')
				errx(TM_EXIT_USAGE, "--src: empty");
			o->src = optarg;
			has_read_opt = 1;
			break;
		case OPT_BUFFER:
			o->buffer = (size_t)opt_num("--buffer", optarg, 4096,
			    (uint64_t)1 << 30, NULL);
			has_read_opt = 1;
			break;
		case 'h':
			usage(TM_EXIT_OK);
		case OPT_VERSION:
			printf("tcpmon-pcap %s\n", TCPMON_VERSION);
			exit(TM_EXIT_OK);
		default:
			usage(TM_EXIT_USAGE);
		}
	}
	argc -= optind;
	argv += optind;
	if ((o->write == NULL) == (o->read == NULL)) {
		warnx("one of -w OUT and -r FILE");
		usage(TM_EXIT_USAGE);
	}
	if (o->write != NULL && has_read_opt)
		errx(TM_EXIT_USAGE, "--src and --buffer go with -r");
	if (o->read != NULL && has_format)
		errx(TM_EXIT_USAGE, "--format goes with -w");
	if (o->write != NULL) {
		o->inputs = argv;
		o->ninputs = argc;
		return;
	}
	/* The filter's words joined, as tcpdump does. */
	for (i = 0, len = 0; i < argc; i++)
		len += strlen(argv[i]) + 1;
	if (argc > 0) {
		if ((o->filter = malloc(len)) == NULL)
			err(TM_EXIT_FAIL, "out of memory");
		o->filter[0] = '\0';
		for (i = 0; i < argc; i++) {
			if (i > 0)
				strcat(o->filter, " ");
			strcat(o->filter, argv[i]);
		}
	}
}

int
main(int argc, char **argv)
{
	struct pcap_opts o;
	int status;

	tm_setprogname(argv, "tcpmon-pcap");
	parse_opts(argc, argv, &o);
	status = o.write != NULL ? topcap_run(&o) : frompcap_run(&o);
	free(o.filter);
	return status;
}
