/* cmp.h - what tcpmon-diff leaves out of a comparison, and the normal
 * forms it compares: XML canonically (C14N, whitespace between elements
 * and volatile nodes left out), JSON as values, text with --ignore-regex's
 * matches left out. */
#ifndef TCPMON_CMP_H
#define TCPMON_CMP_H

#include <stddef.h>

#define CMP_MAX	32	/* of each kind of --ignore-* and --ns */

struct cmp_opts {
	const char	*header[CMP_MAX];	/* --ignore-header */
	int		 nheader;
	const char	*xpath[CMP_MAX];	/* --ignore-xpath */
	int		 nxpath;
	const char	*ns_prefix[CMP_MAX], *ns_uri[CMP_MAX];	/* --ns */
	int		 nns;
	const char	*json[CMP_MAX];		/* --ignore-json */
	int		 njson;
	void		*re[CMP_MAX];		/* --ignore-regex, compiled */
	int		 nre;
};

/* Takes --ignore-xpath (ch 'X'), --ignore-json ('J') or --ns ('N', its
 * argument cut in place at '='), as tcpmon-diff and tcpmon-mock take
 * them: 0 if ch is none of these, 1 if taken; exits 2 for a bad one. */
int	 cmp_opt(struct cmp_opts *, int ch, char *arg);

/* Checks and compiles what was given: 0, or -1 with why (naming it). */
int	 cmp_setup(struct cmp_opts *, const char *const *regex, int nregex,
	    char *why, size_t whylen);
void	 cmp_free(struct cmp_opts *);

/* Whether a header is left out of the comparison: the built-in list
 * (Date, Server, Transfer-Encoding) and --ignore-header. */
int	 cmp_ignored_header(const struct cmp_opts *, const char *name);

/* A body's normal form: cmp to compare, show to show in a diff (both
 * malloc'd, with a NUL after their len bytes); kind "XML", "JSON" or
 * "text". */
struct norm {
	char		*cmp, *show;
	size_t		 cmplen, showlen;
	const char	*kind;
};

/* show: make show too (else NULL), for a diff. */
void	 cmp_body(const struct cmp_opts *, const char *ctype,
	    const unsigned char *, size_t, struct norm *, int show);
void	 norm_free(struct norm *);

#endif
