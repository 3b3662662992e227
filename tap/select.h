/* select.h - choosing connections, shared by tcpmon-tap and tcpmon-grep:
 * --conn, --since/--until, -e (PCRE2 over the payload, across records),
 * --header and -v.  A connection is selected or not as a whole; until it can
 * be decided its records are held back, within --max-hold bytes. */
#ifndef TCPMON_SELECT_H
#define TCPMON_SELECT_H

#include <getopt.h>
#include <stddef.h>
#include <stdint.h>

#include "ctab.h"
#include "record.h"

#define SEL_MAX_CONNS	256
#define SEL_MAX_RE	32
#define SEL_MAX_HDR	32
#define SEL_HOLD_DEFAULT (64ull * 1024 * 1024)
#define SEL_MAX_CONNS_LIMIT (16ull * 1024 * 1024)	/* --max-conns at most */

/* Long options both tools take; their values are the SEL_OPT_* below or
 * the short letters 'e', 'i' and 'v'. */
enum {
	SEL_OPT_CONN = 512, SEL_OPT_SINCE, SEL_OPT_UNTIL, SEL_OPT_HEADER,
	SEL_OPT_MAX_HOLD, SEL_OPT_MAX_CONNS
};
#define SEL_SHORTOPTS	"e:iv"
/* One line of --help per option of SEL_LONGOPTS. */
#define SEL_HELP \
	"      --conn [SRC#]N[,...]  connections with these numbers (from source SRC)\n" \
	"      --since TIME          connections with a record at or after TIME\n" \
	"      --until TIME          connections with a record at or before TIME\n" \
	"  -e, --regex PATTERN       connections whose payload matches PATTERN (PCRE2)\n" \
	"      --header NAME[=PAT]   connections with an HTTP header NAME (matching PAT)\n" \
	"  -i, --ignore-case         patterns ignore case\n" \
	"  -v, --invert-match        the connections the other selectors do not select\n" \
	"      --max-hold SIZE       hold at most SIZE of an undecided connection\n" \
	"      --max-conns N         follow at most N connections at once (default 65536)\n"

#define SEL_LONGOPTS \
	{ "conn",	required_argument, NULL, SEL_OPT_CONN },	\
	{ "header",	required_argument, NULL, SEL_OPT_HEADER },	\
	{ "ignore-case", no_argument,	   NULL, 'i' },			\
	{ "invert-match", no_argument,	   NULL, 'v' },			\
	{ "max-conns",	required_argument, NULL, SEL_OPT_MAX_CONNS },	\
	{ "max-hold",	required_argument, NULL, SEL_OPT_MAX_HOLD },	\
	{ "regex",	required_argument, NULL, 'e' },			\
	{ "since",	required_argument, NULL, SEL_OPT_SINCE },	\
	{ "until",	required_argument, NULL, SEL_OPT_UNTIL }

#define SEL_SRC_MAX	64	/* bytes of a source in --conn SRC#N */

struct sel_opts {
	uint64_t	 conn[SEL_MAX_CONNS];
	/* --conn SRC#N: the source, or "" for any (a merged stream has
	 * the same number under each source). */
	char		 conn_src[SEL_MAX_CONNS][SEL_SRC_MAX];
	int		 nconn;
	int64_t		 since, until;	/* -1: not given */
	int		 since_tod, until_tod;	/* a time of day: on the
					 * date of the first record */
	const char	*re[SEL_MAX_RE];
	int		 nre;
	const char	*hname[SEL_MAX_HDR];	/* --header NAME[=PATTERN] */
	const char	*hpat[SEL_MAX_HDR];	/* NULL: any value */
	int		 nhdr;
	int		 invert, icase;
	uint64_t	 max_hold;
	uint64_t	 max_conns;	/* connections followed at once */
	const char	*note_src;	/* src of the notes we write */
};

/* The room for a message about a bad option or pattern. */
#define SEL_MSG_MAX	(3 * 4096)

void	 sel_opts_init(struct sel_opts *);
/* Takes one option of SEL_LONGOPTS; returns 0 if ch is not one, 1 if it
 * took it; exits with status 2 for a bad value.  A --header value is cut
 * in two in place. */
int	 sel_opt(struct sel_opts *, int ch, char *arg);
/* sel_opt without the exit: -1 for a bad value, with msg set. */
int	 sel_opt_parse(struct sel_opts *, int ch, char *arg, char *msg,
	    size_t msglen);
/* Whether any selector was given. */
int	 sel_any(const struct sel_opts *);

/* Where records go on: r as parsed, raw its bytes as read. */
typedef void sel_emit_fn(void *arg, const struct rec *r,
    const unsigned char *raw, size_t rawlen);

struct sel_re;

struct sel {
	const struct sel_opts *o;
	struct sel_re	*re[SEL_MAX_RE]; /* the -e patterns: all as one, or
					  * each alone (see select.c) */
	int		 nre;
	struct sel_re	*hre[SEL_MAX_HDR];
	struct ctab	 conns;
	sel_emit_fn	*emit;
	void		*arg;
	int64_t		 since, until;	/* resolved at the first record */
	int		 timed;		/* since and until are resolved */
	struct rec	*tmp;		/* for held records going out */
	uint64_t	 held;		/* bytes held back, all connections */
	/* Hold buffers given back, for the next connections: fresh memory
	 * for every connection costs page faults. */
	unsigned char	*pool[16];
	size_t		 poolcap[16];
	int		 npool;
	uint64_t	 selected;	/* connections selected so far */
	uint64_t	 dropped;	/* connections no longer followed */
	int		 active;	/* any selector at all */
};

/* Compiles the patterns: a bad one is reported (exit 2) before any input
 * is read. */
void	 sel_init(struct sel *, const struct sel_opts *, sel_emit_fn *,
	    void *arg);
/* sel_init without the exit: -1 for a bad pattern, with msg set; s is
 * still to be freed with sel_free. */
int	 sel_setup(struct sel *, const struct sel_opts *, sel_emit_fn *,
	    void *arg, char *msg, size_t msglen);
/* One record in; records come out through emit, possibly later. */
void	 sel_feed(struct sel *, const struct rec *, const unsigned char *raw,
	    size_t rawlen);
/* The input ended: connections still undecided are decided on what was
 * seen, and what is held comes out. */
void	 sel_end(struct sel *);
void	 sel_free(struct sel *);

#endif
