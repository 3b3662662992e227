/* show.c - renders records as a conversation: who connected where, what
 * each side said (text as text, anything else as a hex dump), how it ended. */
#include <string.h>

#include "show.h"
#include "util.h"

void
show_init(struct show *s, FILE *out)
{
	memset(s, 0, sizeof(*s));
	s->out = out;
}

/* UTF-8 sequences are checked for shape only: the point is to spare a
 * person the hex dump of what a terminal would print correctly. */
int
show_is_text(const unsigned char *p, size_t n)
{
	size_t i = 0, k, need;

	while (i < n) {
		if (p[i] < 0x80) {
			if (p[i] < 0x20 && p[i] != '\t' && p[i] != '\r' &&
			    p[i] != '\n')
				return 0;
			if (p[i] == 0x7f)
				return 0;
			i++;
			continue;
		}
		if ((p[i] & 0xe0) == 0xc0 && p[i] >= 0xc2)
			need = 1;
		else if ((p[i] & 0xf0) == 0xe0)
			need = 2;
		else if ((p[i] & 0xf8) == 0xf0 && p[i] <= 0xf4)
			need = 3;
		else
			return 0;
		/* A sequence cut at a record boundary is still text. */
		for (k = 1; k <= need && i + k < n; k++)
			if ((p[i + k] & 0xc0) != 0x80)
				return 0;
		i += need + 1;
	}
	return 1;
}

void
show_hexdump(FILE *out, const unsigned char *p, size_t n)
{
	size_t off, i;

	for (off = 0; off < n; off += 16) {
		fprintf(out, "  %08zx  ", off);
		for (i = 0; i < 16; i++) {
			if (off + i < n)
				fprintf(out, "%02x ", p[off + i]);
			else
				fputs("   ", out);
			if (i == 7)
				fputc(' ', out);
		}
		fputs(" |", out);
		for (i = 0; i < 16 && off + i < n; i++)
			fputc(p[off + i] >= 0x20 && p[off + i] < 0x7f ?
			    p[off + i] : '.', out);
		fputs("|\n", out);
	}
}

static void
show_text(FILE *out, const unsigned char *p, size_t n)
{
	size_t i;

	/* CR LF shown as a line end; a lone CR stays visible as is. */
	for (i = 0; i < n; i++) {
		if (p[i] == '\r' && i + 1 < n && p[i + 1] == '\n')
			continue;
		fputc(p[i], out);
	}
	if (n > 0 && p[n - 1] != '\n')
		fputc('\n', out);
}

static void
label(struct show *s, const struct rec *r)
{
	char t[TM_TIME_LEN];
	const char *src = r->src != NULL ? r->src : "";

	if (!s->have_src0) {
		snprintf(s->src0, sizeof(s->src0), "%s", src);
		s->have_src0 = 1;
	}
	if (r->usec >= 0) {
		tm_fmt_time(r->usec, t, sizeof(t));
		/* The date is in the open line; each event shows the
		 * time of day: "10:00:00.123456". */
		fprintf(s->out, "%.15s ", t + 11);
	}
	if (strcmp(src, s->src0) != 0)
		fprintf(s->out, "[%s #%llu] ", src, (unsigned long long)r->conn);
	else
		fprintf(s->out, "[#%llu] ", (unsigned long long)r->conn);
}

static const char *
get(const struct rec *r, const char *k)
{
	const char *v = rec_get(r, k);

	return v != NULL ? v : "?";
}

void
show_record(struct show *s, const struct rec *r)
{
	FILE *out = s->out;
	char t[TM_TIME_LEN];
	const char *v;

	switch (r->type) {
	case REC_STREAM:
		if (r->usec >= 0)
			tm_fmt_time(r->usec, t, sizeof(t));
		else
			strcpy(t, "?");
		fprintf(out, "=== %s %s, started %s (source %s)\n",
		    get(r, "tool"), get(r, "version"), t,
		    r->src != NULL ? r->src : "?");
		return;
	case REC_OPEN:
		if (r->usec >= 0)
			fprintf(out, "\n%.10s ", tm_fmt_time(r->usec, t,
			    sizeof(t)));
		label(s, r);
		fprintf(out, "open %s -> %s", get(r, "client"),
		    get(r, "target"));
		if ((v = rec_get(r, "listen")) != NULL)
			fprintf(out, " (via %s)", v);
		fputc('\n', out);
		return;
	case REC_DATA:
		label(s, r);
		fprintf(out, "%s %zu bytes%s%s\n", r->dir == REC_C2S ?
		    ">>> client to server," : r->dir == REC_S2C ?
		    "<<< server to client," : "data,", r->len,
		    rec_get(r, "xform") != NULL ? ", reformatted: " : "",
		    rec_get(r, "xform") != NULL ? rec_get(r, "xform") : "");
		if (show_is_text(r->data, r->len))
			show_text(out, r->data, r->len);
		else
			show_hexdump(out, r->data, r->len);
		return;
	case REC_SHUTDOWN:
		label(s, r);
		fprintf(out, "--- %s closed its sending side\n",
		    r->dir == REC_C2S ? "client" : r->dir == REC_S2C ?
		    "server" : "one side");
		return;
	case REC_CLOSE:
		label(s, r);
		fprintf(out, "close: %s", get(r, "reason"));
		if ((v = rec_get(r, "by")) != NULL)
			fprintf(out, " by the %s", v);
		if ((v = rec_get(r, "error")) != NULL)
			fprintf(out, " (%s)", v);
		fprintf(out, "; %s bytes up, %s bytes down\n", get(r, "c2s"),
		    get(r, "s2c"));
		return;
	case REC_NOTE:
		label(s, r);
		fprintf(out, "note: ");
		show_text(out, r->data, r->len);
		return;
	case REC_UNKNOWN:
		break;
	}
	label(s, r);
	fprintf(out, "%s record, %zu bytes\n", r->kind, r->len);
}
