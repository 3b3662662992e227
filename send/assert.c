/* assert.c - tcpmon-send's assertions (SoapUI's, as options): what an
 * answer must be for the run to pass.  --assert-status CODE, --assert-xpath
 * EXPR (its boolean value, the answer's own namespace prefixes bound, and
 * --ns), --assert-json PATH=VALUE, --assert-time DUR and --assert-no-fault.
 * Each one that fails is a line on stderr naming it and what was found. */
#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>

#include "safe.h"
#include "send.h"
#include "util.h"

static void
quiet(void *ctx, const char *msg, ...)
{
	(void)ctx; (void)msg;
}

int
assert_opt(struct asserts *a, int opt, char *arg, char *msg, size_t msglen)
{
	const char *e;
	uint64_t v;
	char *eq;

	switch (opt) {
	case ASSERT_STATUS:
		if (num_parse(arg, 100, 599, &v, &e) < 0) {
			snprintf(msg, msglen, "--assert-status %s: %s (100 to "
			    "599)", arg, e);
			return -1;
		}
		a->status = (int)v;
		break;
	case ASSERT_TIME:
		if (dur_parse(arg, 86400000, &v, &e) < 0) {
			snprintf(msg, msglen, "--assert-time %s: %s", arg, e);
			return -1;
		}
		a->time_ms = (int64_t)v;
		break;
	case ASSERT_NO_FAULT:
		a->no_fault = 1;
		break;
	case ASSERT_XPATH:
		if (a->nxpath == ASSERT_MAX) {
			snprintf(msg, msglen, "--assert-xpath: at most %d",
			    ASSERT_MAX);
			return -1;
		}
		a->xpath[a->nxpath++] = arg;
		break;
	case ASSERT_JSON:
		if ((eq = strchr(arg, '=')) == NULL || eq == arg ||
		    a->njson == ASSERT_MAX) {
			snprintf(msg, msglen, "--assert-json %s: use PATH=VALUE "
			    "(at most %d)", arg, ASSERT_MAX);
			return -1;
		}
		*eq = '\0';
		a->json_path[a->njson] = arg;
		a->json_value[a->njson++] = eq + 1;
		break;
	case ASSERT_NS:
		if ((eq = strchr(arg, '=')) == NULL || eq == arg ||
		    eq[1] == '\0' || a->nns == ASSERT_MAX) {
			snprintf(msg, msglen, "--ns %s: use PREFIX=URI (at "
			    "most %d)", arg, ASSERT_MAX);
			return -1;
		}
		*eq = '\0';
		a->ns_prefix[a->nns] = arg;
		a->ns_uri[a->nns++] = eq + 1;
		return 0;
	default:
		return 0;
	}
	a->any = 1;
	return 0;
}

int
assert_setup(struct asserts *a, char *msg, size_t msglen)
{
	xmlXPathCompExprPtr c;
	int i;

	xmlSetGenericErrorFunc(NULL, quiet);
	for (i = 0; i < a->nxpath; i++) {
		if ((c = xmlXPathCompile((const xmlChar *)a->xpath[i])) ==
		    NULL) {
			snprintf(msg, msglen, "--assert-xpath %s: not a valid "
			    "XPath expression", a->xpath[i]);
			return -1;
		}
		xmlXPathFreeCompExpr(c);
	}
	return 0;
}

/* The answer's own prefixes, as it binds them (the first binding of a
 * prefix wins), then --ns. */
static void
bind_all(xmlXPathContextPtr ctx, xmlNodePtr n)
{
	xmlNsPtr ns;

	for (; n != NULL; n = n->next) {
		if (n->type != XML_ELEMENT_NODE)
			continue;
		for (ns = n->nsDef; ns != NULL; ns = ns->next)
			if (ns->prefix != NULL && xmlXPathNsLookup(ctx,
			    ns->prefix) == NULL)
				xmlXPathRegisterNs(ctx, ns->prefix, ns->href);
		bind_all(ctx, n->children);
	}
}

