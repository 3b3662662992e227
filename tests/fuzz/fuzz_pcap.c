/* fuzz_pcap.c - libFuzzer target: tcpmon-pcap's TCP reassembly (and its
 * frame decoder) on packets made from fuzz bytes, without libpcap.  The
 * first byte picks the way in: raw frames of a link type (decode.c, then
 * the reassembly), or segments built from a few fields each, on two 4-tuples
 * with small sequence numbers so that they overlap, reorder and leave gaps
 * often.  The buffer is small so that giving up held bytes happens too. */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pcapconv.h"
#include "record.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const int links[] = { LT_NULL, LT_ETHERNET, LT_RAW, LT_LOOP,
    LT_LINUX_SLL, LT_IPV4, LT_IPV6, LT_LINUX_SLL2 };

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	static uint8_t payload[1024];
	static int devnull = -1;
	struct rec_writer w;
	struct reasm *r;
	struct pkt k;
	size_t i, len;
	int64_t t = 1000000;

	if (n < 1)
		return 0;
	if (devnull == -1) {
		devnull = open("/dev/null", O_WRONLY);
		for (i = 0; i < sizeof(payload); i++)
			payload[i] = (uint8_t)i;
	}
	if (recw_init(&w, devnull) == -1)
		return 0;
	if ((r = reasm_new(&w, "fuzz", 4096)) == NULL)
		abort();
	if (data[0] & 1) {
		/* Frames: a link type, a 2-byte length, the frame. */
		int lt = links[(data[0] >> 1) % 8];

		i = 1;
		while (i + 2 <= n) {
			len = (size_t)data[i] << 8 | data[i + 1];
			i += 2;
			if (len > n - i)
				len = n - i;
			memset(&k, 0, sizeof(k));
			if (pkt_decode(lt, data + i, len, &k) == 0) {
				if (k.data < data + i || k.data + k.len >
				    data + i + len)
					abort();
				k.usec = t++;
				reasm_packet(r, &k);
			}
			i += len;
		}
	} else {
		/* Segments of 8 bytes: side and tuple, flags, seq, ack,
		 * length. */
		for (i = 1; i + 8 <= n; i += 8) {
			const uint8_t *s = data + i;
			int side = s[0] & 1, tuple = (s[0] >> 1) & 1;

			memset(&k, 0, sizeof(k));
			k.v6 = (s[0] >> 2) & 1;
			k.src[0] = k.dst[0] = 10;
			k.src[3] = (uint8_t)(side ? 2 : 1);
			k.dst[3] = (uint8_t)(side ? 1 : 2);
			k.sport = (uint16_t)(side ? 80 : 40000 + tuple);
			k.dport = (uint16_t)(side ? 40000 + tuple : 80);
			k.flags = s[1];
			k.seq = (uint32_t)(s[2] << 8 | s[3]) +
			    ((s[0] & 0x80) ? 0xffff0000u : 0);
			k.ack = (uint32_t)(s[4] << 8 | s[5]);
			len = (size_t)(s[6] << 8 | s[7]) % sizeof(payload);
			k.data = payload;
			k.len = len;
			k.usec = t++;
			reasm_packet(r, &k);
		}
	}
	reasm_finish(r, t);
	reasm_free(r);
	recw_free(&w);
	return 0;
}
