/* fault.c - a SOAP Fault in a body: a tag whose local name is Fault, such
 * as <soap:Fault>, <env:Fault xmlns:env=...> or </Fault>.  Only tags are
 * looked at, so the word in text does not count; what is in a comment or
 * CDATA may, which costs a wrong colour at worst. */
#include <string.h>

#include "fault.h"

enum { TEXT, LT, NAME };

void
fault_init(struct fault *f)
{
	memset(f, 0, sizeof(*f));
}

static int
namec(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
	    c >= 0x80;
}

int
fault_feed(struct fault *f, const unsigned char *p, size_t n)
{
	size_t i;
	unsigned char c;

	for (i = 0; i < n && !f->found && f->seen < FAULT_SCAN; i++) {
		c = p[i];
		f->seen++;
		switch (f->state) {
		case LT:
			f->nlen = 0;
			if (c == '/')
				f->state = NAME;
			else if (namec(c)) {
				f->name[f->nlen++] = c;
				f->state = NAME;
			} else
				f->state = c == '<' ? LT : TEXT;
			break;
		case NAME:
			if (c == ':') {
				f->nlen = 0;	/* the prefix: the local
						 * name starts again */
				break;
			}
			if (namec(c)) {
				if (f->nlen < sizeof(f->name))
					f->name[f->nlen] = c;
				if (f->nlen <= sizeof(f->name))
					f->nlen++;	/* stops past 5 */
				break;
			}
			if ((c == '>' || c == '/' || c == ' ' || c == '\t' ||
			    c == '\r' || c == '\n') && f->nlen == 5 &&
			    memcmp(f->name, "Fault", 5) == 0)
				f->found = 1;
			f->state = c == '<' ? LT : TEXT;
			break;
		default:
			if (c == '<')
				f->state = LT;
			break;
		}
	}
	return f->found;
}
