/* xmlfmt.c - XML formatting with libxml2: parse into a tree without
 * touching anything outside the document, then save it with indentation. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <libxml/parser.h>
#include <libxml/xmlerror.h>
#include <libxml/xmlsave.h>

#include "xmlfmt.h"

int
xmlfmt_media(const char *ct)
{
	return fmt_media(ct, "text/xml") || fmt_media(ct, "application/xml") ||
	    fmt_media(ct, "+xml");
}

/* The external entity loader: nothing is ever loaded, whatever the parser
 * options say.  NONET and leaving out NOENT/DTDLOAD already stop it; this
 * is the second lock on the same door. */
static xmlParserInputPtr
no_loader(const char *url, const char *id, xmlParserCtxtPtr ctxt)
{
	(void)url;
	(void)id;
	(void)ctxt;
	return NULL;
}

/* Keeps the first error: later ones usually follow from it. */
static void
on_error(void *arg, xmlErrorPtr e)
{
	struct fmt_err *err = arg;
	size_t n;

	if (e == NULL || e->level < XML_ERR_ERROR || err->msg[0] != '\0')
		return;
	snprintf(err->msg, sizeof(err->msg), "%s",
	    e->message != NULL ? e->message : "XML error");
	n = strlen(err->msg);
	while (n > 0 && (err->msg[n - 1] == '\n' || err->msg[n - 1] == ' '))
		err->msg[--n] = '\0';
	err->line = e->line;
}

static int
out_write(void *arg, const char *p, int n)
{
	return fmt_buf_add(arg, p, (size_t)n) == -1 ? -1 : n;
}

/* The bytes of "<?xml ...?>" at p, or 0 if there is no declaration. */
static size_t
decl_len(const unsigned char *p, size_t n)
{
	size_t i;

	if (n < 6 || memcmp(p, "<?xml", 5) != 0 || !FMT_IS_WS(p[5]))
		return 0;
	for (i = 6; i + 1 < n; i++)
		if (p[i] == '?' && p[i + 1] == '>')
			return i + 2;
	return 0;
}

/* The bytes of the DOCTYPE declaration in the prolog, found past the
 * comments and processing instructions before it; 0 if none. */
static size_t
doctype_span(const unsigned char *p, size_t n, size_t *at)
{
	const unsigned char *q;
	size_t i = 0, sub = 0, end;
	int quote = 0;

	for (;;) {
		while (i < n && (FMT_IS_WS(p[i]) || p[i] == 0xef ||
		    p[i] == 0xbb || p[i] == 0xbf))
			i++;
		/* Past the whole terminator: found by fuzzing, stopping on
		 * the '>' of "-->" lost the DOCTYPE after a comment. */
		if (n - i >= 4 && memcmp(p + i, "<!--", 4) == 0) {
			q = memmem(p + i + 4, n - i - 4, "-->", 3);
			end = 3;
		} else if (n - i >= 2 && memcmp(p + i, "<?", 2) == 0) {
			q = memmem(p + i + 2, n - i - 2, "?>", 2);
			end = 2;
		} else
			break;
		if (q == NULL)
			return 0;
		i = (size_t)(q - p) + end;
	}
	if (n - i < 9 || memcmp(p + i, "<!DOCTYPE", 9) != 0)
		return 0;
	*at = i;
	for (; i < n; i++) {
		if (quote != 0) {
			if (p[i] == quote)
				quote = 0;
		} else if (sub > 0 && n - i >= 4 &&
		    memcmp(p + i, "<!--", 4) == 0) {
			/* A comment in the internal subset may hold quotes
			 * and brackets of its own. */
			if ((q = memmem(p + i + 4, n - i - 4, "-->", 3)) == NULL)
				return 0;
			i = (size_t)(q - p) + 2;
		} else if (sub > 0 && n - i >= 2 &&
		    memcmp(p + i, "<?", 2) == 0) {
			if ((q = memmem(p + i + 2, n - i - 2, "?>", 2)) == NULL)
				return 0;
			i = (size_t)(q - p) + 1;
		} else if (p[i] == '"' || p[i] == '\'')
			quote = p[i];
		else if (p[i] == '[')
			sub++;
		else if (p[i] == ']' && sub > 0)
			sub--;
		else if (p[i] == '>' && sub == 0) {
			/* libxml2 reads an internal subset that comes right
			 * after the '>' too (<!DOCTYPE a>[...]>): found by
			 * fuzzing, where the subset was dropped and its
			 * entities with it. */
			if (i + 1 < n && p[i + 1] == '[')
				continue;
			return i + 1 - *at;
		}
	}
	return 0;
}

/* Saves the nodes of the document one by one; the DOCTYPE is copied as
 * it was written, because libxml2 does not keep all of an internal subset
 * (parameter entity references, comments).  Returns 0, -1 when the
 * output is over its limit, -2 when the DOCTYPE's bytes are not found. */
