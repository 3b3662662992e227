/* cmp.c - the normal forms tcpmon-diff compares.  XML: parsed by libxml2
 * without the whitespace between elements, the volatile nodes removed (the
 * WS-Addressing MessageID and RelatesTo, the WS-Security Timestamp,
 * Created, Expires and Nonce, and each --ignore-xpath), then C14N.  JSON:
 * parsed by jansson, each --ignore-json path removed, dumped with sorted
 * keys.  Text: each --ignore-regex match removed.  A body that does not
 * parse as its type is compared as text. */
#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <jansson.h>
#include <libxml/c14n.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>
#include <pcre2.h>

#include "cmp.h"
#include "grow.h"
#include "util.h"

static const char *const volatile_xpath[] = {
	"//wsa:MessageID", "//wsa:RelatesTo", "//wsa4:MessageID",
	"//wsa4:RelatesTo", "//wsu:Timestamp", "//wsu:Created",
	"//wsu:Expires", "//wsse:Nonce", "//@wsu:Id",
};

static const char *const builtin_ns[][2] = {
	{ "wsa", "http://www.w3.org/2005/08/addressing" },
	{ "wsa4", "http://schemas.xmlsoap.org/ws/2004/08/addressing" },
	{ "wsu", "http://docs.oasis-open.org/wss/2004/01/"
	    "oasis-200401-wss-wssecurity-utility-1.0.xsd" },
	{ "wsse", "http://docs.oasis-open.org/wss/2004/01/"
	    "oasis-200401-wss-wssecurity-secext-1.0.xsd" },
};

static const char *const builtin_headers[] = {
	"Date", "Server", "Transfer-Encoding", "Connection", "Keep-Alive",
};

static void
quiet(void *ctx, const char *msg, ...)
{
	(void)ctx; (void)msg;
}

