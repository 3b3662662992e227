/* xml.c - tcpmon-fmt-xml: the record filter with the XML formatter. */
#include "filter.h"
#include "xmlfmt.h"

static int
starts(int c)
{
	return c == '<';
}

static const struct fmt_kind xml = {
	"tcpmon-fmt-xml", "xml", "XML", 1, xmlfmt_media, starts,
	xmlfmt_format, xmlfmt_frame_init, xmlfmt_frame
};

int
main(int argc, char **argv)
{
	return fmt_main(argc, argv, &xml);
}