static int
check_xpath(const struct asserts *a, const unsigned char *b, size_t n)
{
	xmlDocPtr doc;
	xmlXPathContextPtr ctx;
	xmlXPathObjectPtr r;
	char shown[256];
	int i, failed = 0, ok;

	if (a->nxpath == 0)
		return 0;
	doc = n <= INT32_MAX ? xmlReadMemory((const char *)b, (int)n, NULL,
	    NULL, XML_PARSE_NONET | XML_PARSE_NOERROR |
	    XML_PARSE_NOWARNING) : NULL;
	if (doc == NULL) {
		for (i = 0; i < a->nxpath; i++)
			warnx("--assert-xpath %s: the answer is not XML",
			    safe_str(a->xpath[i], shown, sizeof(shown)));
		return a->nxpath;
	}
	if ((ctx = xmlXPathNewContext(doc)) == NULL)
		err(TM_EXIT_FAIL, "libxml2");
	for (i = 0; i < a->nns; i++)
		xmlXPathRegisterNs(ctx, (const xmlChar *)a->ns_prefix[i],
		    (const xmlChar *)a->ns_uri[i]);
	bind_all(ctx, xmlDocGetRootElement(doc));
	for (i = 0; i < a->nxpath; i++) {
		r = xmlXPathEvalExpression((const xmlChar *)a->xpath[i], ctx);
		ok = r != NULL && xmlXPathCastToBoolean(r);
		if (!ok) {
			warnx("--assert-xpath %s: %s",
			    safe_str(a->xpath[i], shown, sizeof(shown)),
			    r == NULL ? "cannot be evaluated on the answer "
			    "(a prefix it does not bind?)" : "false");
			failed++;
		}
		xmlXPathFreeObject(r);
	}
	xmlXPathFreeContext(ctx);
	xmlFreeDoc(doc);
	return failed;
}

/* The member at a dotted path ("a.b.0.c", "$." first allowed). */
static json_t *
json_at(json_t *v, const char *path)
{
	char buf[512], *p, *next, *end;
	long idx;

	snprintf(buf, sizeof(buf), "%s", strncmp(path, "$.", 2) == 0 ?
	    path + 2 : path);
	for (p = buf; v != NULL; p = next + 1) {
		if ((next = strchr(p, '.')) != NULL)
			*next = '\0';
		if (json_is_object(v))
			v = json_object_get(v, p);
		else if (json_is_array(v)) {
			idx = strtol(p, &end, 10);
			v = *end == '\0' && idx >= 0 ? json_array_get(v,
			    (size_t)idx) : NULL;
		} else
			v = NULL;
		if (next == NULL)
			break;
	}
	return v;
}

static int
check_json(const struct asserts *a, const unsigned char *b, size_t n)
{
	json_error_t je;
	json_t *doc, *got, *want;
	char *s, shown[256], found[256];
	int i, failed = 0;

	if (a->njson == 0)
		return 0;
	if ((doc = json_loadb((const char *)b, n, JSON_DECODE_ANY, &je)) ==
	    NULL) {
		for (i = 0; i < a->njson; i++)
			warnx("--assert-json %s: the answer is not JSON (%s)",
			    safe_str(a->json_path[i], shown, sizeof(shown)),
			    je.text);
		return a->njson;
	}
	for (i = 0; i < a->njson; i++) {
		/* VALUE is JSON when it parses as JSON (5, true, "x"),
		 * else a string. */
		if ((want = json_loads(a->json_value[i], JSON_DECODE_ANY,
		    NULL)) == NULL)
			want = json_string(a->json_value[i]);
		got = json_at(doc, a->json_path[i]);
		if (got == NULL || want == NULL || !json_equal(got, want)) {
			s = got != NULL ? json_dumps(got, JSON_COMPACT |
			    JSON_ENCODE_ANY) : NULL;
			warnx("--assert-json %s=%s: found %s",
			    safe_str(a->json_path[i], shown, sizeof(shown)),
			    a->json_value[i], s != NULL ? safe_str(s, found,
			    sizeof(found)) : "no such member");
			free(s);
			failed++;
		}
		json_decref(want);
	}
	json_decref(doc);
	return failed;
}

int
assert_check(const struct asserts *a, int status, const unsigned char *b,
    size_t n, int whole, const char *fault, int64_t elapsed_us)
{
	char shown[700];
	int failed = 0;

	if (a->status != 0 && status != a->status) {
		warnx("--assert-status %d: the answer is %d", a->status,
		    status);
		failed++;
	}
	if (a->time_ms >= 0 && elapsed_us > a->time_ms * 1000) {
		warnx("--assert-time %lldms: it took %.1f ms",
		    (long long)a->time_ms, (double)elapsed_us / 1000.0);
		failed++;
	}
	if (fault != NULL) {
		warnx("--assert-no-fault: SOAP Fault: %s", safe_str(fault,
		    shown, sizeof(shown)));
		failed++;
	}
	if (!whole && (a->nxpath > 0 || a->njson > 0)) {
		warnx("--assert-xpath, --assert-json: the answer is larger "
		    "than the %u bytes they read", SEND_KEEP_BODY);
		return failed + a->nxpath + a->njson;
	}
	failed += check_xpath(a, b, n);
	failed += check_json(a, b, n);
	return failed;
}