static int
save_children(xmlSaveCtxtPtr save, xmlDocPtr doc, const unsigned char *in,
    size_t n, struct fmt_buf *out)
{
	xmlNodePtr node;
	size_t at = 0, dn;

	for (node = doc->children; node != NULL; node = node->next) {
		if (node->type == XML_DTD_NODE) {
			/* Never drop it: its entities are used below. */
			if ((dn = doctype_span(in, n, &at)) == 0)
				return -2;
			if (xmlSaveFlush(save) == -1 ||
			    fmt_buf_add(out, in + at, dn) == -1)
				return -1;
		} else if (xmlSaveTree(save, node) == -1 ||
		    xmlSaveFlush(save) == -1)
			return -1;
		if (fmt_buf_addc(out, '\n') == -1)
			return -1;
	}
	return 0;
}

static void
set_err(struct fmt_err *err, const char *msg)
{
	if (err->msg[0] == '\0')
		snprintf(err->msg, sizeof(err->msg), "%s", msg);
}

/* Encodings where every ASCII byte stands for itself and each character
 * is written on its own: UTF-8 and the single-byte families. */
static int
safe_encoding(const char *enc)
{
	static const char *const ok[] = { "UTF-8", "UTF8", "US-ASCII",
	    "ASCII", "ISO-8859-", "ISO8859-", "ISO_8859-", "LATIN", "WINDOWS-125",
	    "CP125", "KOI8-" };
	size_t i;

	if (enc == NULL)
		return 1;	/* no declaration, no charset: UTF-8 */
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (strncasecmp(enc, ok[i], strlen(ok[i])) == 0)
			return 1;
	return 0;
}

int
xmlfmt_format(const unsigned char *in, size_t n, const struct fmt_opts *o,
    struct fmt_buf *out, struct fmt_err *err)
{
	static char indent[33];
	xmlParserCtxtPtr ctxt;
	xmlSaveCtxtPtr save;
	xmlDocPtr doc;
	const char *enc, *oldindent;
	/* libxml2's error handler is one per process: the caller's (a
	 * tool's own parse, as tcpmon-send's) comes back afterwards. */
	xmlStructuredErrorFunc prev = xmlStructuredError;
	void *prevctx = xmlStructuredErrorContext;
	size_t bom = 0, dl;
	int rc = -1, sopts;

	memset(err, 0, sizeof(*err));
	if (n > (size_t)INT32_MAX) {
		set_err(err, "document too large");
		return -1;
	}
	/* Only ASCII-compatible encodings: the declaration is copied as
	 * bytes, and a UTF-16 one cannot be. */
	if (n >= 2 && ((in[0] == 0xfe && in[1] == 0xff) ||
	    (in[0] == 0xff && in[1] == 0xfe) || in[0] == 0 || in[1] == 0)) {
		set_err(err, "UTF-16 and UTF-32 documents are not reformatted");
		return -1;
	}
	if (n >= 3 && in[0] == 0xef && in[1] == 0xbb && in[2] == 0xbf)
		bom = 3;
	xmlSetExternalEntityLoader(no_loader);
	xmlSetStructuredErrorFunc(err, on_error);
	if ((ctxt = xmlNewParserCtxt()) == NULL) {
		set_err(err, "out of memory");
		goto out;
	}
	/* No NOENT (entities stay references: no billion laughs, no XXE),
	 * no DTDLOAD or DTDATTR, no HUGE (libxml2's size and depth limits
	 * stay on).  NOBLANKS drops the white space between elements that
	 * the indentation replaces. */
	doc = xmlCtxtReadMemory(ctxt, (const char *)in, (int)n, NULL,
	    o->charset, XML_PARSE_NONET | XML_PARSE_NOBLANKS);
	if (doc == NULL || err->msg[0] != '\0' || !ctxt->wellFormed ||
	    !ctxt->nsWellFormed) {
		set_err(err, "not well-formed");
		if (doc != NULL)
			xmlFreeDoc(doc);
		goto out;
	}
	enc = doc->encoding != NULL ? (const char *)doc->encoding : o->charset;
	if (!safe_encoding(enc)) {
		/* Stateful and multi-byte encodings (UTF-7, ISO-2022-JP, ...)
		 * do not survive being written back piece by piece: found by
		 * fuzzing, a UTF-7 document came out cut short. */
		snprintf(err->msg, sizeof(err->msg), "documents in %s are not "
		    "reformatted", enc);
		xmlFreeDoc(doc);
		goto out;
	}
	dl = decl_len(in + bom, n - bom);
	if (fmt_buf_add(out, in, bom + dl) == -1 ||
	    (dl > 0 && fmt_buf_addc(out, '\n') == -1)) {
		set_err(err, "formatted document over the size limit");
		xmlFreeDoc(doc);
		goto out;
	}
	snprintf(indent, sizeof(indent), "%*s", o->indent > 32 ? 32 :
	    o->indent < 0 ? 0 : o->indent, "");
	oldindent = xmlTreeIndentString;
	xmlTreeIndentString = indent;
	sopts = XML_SAVE_NO_DECL | XML_SAVE_NO_XHTML |
	    (o->compact ? 0 : XML_SAVE_FORMAT);
	if ((save = xmlSaveToIO(out_write, NULL, out, enc, sopts)) == NULL)
		set_err(err, "cannot write the encoding of the document");
	else {
		rc = save_children(save, doc, in, n, out);
		/* Always closed: that frees the context. */
		if (xmlSaveClose(save) == -1 && rc == 0)
			rc = -1;
		if (rc == -2)
			set_err(err, "its DOCTYPE declaration could not be "
			    "copied as written");
		else if (rc == -1)
			set_err(err, "formatted document over the size limit");
		rc = rc < 0 ? -1 : 0;
	}
	xmlTreeIndentString = oldindent;
	xmlFreeDoc(doc);
out:
	if (ctxt != NULL)
		xmlFreeParserCtxt(ctxt);
	xmlSetStructuredErrorFunc(prevctx, prev);
	return rc;
}

