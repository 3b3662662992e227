/* frompcap.c - tcpmon-pcap -r: a pcap or pcapng file through libpcap, an
 * optional BPF filter, each frame to decode.c and each TCP segment to the
 * reassembly. */
#include <err.h>
#include <errno.h>
#include <libgen.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pcapconv.h"
#include "util.h"

int
frompcap_run(const struct pcap_opts *o)
{
	char ebuf[PCAP_ERRBUF_SIZE], src[256], *base, *copy;
	const char *name = strcmp(o->read, "-") == 0 ? "stdin" : o->read;
	struct bpf_program prog;
	struct pcap_pkthdr *ph;
	const u_char *frame;
	struct rec_writer w;
	struct reasm *r;
	struct pkt k;
	pcap_t *p;
	int64_t last = -1, t;
	int lt, rc, status = TM_EXIT_OK;

	/* A file we cannot open is bad input, as one that is not a capture
	 * is; access(2) gives the message the cause libpcap's text lacks. */
	if (strcmp(o->read, "-") != 0 && access(o->read, R_OK) == -1) {
		warn("%s", name);
		return TM_EXIT_USAGE;
	}
	ebuf[0] = '\0';
	if ((p = pcap_open_offline_with_tstamp_precision(o->read,
	    PCAP_TSTAMP_PRECISION_MICRO, ebuf)) == NULL) {
		warnx("%s: %s", name, ebuf);
		return TM_EXIT_USAGE;
	}
	lt = pcap_datalink(p);
	if (!pkt_linktype_known(lt)) {
		warnx("%s: link type %s (%d) is not read: Ethernet, Linux "
		    "cooked (SLL, SLL2), raw IP and loopback are", name,
		    pcap_datalink_val_to_name(lt) ? pcap_datalink_val_to_name(lt)
		    : "unknown", lt);
		pcap_close(p);
		return TM_EXIT_USAGE;
	}
	if (o->filter != NULL) {
		if (pcap_compile(p, &prog, o->filter, 1,
		    PCAP_NETMASK_UNKNOWN) == -1) {
			warnx("filter %s: %s", o->filter, pcap_geterr(p));
			pcap_close(p);
			return TM_EXIT_USAGE;
		}
		if (pcap_setfilter(p, &prog) == -1) {
			warnx("filter %s: %s", o->filter, pcap_geterr(p));
			pcap_freecode(&prog);
			pcap_close(p);
			return TM_EXIT_USAGE;
		}
		pcap_freecode(&prog);
	}
	if (o->src != NULL)
		snprintf(src, sizeof(src), "%s", o->src);
	else {
		if ((copy = strdup(name)) == NULL)
			err(TM_EXIT_FAIL, "strdup");
		base = basename(copy);
		snprintf(src, sizeof(src), "pcap-%s", base);
		free(copy);
	}
	if (recw_init(&w, STDOUT_FILENO) == -1 ||
	    (r = reasm_new(&w, src, o->buffer)) == NULL)
		err(TM_EXIT_FAIL, "out of memory");
	while ((rc = pcap_next_ex(p, &ph, &frame)) >= 0) {
		if (rc == 0)
			continue;
		t = (int64_t)ph->ts.tv_sec * 1000000 + ph->ts.tv_usec;
		if (t < 0)
			t = 0;
		last = t;
		reasm_start(r, t);
		if (pkt_decode(lt, frame, ph->caplen, &k) == 0) {
			k.usec = t;
			reasm_packet(r, &k);
		}
		if (w.error != 0)
			break;
	}
	if (rc == PCAP_ERROR) {
		/* A file cut in the middle of a packet: what came before
		 * is written, the connections left as they are. */
		warnx("%s: %s", name, pcap_geterr(p));
		status = TM_EXIT_USAGE;
	} else if (w.error == 0)
		reasm_finish(r, last >= 0 ? last : tm_now_us());
	recw_flush(&w);
	if (w.error != 0) {
		errno = w.error;
		warn("write stdout");
		status = TM_EXIT_FAIL;
	}
	reasm_free(r);
	recw_free(&w);
	pcap_close(p);
	return status;
}