static char *
xstrndup(const void *p, size_t n)
{
	char *s;

	if ((s = malloc(n + 1)) == NULL)
		err(TM_EXIT_FAIL, "malloc");
	if (n > 0)
		memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

static void
ns_register(const struct cmp_opts *o, xmlXPathContextPtr ctx)
{
	size_t i;
	int k;

	for (i = 0; i < sizeof(builtin_ns) / sizeof(builtin_ns[0]); i++)
		xmlXPathRegisterNs(ctx, (const xmlChar *)builtin_ns[i][0],
		    (const xmlChar *)builtin_ns[i][1]);
	for (k = 0; k < o->nns; k++)
		xmlXPathRegisterNs(ctx, (const xmlChar *)o->ns_prefix[k],
		    (const xmlChar *)o->ns_uri[k]);
}

int
cmp_opt(struct cmp_opts *o, int ch, char *arg)
{
	char *eq;

	switch (ch) {
	case 'X':
		if (o->nxpath == CMP_MAX)
			errx(TM_EXIT_USAGE, "--ignore-xpath: at most %d", CMP_MAX);
		o->xpath[o->nxpath++] = arg;
		return 1;
	case 'J':
		if (o->njson == CMP_MAX)
			errx(TM_EXIT_USAGE, "--ignore-json: at most %d", CMP_MAX);
		o->json[o->njson++] = arg;
		return 1;
	case 'N':
		if ((eq = strchr(arg, '=')) == NULL || eq == arg ||
		    eq[1] == '\0')
			errx(TM_EXIT_USAGE, "--ns %s: use PREFIX=URI", arg);
		if (o->nns == CMP_MAX)
			errx(TM_EXIT_USAGE, "--ns: at most %d", CMP_MAX);
		*eq = '\0';
		o->ns_prefix[o->nns] = arg;
		o->ns_uri[o->nns++] = eq + 1;
		return 1;
	default:
		return 0;
	}
}

int
cmp_setup(struct cmp_opts *o, const char *const *regex, int nregex,
    char *why, size_t whylen)
{
	xmlXPathContextPtr ctx;
	xmlXPathCompExprPtr c;
	xmlDocPtr doc;
	PCRE2_UCHAR msg[256];
	PCRE2_SIZE off;
	int i, e;

	xmlSetGenericErrorFunc(NULL, quiet);
	/* An expression is checked against a document, so that an unbound
	 * prefix is found now rather than on the first body. */
	doc = xmlReadMemory("<x/>", 4, NULL, NULL, XML_PARSE_NONET);
	ctx = doc != NULL ? xmlXPathNewContext(doc) : NULL;
	if (ctx == NULL)
		err(TM_EXIT_FAIL, "libxml2");
	ns_register(o, ctx);
	for (i = 0; i < o->nxpath; i++) {
		xmlXPathObjectPtr r;

		c = xmlXPathCompile((const xmlChar *)o->xpath[i]);
		r = c != NULL ? xmlXPathCompiledEval(c, ctx) : NULL;
		xmlXPathFreeCompExpr(c);
		if (r == NULL) {
			snprintf(why, whylen, "--ignore-xpath %s: not a valid "
			    "XPath expression (or a prefix without --ns)",
			    o->xpath[i]);
			xmlXPathFreeContext(ctx);
			xmlFreeDoc(doc);
			return -1;
		}
		xmlXPathFreeObject(r);
	}
	xmlXPathFreeContext(ctx);
	xmlFreeDoc(doc);
	for (i = 0; i < nregex; i++) {
		if ((o->re[i] = pcre2_compile((PCRE2_SPTR)regex[i],
		    PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_MATCH_INVALID_UTF,
		    &e, &off, NULL)) == NULL) {
			pcre2_get_error_message(e, msg, sizeof(msg));
			snprintf(why, whylen, "--ignore-regex %s: %s at offset "
			    "%zu", regex[i], (char *)msg, (size_t)off);
			return -1;
		}
		o->nre = i + 1;
	}
	return 0;
}

void
cmp_free(struct cmp_opts *o)
{
	int i;

	for (i = 0; i < o->nre; i++)
		pcre2_code_free(o->re[i]);
	o->nre = 0;
}

int
cmp_ignored_header(const struct cmp_opts *o, const char *name)
{
	size_t i;
	int k;

	for (i = 0; i < sizeof(builtin_headers) / sizeof(builtin_headers[0]);
	    i++)
		if (strcasecmp(name, builtin_headers[i]) == 0)
			return 1;
	for (k = 0; k < o->nheader; k++)
		if (strcasecmp(name, o->header[k]) == 0)
			return 1;
	return 0;
}

static void
xml_prune(const struct cmp_opts *o, xmlDocPtr doc)
{
	xmlXPathContextPtr ctx;
	xmlXPathObjectPtr r;
	xmlNodePtr n;
	size_t i;
	int k, j;

	if ((ctx = xmlXPathNewContext(doc)) == NULL)
		err(TM_EXIT_FAIL, "libxml2");
	ns_register(o, ctx);
	for (i = 0; i < sizeof(volatile_xpath) / sizeof(volatile_xpath[0]) +
	    (size_t)o->nxpath; i++) {
		const char *x = i < sizeof(volatile_xpath) /
		    sizeof(volatile_xpath[0]) ? volatile_xpath[i] :
		    o->xpath[i - sizeof(volatile_xpath) /
		    sizeof(volatile_xpath[0])];

		if ((r = xmlXPathEvalExpression((const xmlChar *)x, ctx)) ==
		    NULL)
			continue;
		if (r->type == XPATH_NODESET && r->nodesetval != NULL) {
			/* Last first: a node's descendants go before it. */
			for (j = r->nodesetval->nodeNr - 1; j >= 0; j--) {
				n = r->nodesetval->nodeTab[j];
				if (n->type == XML_ATTRIBUTE_NODE)
					xmlRemoveProp((xmlAttrPtr)n);
				else if (n->type == XML_ELEMENT_NODE ||
				    n->type == XML_TEXT_NODE ||
				    n->type == XML_COMMENT_NODE) {
					xmlUnlinkNode(n);
					xmlFreeNode(n);
				}
				r->nodesetval->nodeTab[j] = NULL;
			}
		}
		xmlXPathFreeObject(r);
	}
	(void)k;
	xmlXPathFreeContext(ctx);
}

static int
xml_norm(const struct cmp_opts *o, const unsigned char *b, size_t n,
    struct norm *r, int show)
{
	xmlDocPtr doc;
	xmlChar *c = NULL, *s = NULL;
	int clen, slen;

	if (n > INT32_MAX || (doc = xmlReadMemory((const char *)b, (int)n,
	    NULL, NULL, XML_PARSE_NOBLANKS | XML_PARSE_NONET |
	    XML_PARSE_NOERROR | XML_PARSE_NOWARNING)) == NULL)
		return -1;
	xml_prune(o, doc);
	clen = xmlC14NDocDumpMemory(doc, NULL, XML_C14N_1_0, NULL, 0, &c);
	slen = 0;
	if (show)
		xmlDocDumpFormatMemory(doc, &s, &slen, 1);
	xmlFreeDoc(doc);
	if (clen < 0 || c == NULL || (show && s == NULL)) {
		xmlFree(c);
		xmlFree(s);
		return -1;
	}
	r->cmp = xstrndup(c, (size_t)clen);
	r->cmplen = (size_t)clen;
	r->show = show ? xstrndup(s, (size_t)slen) : NULL;
	r->showlen = (size_t)slen;
	xmlFree(c);
	xmlFree(s);
	return 0;
}

/* Removes the value at a dotted path ("a.b.0.c", "$." allowed first). */
static void
json_prune(json_t *v, const char *path)
{
	char buf[512], *p, *next;
	json_t *parent = v;
	char *end;
	long idx;

	snprintf(buf, sizeof(buf), "%s", strncmp(path, "$.", 2) == 0 ?
	    path + 2 : path);
	p = buf;
	for (;;) {
		next = strchr(p, '.');
		if (next != NULL)
			*next = '\0';
		if (json_is_object(parent)) {
			if (next == NULL) {
				json_object_del(parent, p);
				return;
			}
			parent = json_object_get(parent, p);
		} else if (json_is_array(parent)) {
			idx = strtol(p, &end, 10);
			if (*end != '\0' || idx < 0)
				return;
			if (next == NULL) {
				json_array_remove(parent, (size_t)idx);
				return;
			}
			parent = json_array_get(parent, (size_t)idx);
		} else
			return;
		if (parent == NULL)
			return;
		p = next + 1;
	}
}

static int
json_norm(const struct cmp_opts *o, const unsigned char *b, size_t n,
    struct norm *r, int show)
{
	json_error_t je;
	json_t *v;
	int k;

	if ((v = json_loadb((const char *)b, n, JSON_DECODE_ANY |
	    JSON_ALLOW_NUL, &je)) == NULL)
		return -1;
	for (k = 0; k < o->njson; k++)
		json_prune(v, o->json[k]);
	r->cmp = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS |
	    JSON_ENCODE_ANY);
	r->show = show ? json_dumps(v, JSON_INDENT(2) | JSON_SORT_KEYS |
	    JSON_ENCODE_ANY) : NULL;
	json_decref(v);
	if (r->cmp == NULL || (show && r->show == NULL))
		err(TM_EXIT_FAIL, "jansson");
	r->cmplen = strlen(r->cmp);
	r->showlen = show ? strlen(r->show) : 0;
	return 0;
}

