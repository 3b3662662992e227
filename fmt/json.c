/* json.c - tcpmon-fmt-json: the record filter with the JSON formatter. */
#include "filter.h"
#include "jsonfmt.h"

static int
starts(int c)
{
	return c == '{' || c == '[';
}

static const struct fmt_kind json = {
	"tcpmon-fmt-json", "json", "JSON", 0, jsonfmt_media, starts,
	jsonfmt_format, jsonfmt_frame_init, jsonfmt_frame
};

int
main(int argc, char **argv)
{
	return fmt_main(argc, argv, &json);
}
