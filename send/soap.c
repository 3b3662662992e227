/* soap.c - what libxml2 tells us about a body: well-formed or not (with its
 * message), which SOAP envelope it is, and whether an answer is a Fault. */
#include <stdio.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>

#include "send.h"

#define NS_SOAP11 "http://schemas.xmlsoap.org/soap/envelope/"
#define NS_SOAP12 "http://www.w3.org/2003/05/soap-envelope"

/* libxml2 prints its errors on stderr unless told otherwise.  The first
 * error is the one that names the mistake (the last is often only
 * "Premature end of data"), so that is the one kept. */
static char first_err[512];

static void
keep_first(void *ctx, xmlErrorPtr e)
{
	size_t l;

	(void)ctx;
	if (first_err[0] != '\0' || e == NULL || e->message == NULL)
		return;
	snprintf(first_err, sizeof(first_err), "line %d: %s", e->line,
	    e->message);
	l = strlen(first_err);
	while (l > 0 && first_err[l - 1] == '\n')
		first_err[--l] = '\0';
}

static xmlDocPtr
parse(const unsigned char *p, size_t n)
{
	xmlStructuredErrorFunc prev = xmlStructuredError;
	void *prevctx = xmlStructuredErrorContext;
	xmlDocPtr doc;

	first_err[0] = '\0';
	if (n > (size_t)0x7fffffff)
		return NULL;
	/* The first error is kept for the message; the handler is ours only
	 * for this parse (the formatting cores set theirs for theirs). */
	xmlSetStructuredErrorFunc(NULL, keep_first);
	/* No network and no entity substitution: a body is data, never a
	 * reason to fetch or expand anything. */
	doc = xmlReadMemory((const char *)p, (int)n, "body", NULL,
	    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	xmlSetStructuredErrorFunc(prevctx, prev);
	return doc;
}

static int
is(const xmlNode *n, const char *name)
{
	return n != NULL && n->type == XML_ELEMENT_NODE && n->ns != NULL &&
	    strcmp((const char *)n->name, name) == 0 &&
	    (strcmp((const char *)n->ns->href, NS_SOAP11) == 0 ||
	    strcmp((const char *)n->ns->href, NS_SOAP12) == 0);
}

static int
version_of(const xmlNode *n)
{
	if (!is(n, "Envelope"))
		return SOAP_NONE;
	return strcmp((const char *)n->ns->href, NS_SOAP11) == 0 ? SOAP_11 :
	    SOAP_12;
}

int
xml_check(const unsigned char *p, size_t n, int *version, char *msg,
    size_t msglen)
{
	xmlDocPtr doc;

	*version = SOAP_NONE;
	if ((doc = parse(p, n)) == NULL) {
		snprintf(msg, msglen, "%s", first_err[0] != '\0' ? first_err :
		    "not well-formed XML");
		return -1;
	}
	*version = version_of(xmlDocGetRootElement(doc));
	xmlFreeDoc(doc);
	return 0;
}

static const xmlNode *
child(const xmlNode *n, const char *name, int soapns)
{
	const xmlNode *c;

	if (n == NULL)
		return NULL;
	for (c = n->children; c != NULL; c = c->next) {
		if (c->type != XML_ELEMENT_NODE)
			continue;
		if (soapns ? is(c, name) :
		    strcmp((const char *)c->name, name) == 0)
			return c;
	}
	return NULL;
}

/* The text of an element, trimmed, into buf. */
static void
text_of(const xmlNode *n, char *buf, size_t len)
{
	xmlChar *t;
	const char *s;
	size_t l;

	buf[0] = '\0';
	if (n == NULL || (t = xmlNodeGetContent(n)) == NULL)
		return;
	for (s = (const char *)t; *s == ' ' || *s == '\n' || *s == '\t' ||
	    *s == '\r'; s++)
		;
	snprintf(buf, len, "%s", s);
	l = strlen(buf);
	while (l > 0 && strchr(" \n\t\r", buf[l - 1]) != NULL)
		buf[--l] = '\0';
	xmlFree(t);
}

int
soap_fault(const unsigned char *p, size_t n, char *msg, size_t msglen)
{
	const xmlNode *env, *f;
	char code[256], text[512];
	xmlDocPtr doc;
	int v;

	if ((doc = parse(p, n)) == NULL)
		return 0;
	env = xmlDocGetRootElement(doc);
	v = version_of(env);
	f = child(child(env, "Body", 1), "Fault", 1);
	if (f == NULL) {
		xmlFreeDoc(doc);
		return 0;
	}
	if (v == SOAP_11) {
		text_of(child(f, "faultcode", 0), code, sizeof(code));
		text_of(child(f, "faultstring", 0), text, sizeof(text));
	} else {
		text_of(child(child(f, "Code", 1), "Value", 1), code,
		    sizeof(code));
		text_of(child(child(f, "Reason", 1), "Text", 1), text,
		    sizeof(text));
	}
	snprintf(msg, msglen, "%s%s%s", code, code[0] && text[0] ? ": " : "",
	    text);
	xmlFreeDoc(doc);
	return 1;
}

void
xml_done(void)
{
	xmlCleanupParser();
}