/* Text with every --ignore-regex match taken out. */
static char *
text_norm(const struct cmp_opts *o, const unsigned char *b, size_t n,
    size_t *len)
{
	unsigned char *cur = NULL, *out = NULL;
	size_t curlen = n, outlen, outcap, start;
	pcre2_match_data *md;
	PCRE2_SIZE *ov;
	int k;

	cur = (unsigned char *)xstrndup(b, n);
	for (k = 0; k < o->nre; k++) {
		if ((md = pcre2_match_data_create_from_pattern(o->re[k],
		    NULL)) == NULL)
			err(TM_EXIT_FAIL, "pcre2");
		out = NULL;
		outlen = outcap = 0;
		start = 0;
		while (start <= curlen && pcre2_match(o->re[k], cur, curlen,
		    start, 0, md, NULL) >= 0) {
			ov = pcre2_get_ovector_pointer(md);
			grow_put(&out, &outlen, &outcap, 256, cur + start,
			    ov[0] - start);
			start = ov[1] > ov[0] ? ov[1] : ov[1] + 1;
			if (ov[1] == ov[0] && ov[0] < curlen)
				grow_put(&out, &outlen, &outcap, 256,
				    cur + ov[0], 1);
		}
		if (start < curlen)
			grow_put(&out, &outlen, &outcap, 256, cur + start,
			    curlen - start);
		pcre2_match_data_free(md);
		free(cur);
		cur = (unsigned char *)xstrndup(out != NULL ? out :
		    (unsigned char *)"", outlen);
		curlen = outlen;
		free(out);
	}
	*len = curlen;
	return (char *)cur;
}

void
cmp_body(const struct cmp_opts *o, const char *ctype,
    const unsigned char *b, size_t n, struct norm *r, int show)
{
	size_t i;
	int xml = 0, json = 0;

	memset(r, 0, sizeof(*r));
	for (i = 0; i < n && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' ||
	    b[i] == '\n'); i++)
		;
	if (ctype != NULL && strcasestr(ctype, "xml") != NULL)
		xml = 1;
	else if (ctype != NULL && strcasestr(ctype, "json") != NULL)
		json = 1;
	else if (i < n && b[i] == '<')
		xml = 1;
	else if (i < n && (b[i] == '{' || b[i] == '['))
		json = 1;
	if (xml && n > 0 && xml_norm(o, b, n, r, show) == 0) {
		r->kind = "XML";
		return;
	}
	if (json && n > 0 && json_norm(o, b, n, r, show) == 0) {
		r->kind = "JSON";
		return;
	}
	r->kind = "text";
	r->cmp = text_norm(o, b, n, &r->cmplen);
	r->show = show ? xstrndup(r->cmp, r->cmplen) : NULL;
	r->showlen = show ? r->cmplen : 0;
}

void
norm_free(struct norm *r)
{
	free(r->cmp);
	free(r->show);
	memset(r, 0, sizeof(*r));
}