enum {
	X_BOM, X_TEXT, X_LT, X_STAG, X_ETAG, X_PI, X_BANG, X_COMMENT,
	X_CDATA, X_DECL
};

void
xmlfmt_frame_init(struct fmt_frame *f)
{
	memset(f, 0, sizeof(*f));
	f->state = X_BOM;
}

static int
is_name_start(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
	    c == ':' || c >= 0x80;
}

/* Remembers the last two bytes, for "?>", "-->" and "]]>". */
static void
push(struct fmt_frame *f, int c)
{
	f->win[0] = f->win[1];
	f->win[1] = (char)c;
}

size_t
xmlfmt_frame(struct fmt_frame *f, const unsigned char *p, size_t n)
{
	static const char cdata[] = "[CDATA[";
	size_t i;
	int c, rc;

	for (i = 0; i < n && !f->done && !f->bad; i++) {
		c = p[i];
		switch (f->state) {
		case X_BOM:
			if ((rc = fmt_frame_bom(f, c)) == 1)
				break;
			if (rc == -1 || c != '<') {
				f->bad = 1;
				break;
			}
			f->state = X_LT;
			break;
		case X_TEXT:
			if (c == '<')
				f->state = X_LT;
			else if (f->depth == 0 && !FMT_IS_WS(c))
				f->bad = 1;
			break;
		case X_LT:
			f->win[0] = f->win[1] = 0;
			f->quote = 0;
			if (c == '/')
				f->state = X_ETAG;
			else if (c == '?')
				f->state = X_PI;
			else if (c == '!') {
				f->state = X_BANG;
				f->nwin = 0;
			} else if (is_name_start(c))
				f->state = X_STAG;
			else
				f->bad = 1;
			break;
		case X_STAG:
			if (f->quote != 0) {
				if (c == f->quote)
					f->quote = 0;
			} else if (c == '"' || c == '\'')
				f->quote = c;
			else if (c == '>') {
				f->root = 1;
				if (f->win[1] != '/')
					f->depth++;
				else if (f->depth == 0)
					f->done = 1;
				f->state = X_TEXT;
			}
			push(f, c);
			break;
		case X_ETAG:
			if (c != '>')
				break;
			if (f->depth == 0) {
				f->bad = 1;
				break;
			}
			if (--f->depth == 0)
				f->done = 1;
			f->state = X_TEXT;
			break;
		case X_PI:
			if (c == '>' && f->win[1] == '?')
				f->state = X_TEXT;
			push(f, c);
			break;
		case X_BANG:
			if (f->nwin < 2 && c == '-' && (f->nwin == 0 ||
			    f->win[0] == '-')) {
				f->win[f->nwin++] = (char)c;
				if (f->nwin == 2) {
					f->state = X_COMMENT;
					f->win[0] = f->win[1] = 0;
				}
			} else if (f->nwin < 7 && c == cdata[f->nwin] &&
			    (f->nwin == 0 || f->win[0] == '[')) {
				f->win[0] = '[';
				if (++f->nwin == 7) {
					f->state = X_CDATA;
					f->win[0] = f->win[1] = 0;
				}
			} else if (f->nwin == 0 && c >= 'A' && c <= 'Z') {
				f->state = X_DECL;
				f->sub = 0;
			} else
				f->bad = 1;
			break;
		case X_COMMENT:
			if (c == '>' && f->win[0] == '-' && f->win[1] == '-')
				f->state = X_TEXT;
			push(f, c);
			break;
		case X_CDATA:
			if (c == '>' && f->win[0] == ']' && f->win[1] == ']')
				f->state = X_TEXT;
			push(f, c);
			break;
		case X_DECL:
			if (f->quote != 0) {
				if (c == f->quote)
					f->quote = 0;
			} else if (c == '"' || c == '\'')
				f->quote = c;
			else if (c == '[')
				f->sub++;
			else if (c == ']' && f->sub > 0)
				f->sub--;
			else if (c == '>' && f->sub == 0)
				f->state = X_TEXT;
			break;
		}
	}
	return i;
}
