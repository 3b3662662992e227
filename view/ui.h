/* ui.h - the state of tcpmon-view's screen, shared by the screen (ui.c)
 * and the actions that read or write the store for it (act.c). */
#ifndef TCPMON_UI_H
#define TCPMON_UI_H

#include <sys/types.h>

#include "select.h"
#include "view.h"

struct loop;

enum prompt { P_NONE, P_SEARCH, P_FILTER, P_SAVE, P_SAVE_RAW, P_RESEND,
	P_EDITED };
enum focus { F_TABLE, F_REQ, F_RESP };

/* A resend under way: tcpmon-send's records come back through a pipe. */
struct child {
	pid_t		 pid;
	int		 out, err;	/* its stdout (records), stderr */
	struct rec_reader rd;
	int		 rd_on;
	char		 orig[96];	/* "SRC#N" resent */
	uint64_t	 conn;		/* the number its records get */
	uint64_t	 sent_conn;	/* tcpmon-send's number for it */
	char		 last[256];	/* its last line on stderr */
	size_t		 nlast;
	int		 exited, status;
	int		 out_done;
};

struct ui {
	struct index	*ix;
	struct loop	*loop;
	struct detail	 det;
	int		 per_conn;	/* a row per connection */
	int		 side;		/* layout: side by side */
	int		 fmt, hex, heads;
	int		 color;
	enum focus	 focus;
	long		 sel, top;	/* selected row, first row shown */
	int		 follow;	/* the selection follows new rows */
	long		*rows;		/* shown: exchanges or connections */
	size_t		 nrows, caprows;
	uint64_t	 rows_gen;	/* index gen the rows were made at */
	int		 rows_dirty;
	/* F: the filter, tcpmon-grep's selectors. */
	int		 filter_on;
	char		 filter[512];	/* as typed */
	char		 fbuf[512];	/* its words, cut in place */
	struct sel_opts	 so;
	struct sel	 sl;
	int		 sl_on;
	/* /: the search. */
	char		 search[256];
	int		 hit_pane;	/* 0 none, 1 request, 2 response */
	size_t		 hit_line;
	/* The line being typed at the bottom. */
	enum prompt	 prompt;
	char		 pbuf[512];
	size_t		 plen;
	char		 perr[256];	/* the filter typed does not parse */
	char		 edited[256];	/* e: the file edited */
	unsigned char	*edbuf;		/* e: the request as edited */
	size_t		 edlen;
	char		 orig[96];	/* r, e: "SRC#N" of the request */
	char		 msg[512];	/* the last message */
	int		 msg_err;
	char		 source[256];	/* what is shown */
	char		 listen[128];	/* the relay's listening line */
	int		 live;		/* records still come */
	int		 help;
	int		 quit;
	int		 dirty;
	int		 status;	/* the exit status so far */
	const char	*send_path;	/* tcpmon-send */
	struct child	 ch;		/* one resend at a time */
	int		 rows_h, pane_h; /* heights of the last drawing */
};

/* ui.c */
void	 ui_init(struct ui *, struct index *, struct loop *);
void	 ui_key(struct ui *, int key);
void	 ui_draw(struct ui *);
void	 ui_free(struct ui *);

/* act.c */
/* Applies the filter typed into u->filter: 0, or -1 with why (the filter
 * is then not applied). */
int	 act_filter(struct ui *, const char *text, char *why, size_t whylen);
/* Whether text parses as a filter (why says what is wrong). */
int	 act_filter_check(const char *text, char *why, size_t whylen);
void	 act_filter_clear(struct ui *);
void	 act_filter_end(struct ui *);
/* Writes the records of the connections flagged VC_PICKED... chosen by
 * the caller (flag) to path; returns connections written or -1. */
long	 act_save(struct ui *, const char *path, const unsigned char *want,
	    char *msg, size_t msglen);
int	 act_save_raw(const char *path, const void *, size_t, char *msg,
	    size_t msglen);
/* Sends request bytes again to target with tcpmon-send; the records
 * come back as a new connection marked as a resend of orig. */
int	 act_resend(struct ui *, const char *target, const void *req,
	    size_t len, int fix, const char *orig, char *msg, size_t msglen);
/* Runs $EDITOR on a temporary file holding req; the file stays for
 * act_resend's caller to read (path in u->edited). */
int	 act_edit(struct ui *, const void *req, size_t len, char *msg,
	    size_t msglen);
/* A child ended (SIGCHLD). */
void	 act_reaped(struct ui *, pid_t, int status);
void	 act_free(struct ui *);

#endif
