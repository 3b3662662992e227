/* ui.c - tcpmon-view's screen (ncursesw): the title, the table of
 * connections or exchanges, the request and response panes stacked or side
 * by side, and the line at the bottom for messages and what is typed.
 * Every string drawn comes from the index or a pane, already made safe for
 * a terminal (safe.h), so nothing in the traffic reaches it as control. */
#include <curses.h>
#include <stdarg.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "grow.h"
#include "safe.h"
#include "ui.h"
#include "util.h"

#define CP_OK		1
#define CP_BAD		2
#define CP_WARN		3
#define CP_TITLE	4

static const char *const keys_help[] = {
	"Up/Down j/k   move in the table, or scroll the pane in focus",
	"PgUp/PgDn     a page up or down",
	"Home/End g/G  the first or the last (End follows new rows)",
	"Tab           focus: table, request, response",
	"l             layout: one above the other, or side by side",
	"f             formatted XML and JSON bodies on or off",
	"x             hex dump on or off",
	"h             headers shown or folded",
	"c             a row per HTTP exchange or per connection",
	"/ n N         search the exchange; next, previous hit",
	"F             filter: tcpmon-grep's selectors (Esc clears)",
	"space         mark the row",
	"w             save marked, filtered or selected connections",
	"W             save the raw bytes of the pane in focus",
	"r             resend the request (to its target or one typed)",
	"e             edit the request in $EDITOR, then resend it",
	"d             remove the row from the view",
	"?             this list",
	"q             quit",
	NULL
};

void
ui_init(struct ui *u, struct index *ix, struct loop *l)
{
	memset(u, 0, sizeof(*u));
	u->ix = ix;
	u->loop = l;
	u->fmt = 1;
	u->heads = 1;
	u->follow = 1;
	u->dirty = 1;
	u->rows_dirty = 1;
	u->ch.out = u->ch.err = -1;
	det_init(&u->det);
}

void
ui_free(struct ui *u)
{
	act_free(u);
	det_free(&u->det);
	free(u->rows);
	free(u->edbuf);
	if (u->edited[0] != '\0')
		unlink(u->edited);
}

static void
say(struct ui *u, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
say(struct ui *u, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(u->msg, sizeof(u->msg), fmt, ap);
	va_end(ap);
	u->msg_err = err;
	u->dirty = 1;
}

/* The row's connection and exchange. */
static void
row_of(const struct ui *u, long row, long *ci, long *xi)
{
	const struct index *ix = u->ix;

	if (row < 0 || (size_t)row >= u->nrows) {
		*ci = *xi = -1;
		return;
	}
	if (u->per_conn) {
		*ci = u->rows[row];
		*xi = ix->c[*ci].nx > 0 ? (long)ix->c[*ci].x0 : -1;
	} else {
		*xi = u->rows[row];
		*ci = ix->x[*xi].c;
	}
}

static void
rows_make(struct ui *u)
{
	struct index *ix = u->ix;
	long keep_c = -1, keep_x = -1, ci, xi;
	size_t i, n;

	if (!u->rows_dirty && u->rows_gen == ix->gen)
		return;
	row_of(u, u->sel, &keep_c, &keep_x);
	n = u->per_conn ? ix->nc : ix->nx;
	u->rows = grow_items(u->rows, &u->caprows, n, sizeof(*u->rows), 64);
	u->nrows = 0;
	for (i = 0; i < n; i++) {
		ci = u->per_conn ? (long)i : (long)ix->x[i].c;
		if (ix->c[ci].flags & VC_DELETED)
			continue;
		if (!u->per_conn && (ix->x[i].flags & VX_DELETED))
			continue;
		if (u->filter_on && !(ix->c[ci].flags & VC_PICKED))
			continue;
		u->rows[u->nrows++] = (long)i;
	}
	u->rows_gen = ix->gen;
	u->rows_dirty = 0;
	if (u->follow || u->sel < 0) {
		u->sel = (long)u->nrows - 1;
		return;
	}
	/* The selection stays on its row as rows come and go. */
	for (i = 0; i < u->nrows; i++) {
		row_of(u, (long)i, &ci, &xi);
		if ((u->per_conn && ci == keep_c) || (!u->per_conn &&
		    xi == keep_x)) {
			u->sel = (long)i;
			return;
		}
	}
	if (u->sel >= (long)u->nrows)
		u->sel = (long)u->nrows - 1;
}

/* Columns of v's first w characters (UTF-8 counted as one each) drawn at
 * y, x, padded; right-aligned or not. */
static void
cell(int y, int x, int w, const char *v, int right)
{
	size_t i, bytes = 0;
	int n = 0;

	if (w <= 0)
		return;
	for (i = 0; v[i] != '\0'; i++)
		if (((unsigned char)v[i] & 0xc0) != 0x80) {
			if (n == w)
				break;
			n++;
		}
	bytes = i;
	if (right && n < w) {
		mvhline(y, x, ' ', w - n);
		x += w - n;
	}
	mvaddnstr(y, x, v, (int)bytes);
	if (!right && n < w)
		mvhline(y, x + n, ' ', w - n);
}

static void
fmt_bytes(uint64_t n, char *buf, size_t len)
{
	if (n < 10000)
		snprintf(buf, len, "%llu", (unsigned long long)n);
	else if (n < 10000ull * 1024)
		snprintf(buf, len, "%.1fK", n / 1024.0);
	else if (n < 10000ull * 1024 * 1024)
		snprintf(buf, len, "%.1fM", n / 1048576.0);
	else
		snprintf(buf, len, "%.1fG", n / 1073741824.0);
}

static void
fmt_elapsed(int64_t us, char *buf, size_t len)
{
	if (us < 0)
		snprintf(buf, len, "-");
	else if (us < 10000)
		snprintf(buf, len, "%.1fms", us / 1000.0);
	else if (us < 10000000)
		snprintf(buf, len, "%lldms", (long long)(us / 1000));
	else
		snprintf(buf, len, "%.1fs", us / 1e6);
}

static void
fmt_start(int64_t us, char *buf, size_t len)
{
	time_t t = (time_t)(us / 1000000);
	struct tm tm;

	if (us < 0 || gmtime_r(&t, &tm) == NULL)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%02d:%02d:%02d.%03d", tm.tm_hour,
		    tm.tm_min, tm.tm_sec, (int)(us % 1000000 / 1000));
}

struct cols {
	int mark, conn, state, start, client, target, req, status, num, time;
};

static void
cols_make(struct cols *k, int w)
{
	int avail;

	k->mark = 2;
	k->conn = 6;
	k->state = 7;
	k->status = 6;
	k->num = 7;
	k->time = 7;
	avail = w - (k->mark + k->conn + k->state + k->status + 2 * k->num +
	    k->time + 8);
	k->start = avail >= 70 ? 12 : 0;
	if (k->start)
		avail -= 13;
	k->client = avail >= 70 ? 21 : 0;
	if (k->client)
		avail -= 22;
	k->target = avail * 2 / 5 > 24 ? 24 : avail * 2 / 5;
	if (k->target < 6)
		k->target = 6;
	k->req = avail - k->target - 1;
	if (k->req < 6)
		k->req = 6;
}

/* Draws cells left to right; returns the next column. */
static int
col(int y, int x, int w, const char *v, int right)
{
	if (w <= 0)
		return x;
	cell(y, x, w, v, right);
	return x + w + 1;
}

static void
draw_row(struct ui *u, int y, long row, const struct cols *k)
{
	struct index *ix = u->ix;
	struct vconn *c;
	struct vxch *vx = NULL;
	char mark[4], num[32], st[16], t[24], up[16], down[16], el[24];
	char req[512], status[16];
	const char *label;
	long ci, xi;
	int x = 0, pair = 0;
	uint64_t nup, ndown;
	int64_t el_us;

	row_of(u, row, &ci, &xi);
	c = &ix->c[ci];
	if (xi >= 0)
		vx = &ix->x[xi];
	if (row == u->sel)
		attron(u->focus == F_TABLE ? A_REVERSE : A_REVERSE | A_DIM);
	snprintf(mark, sizeof(mark), "%c%c", c->flags & VC_MARKED ? '*' : ' ',
	    c->tls ? 'T' : ' ');
	x = col(y, x, k->mark, mark, 0);
	snprintf(num, sizeof(num), "%llu", (unsigned long long)c->conn);
	x = col(y, x, k->conn, num, 1);
	snprintf(st, sizeof(st), "%s", vstate_name(c->state));
	if (u->color && row != u->sel)
		attron(COLOR_PAIR(c->state == VS_DONE ? CP_OK :
		    c->state == VS_ACTIVE ? CP_WARN : CP_BAD));
	x = col(y, x, k->state, st, 0);
	if (u->color && row != u->sel)
		attroff(COLOR_PAIR(c->state == VS_DONE ? CP_OK :
		    c->state == VS_ACTIVE ? CP_WARN : CP_BAD));
	fmt_start(vx != NULL && !u->per_conn ? vx->start : c->start, t,
	    sizeof(t));
	x = col(y, x, k->start, t, 0);
	x = col(y, x, k->client, ix_str(ix, c->client), 0);
	x = col(y, x, k->target, ix_str(ix, c->target), 0);
	label = vx != NULL && vx->label != 0 ? ix_str(ix, vx->label) :
	    ix_str(ix, c->label);
	if (c->flags & VC_RESEND)
		snprintf(req, sizeof(req), "[resend of %s] %s",
		    ix_str(ix, c->resend_of), label);
	else if (u->per_conn && c->nx > 1)
		snprintf(req, sizeof(req), "%s (+%u)", label, c->nx - 1);
	else
		snprintf(req, sizeof(req), "%s", label);
	x = col(y, x, k->req, req, 0);
	if (vx != NULL && vx->status != 0) {
		snprintf(status, sizeof(status), "%u", vx->status);
		pair = vx->status >= 400 ? CP_BAD : vx->status >= 300 ?
		    CP_WARN : CP_OK;
	} else
		snprintf(status, sizeof(status), "%s", (c->flags & VC_HTTP) ?
		    (c->flags & VC_CLOSED ? "-" : "...") : "");
	if (u->color && pair && row != u->sel)
		attron(COLOR_PAIR(pair));
	x = col(y, x, k->status, status, 0);
	if (u->color && pair && row != u->sel)
		attroff(COLOR_PAIR(pair));
	if (u->per_conn || vx == NULL) {
		nup = c->up;
		ndown = c->down;
		el_us = c->last - c->start;
	} else {
		nup = vx->up;
		ndown = vx->down;
		el_us = vx->end ? vx->end - vx->start : -1;
	}
	fmt_bytes(nup, up, sizeof(up));
	fmt_bytes(ndown, down, sizeof(down));
	fmt_elapsed(el_us, el, sizeof(el));
	x = col(y, x, k->num, up, 1);
	x = col(y, x, k->num, down, 1);
	x = col(y, x, k->time, el, 1);
	if (x < COLS)
		mvhline(y, x, ' ', COLS - x);
	if (row == u->sel)
		attroff(A_REVERSE | A_DIM);
}

static void
draw_table(struct ui *u, int y0, int h)
{
	struct cols k;
	int x = 0, i;

	cols_make(&k, COLS);
	attron(A_BOLD | A_UNDERLINE);
	x = col(y0, x, k.mark, "", 0);
	x = col(y0, x, k.conn, "CONN", 1);
	x = col(y0, x, k.state, "STATE", 0);
	x = col(y0, x, k.start, "START", 0);
	x = col(y0, x, k.client, "CLIENT", 0);
	x = col(y0, x, k.target, "TARGET", 0);
	x = col(y0, x, k.req, u->per_conn ? "FIRST REQUEST" : "REQUEST", 0);
	x = col(y0, x, k.status, "STATUS", 0);
	x = col(y0, x, k.num, "UP", 1);
	x = col(y0, x, k.num, "DOWN", 1);
	x = col(y0, x, k.time, "TIME", 1);
	if (x < COLS)
		mvhline(y0, x, ' ', COLS - x);
	attroff(A_BOLD | A_UNDERLINE);
	h--;
	u->rows_h = h;
	if (u->sel >= 0 && u->sel < u->top)
		u->top = u->sel;
	if (u->sel >= u->top + h)
		u->top = u->sel - h + 1;
	if (u->top < 0)
		u->top = 0;
	for (i = 0; i < h; i++) {
		move(y0 + 1 + i, 0);
		clrtoeol();
		if (u->top + i < (long)u->nrows)
			draw_row(u, y0 + 1 + i, u->top + i, &k);
	}
}

/* One line of a pane: tabs expanded, cut to w columns, hits of the search
 * shown in reverse. */
static void
draw_line(struct ui *u, int y, int x, int w, const char *s, int hit)
{
	char buf[4096];
	size_t n = 0, slen;
	int cols = 0, t;
	const char *p, *q;

	for (p = s; *p != '\0' && cols < w && n < sizeof(buf) - 8; p++) {
		if (*p == '\t') {
			for (t = 8 - cols % 8; t > 0 && cols < w; t--, cols++)
				buf[n++] = ' ';
			continue;
		}
		if (((unsigned char)*p & 0xc0) != 0x80)
			cols++;
		buf[n++] = *p;
	}
	/* The rest of a character cut at the edge. */
	while (((unsigned char)*p & 0xc0) == 0x80 && n < sizeof(buf) - 1)
		buf[n++] = *p++;
	buf[n] = '\0';
	mvaddnstr(y, x, buf, (int)n);
	if (cols < w)
		mvhline(y, x + cols, ' ', w - cols);
	if (!hit || u->search[0] == '\0')
		return;
	slen = strlen(u->search);
	for (q = buf; (q = strstr(q, u->search)) != NULL; q += slen) {
		const char *r;
		int c0 = 0;

		for (r = buf; r < q; r++)
			if (((unsigned char)*r & 0xc0) != 0x80)
				c0++;
		attron(A_REVERSE);
		mvaddnstr(y, x + c0, q, (int)slen);
		attroff(A_REVERSE);
	}
}

static void
draw_pane(struct ui *u, int i, int y0, int x0, int w, int h)
{
	struct pane *p = &u->det.p[i];
	struct index *ix = u->ix;
	char title[512], extra[128];
	long ci, xi;
	int r;
	size_t ln;

	row_of(u, u->sel, &ci, &xi);
	extra[0] = '\0';
	if (xi >= 0 && !u->per_conn && ix->c[ci].nx > 1)
		snprintf(extra, sizeof(extra), " exchange %u of %u",
		    ix->x[xi].seq + 1, ix->c[ci].nx);
	if (xi >= 0)
		snprintf(title, sizeof(title), " %s #%llu%s%s%s%s ",
		    i == 0 ? "Request" : "Response",
		    (unsigned long long)ix->c[ci].conn, extra,
		    p->note != NULL ? " (" : "", p->note != NULL ? p->note : "",
		    p->note != NULL ? ")" : "");
	else
		snprintf(title, sizeof(title), " %s ", i == 0 ? "Request" :
		    "Response");
	attron(u->focus == (enum focus)(i + 1) ? A_REVERSE | A_BOLD : A_REVERSE);
	mvhline(y0, x0, ' ', w);
	cell(y0, x0, w, title, 0);
	attroff(A_REVERSE | A_BOLD);
	h--;
	u->pane_h = h;
	if (p->nline > 0 && p->top >= p->nline)
		p->top = p->nline - 1;
	for (r = 0; r < h; r++) {
		ln = p->top + (size_t)r;
		if (xi >= 0 && ln < p->nline)
			draw_line(u, y0 + 1 + r, x0, w, p->text + p->line[ln],
			    1);
		else
			mvhline(y0 + 1 + r, x0, ' ', w);
	}
	if (i == 0 && u->det.err[0] != '\0' && h > 0) {
		safe_str(u->det.err, title, sizeof(title));
		attron(COLOR_PAIR(CP_BAD));
		cell(y0 + h, x0, w, title, 0);
		attroff(COLOR_PAIR(CP_BAD));
	}
}

/* The exchange selected, read back when it changed or grew. */
static void
detail_make(struct ui *u)
{
	long ci, xi;
	size_t top[2];
	uint64_t end;

	row_of(u, u->sel, &ci, &xi);
	end = ci >= 0 ? u->ix->c[ci].end : 0;
	if (u->det.x == xi && u->det.gen == end && u->det.fmt == u->fmt &&
	    u->det.hex == u->hex && u->det.heads == u->heads)
		return;
	top[0] = u->det.x == xi ? u->det.p[0].top : 0;
	top[1] = u->det.x == xi ? u->det.p[1].top : 0;
	det_make(&u->det, u->ix, xi, u->fmt, u->hex, u->heads);
	u->det.gen = end;
	u->det.p[0].top = top[0];
	u->det.p[1].top = top[1];
}

static void
draw_help(void)
{
	int i, n, w = 70, y0, x0;

	for (n = 0; keys_help[n] != NULL; n++)
		;
	y0 = (LINES - n - 4) / 2;
	x0 = (COLS - w) / 2;
	if (y0 < 0)
		y0 = 0;
	if (x0 < 0)
		x0 = 0;
	attron(A_REVERSE);
	mvhline(y0, x0, ' ', w);
	cell(y0, x0 + 2, w - 4, "tcpmon-view: keys (any key closes)", 0);
	attroff(A_REVERSE);
	for (i = 0; i < n + 2 && y0 + 1 + i < LINES; i++) {
		mvhline(y0 + 1 + i, x0, ' ', w);
		if (i > 0 && i <= n)
			cell(y0 + 1 + i, x0 + 2, w - 4, keys_help[i - 1], 0);
	}
}

static void
draw_bottom(struct ui *u)
{
	static const char *const what[] = {
		[P_SEARCH] = "/", [P_FILTER] = "filter: ",
		[P_SAVE] = "save to: ", [P_SAVE_RAW] = "save bytes to: ",
		[P_RESEND] = "resend to: ", [P_EDITED] = "send edited to: ",
	};
	char right[128], buf[1024];
	int y = LINES - 1, rw;

	move(y, 0);
	clrtoeol();
	if (u->prompt != P_NONE) {
		snprintf(buf, sizeof(buf), "%s%.*s", what[u->prompt],
		    (int)u->plen, u->pbuf);
		cell(y, 0, COLS, buf, 0);
		if (u->perr[0] != '\0' && (int)strlen(buf) + 4 < COLS) {
			attron(COLOR_PAIR(CP_BAD) | A_BOLD);
			cell(y, (int)strlen(buf) + 2, COLS - (int)strlen(buf) -
			    2, u->perr, 0);
			attroff(COLOR_PAIR(CP_BAD) | A_BOLD);
		}
		move(y, (int)strlen(buf) < COLS ? (int)strlen(buf) : COLS - 1);
		return;
	}
	snprintf(right, sizeof(right), " %zu/%zu %s%s%s ", u->nrows,
	    u->per_conn ? u->ix->nc : u->ix->nx,
	    u->per_conn ? "connections" : "exchanges",
	    u->live ? " live" : " ended", u->follow && u->live ?
	    " following" : "");
	rw = (int)strlen(right);
	if (u->msg[0] != '\0') {
		if (u->msg_err)
			attron(COLOR_PAIR(CP_BAD) | A_BOLD);
		cell(y, 0, COLS - rw, u->msg, 0);
		if (u->msg_err)
			attroff(COLOR_PAIR(CP_BAD) | A_BOLD);
	} else
		cell(y, 0, COLS - rw, "? keys  q quit  / search  F filter  "
		    "r resend  l layout", 0);
	if (rw < COLS) {
		attron(A_BOLD);
		mvaddstr(y, COLS - rw, right);
		attroff(A_BOLD);
	}
}

void
ui_draw(struct ui *u)
{
	char title[1024];
	int h, th, ph, half;

	rows_make(u);
	detail_make(u);
	snprintf(title, sizeof(title), " tcpmon-view  %s%s%s%s%s", u->source,
	    u->listen[0] ? "  " : "", u->listen, u->filter_on ?
	    "  filter: " : "", u->filter_on ? u->filter : "");
	attron(A_REVERSE | A_BOLD);
	if (u->color)
		attron(COLOR_PAIR(CP_TITLE));
	mvhline(0, 0, ' ', COLS);
	cell(0, 0, COLS, title, 0);
	attroff(A_REVERSE | A_BOLD | COLOR_PAIR(CP_TITLE));
	h = LINES - 2;
	th = h / 3 < 3 ? 3 : h / 3;
	if (th > h)
		th = h;
	ph = h - th;
	draw_table(u, 1, th);
	if (ph >= 4) {
		if (u->side) {
			half = COLS / 2;
			draw_pane(u, 0, 1 + th, 0, half, ph);
			mvvline(1 + th, half, ACS_VLINE, ph);
			draw_pane(u, 1, 1 + th, half + 1, COLS - half - 1, ph);
		} else {
			draw_pane(u, 0, 1 + th, 0, COLS, ph / 2);
			draw_pane(u, 1, 1 + th + ph / 2, 0, COLS, ph - ph / 2);
		}
	}
	draw_bottom(u);
	if (u->help)
		draw_help();
	curs_set(u->prompt != P_NONE ? 1 : 0);
	refresh();
	u->dirty = 0;
}

/* Search: the next line holding the text after (pane, line), or before
 * it; both panes in turn. */
static void
search(struct ui *u, int dir)
{
	struct pane *p;
	long i, n, start, pane, line;
	int k;

	if (u->search[0] == '\0')
		return;
	pane = u->hit_pane ? u->hit_pane - 1 : 0;
	line = u->hit_pane ? (long)u->hit_line : -1;
	if (!u->hit_pane && dir < 0) {
		pane = 1;
		line = (long)u->det.p[1].nline;
	}
	for (k = 0; k < 3; k++) {
		p = &u->det.p[pane];
		n = (long)p->nline;
		start = line + dir;
		for (i = start; i >= 0 && i < n; i += dir)
			if (strstr(p->text + p->line[i], u->search) != NULL) {
				u->hit_pane = (int)pane + 1;
				u->hit_line = (size_t)i;
				u->focus = (enum focus)(pane + 1);
				p->top = (size_t)i > 2 ? (size_t)i - 2 : 0;
				say(u, 0, "%s: %s line %ld", u->search,
				    pane == 0 ? "request" : "response", i + 1);
				return;
			}
		pane = 1 - pane;
		line = dir > 0 ? -1 : (long)u->det.p[pane].nline;
	}
	say(u, 1, "%s: not found", u->search);
}

static int
prompt_line(struct ui *u, char *out, size_t n)
{
	snprintf(out, n, "%.*s", (int)u->plen, u->pbuf);
	return (int)u->plen;
}

static void
ask(struct ui *u, enum prompt p, const char *init)
{
	u->prompt = p;
	snprintf(u->pbuf, sizeof(u->pbuf), "%s", init != NULL ? init : "");
	u->plen = strlen(u->pbuf);
	u->perr[0] = '\0';
	u->dirty = 1;
}

/* The connection's target as tcpmon-send --raw takes it. */
static void
target_of(struct ui *u, long ci, char *buf, size_t n)
{
	const char *t = ix_str(u->ix, u->ix->c[ci].target);

	snprintf(buf, n, "%s%s", (u->ix->c[ci].tls & 2) &&
	    strncmp(t, "tls:", 4) != 0 ? "tls:" : "", t);
}

static void
orig_of(struct ui *u, long ci, char *buf, size_t n)
{
	const char *src = ix_str(u->ix, u->ix->c[ci].src);

	snprintf(buf, n, "%s#%llu", src, (unsigned long long)u->ix->c[ci].conn);
}

/* Which connections w saves: the marked ones, else the filtered ones,
 * else the selected one.  Returns how many, want set per connection. */
static long
save_set(struct ui *u, unsigned char *want)
{
	long n = 0, ci, xi;
	size_t i;

	for (i = 0; i < u->ix->nc; i++)
		if (u->ix->c[i].flags & VC_MARKED)
			want[i] = 1, n++;
	if (n > 0)
		return n;
	if (u->filter_on) {
		for (i = 0; i < u->nrows; i++) {
			row_of(u, (long)i, &ci, &xi);
			if (!want[ci])
				want[ci] = 1, n++;
		}
		return n;
	}
	row_of(u, u->sel, &ci, &xi);
	if (ci >= 0)
		want[ci] = 1, n++;
	return n;
}

static void
prompt_key(struct ui *u, int key)
{
	enum prompt p = u->prompt;
	char line[sizeof(u->pbuf) + 1], why[512];
	unsigned char *want;
	long ci, xi, n;

	switch (key) {
	case 27:	/* Esc */
		u->prompt = P_NONE;
		u->perr[0] = '\0';
		if (p == P_EDITED) {
			free(u->edbuf);
			u->edbuf = NULL;
		}
		say(u, 0, "%s", "");
		return;
	case KEY_BACKSPACE: case 127: case 8:
		if (u->plen > 0) {
			u->plen--;
			while (u->plen > 0 &&
			    ((unsigned char)u->pbuf[u->plen] & 0xc0) == 0x80)
				u->plen--;
		}
		break;
	case 21:	/* ^U */
		u->plen = 0;
		break;
	case '\n': case '\r': case KEY_ENTER:
		prompt_line(u, line, sizeof(line));
		if (p == P_FILTER && u->perr[0] != '\0')
			return;	/* not applied: the message says why */
		u->prompt = P_NONE;
		row_of(u, u->sel, &ci, &xi);
		switch (p) {
		case P_SEARCH:
			snprintf(u->search, sizeof(u->search), "%.255s", line);
			u->hit_pane = 0;
			search(u, 1);
			break;
		case P_FILTER:
			if (line[0] == '\0') {
				act_filter_clear(u);
				say(u, 0, "no filter");
			} else if (act_filter(u, line, why, sizeof(why)) < 0)
				say(u, 1, "filter: %s", why);
			else {
				u->follow = 1;
				u->rows_dirty = 1;
				say(u, 0, "filter: %s", line);
			}
			break;
		case P_SAVE:
			if ((want = calloc(u->ix->nc + 1, 1)) == NULL)
				break;
			save_set(u, want);
			if ((n = act_save(u, line, want, why,
			    sizeof(why))) < 0)
				say(u, 1, "save: %s", why);
			else
				say(u, 0, "saved %ld connection%s to %s", n,
				    n == 1 ? "" : "s", line);
			free(want);
			break;
		case P_SAVE_RAW: {
			struct side *s = &u->det.s[u->focus == F_RESP ? 1 : 0];

			if (act_save_raw(line, s->raw, s->rawlen, why,
			    sizeof(why)) < 0)
				say(u, 1, "save: %s", why);
			else
				say(u, 0, "saved %zu bytes to %s", s->rawlen,
				    line);
			break;
		}
		case P_RESEND:
			if (act_resend(u, line, u->det.s[0].raw,
			    u->det.s[0].rawlen, 0, u->orig, why,
			    sizeof(why)) < 0)
				say(u, 1, "resend: %s", why);
			else
				say(u, 0, "%s", why);
			break;
		case P_EDITED:
			if (act_resend(u, line, u->edbuf, u->edlen, 1,
			    u->orig, why, sizeof(why)) < 0)
				say(u, 1, "resend: %s", why);
			else
				say(u, 0, "%s", why);
			free(u->edbuf);
			u->edbuf = NULL;
			break;
		default:
			break;
		}
		return;
	default:
		if (key >= 32 && key < 256 && key != 127 &&
		    u->plen < sizeof(u->pbuf) - 1)
			u->pbuf[u->plen++] = (char)key;
		break;
	}
	/* A filter is checked as it is typed. */
	u->perr[0] = '\0';
	if (p == P_FILTER && u->plen > 0) {
		prompt_line(u, line, sizeof(line));
		if (act_filter_check(line, why, sizeof(why)) < 0)
			snprintf(u->perr, sizeof(u->perr), "%.255s", why);
	}
	u->dirty = 1;
}

static void
move_sel(struct ui *u, long by)
{
	struct pane *p;

	if (u->focus != F_TABLE) {
		p = &u->det.p[u->focus == F_REQ ? 0 : 1];
		if (by < 0 && (size_t)-by > p->top)
			p->top = 0;
		else if (by < 0)
			p->top -= (size_t)-by;
		else if (p->top + (size_t)by < p->nline)
			p->top += (size_t)by;
		else if (p->nline > 0)
			p->top = p->nline - 1;
		return;
	}
	u->sel += by;
	if (u->sel >= (long)u->nrows)
		u->sel = (long)u->nrows - 1;
	if (u->sel < 0)
		u->sel = u->nrows > 0 ? 0 : -1;
	u->follow = u->sel == (long)u->nrows - 1 && by > 0;
	u->hit_pane = 0;
}

/* e: the request edited, then a target asked for. */
static void
edit(struct ui *u, long ci)
{
	char msg[512], target[256];
	struct stat sb;
	int fd;

	def_prog_mode();
	endwin();
	if (act_edit(u, u->det.s[0].raw, u->det.s[0].rawlen, msg,
	    sizeof(msg)) < 0) {
		reset_prog_mode();
		say(u, 1, "edit: %s", msg);
		return;
	}
	reset_prog_mode();
	clearok(stdscr, TRUE);
	free(u->edbuf);
	u->edbuf = NULL;
	if ((fd = open(u->edited, O_RDONLY | O_CLOEXEC)) < 0 ||
	    fstat(fd, &sb) < 0 || (u->edbuf = malloc((size_t)sb.st_size +
	    1)) == NULL || read(fd, u->edbuf, (size_t)sb.st_size) !=
	    sb.st_size) {
		say(u, 1, "edit: %s: %s", u->edited, strerror(errno));
		free(u->edbuf);
		u->edbuf = NULL;
	} else
		u->edlen = (size_t)sb.st_size;
	if (fd >= 0)
		close(fd);
	unlink(u->edited);
	u->edited[0] = '\0';
	if (u->edbuf == NULL)
		return;
	target_of(u, ci, target, sizeof(target));
	ask(u, P_EDITED, target);
}

void
ui_key(struct ui *u, int key)
{
	long ci, xi, page;
	char target[256];
	size_t i;

	u->dirty = 1;
	if (u->help) {
		u->help = 0;
		return;
	}
	if (u->prompt != P_NONE) {
		prompt_key(u, key);
		return;
	}
	if (key != 'n' && key != 'N')
		u->msg[0] = '\0';
	page = u->focus == F_TABLE ? (u->rows_h > 1 ? u->rows_h - 1 : 1) :
	    (u->pane_h > 1 ? u->pane_h - 1 : 1);
	row_of(u, u->sel, &ci, &xi);
	switch (key) {
	case 'q':
		u->quit = 1;
		break;
	case '?':
		u->help = 1;
		break;
	case KEY_UP: case 'k':
		move_sel(u, -1);
		break;
	case KEY_DOWN: case 'j':
		move_sel(u, 1);
		break;
	case KEY_PPAGE:
		move_sel(u, -page);
		break;
	case KEY_NPAGE:
		move_sel(u, page);
		break;
	case KEY_HOME: case 'g':
		if (u->focus == F_TABLE) {
			move_sel(u, -(long)u->nrows);
			u->top = 0;
		}
		else
			u->det.p[u->focus == F_REQ ? 0 : 1].top = 0;
		break;
	case KEY_END: case 'G':
		if (u->focus == F_TABLE) {
			move_sel(u, (long)u->nrows);
			u->follow = 1;
		} else {
			struct pane *p = &u->det.p[u->focus == F_REQ ? 0 : 1];

			p->top = p->nline > (size_t)page ? p->nline -
			    (size_t)page : 0;
		}
		break;
	case '\t':
		u->focus = (enum focus)((u->focus + 1) % 3);
		break;
	case KEY_BTAB:
		u->focus = (enum focus)((u->focus + 2) % 3);
		break;
	case 'l':
		u->side = !u->side;
		break;
	case 'f':
		u->fmt = !u->fmt;
		say(u, 0, "formatting %s", u->fmt ? "on" : "off");
		break;
	case 'x':
		u->hex = !u->hex;
		break;
	case 'h':
		u->heads = !u->heads;
		break;
	case 'c':
		u->per_conn = !u->per_conn;
		u->rows_dirty = 1;
		/* The selection stays on the connection. */
		rows_make(u);
		for (i = 0; ci >= 0 && i < u->nrows; i++) {
			long c2, x2;

			row_of(u, (long)i, &c2, &x2);
			if (c2 == ci) {
				u->sel = (long)i;
				break;
			}
		}
		say(u, 0, "a row per %s", u->per_conn ? "connection" :
		    "exchange");
		break;
	case '/':
		ask(u, P_SEARCH, NULL);
		break;
	case 'n':
		search(u, 1);
		break;
	case 'N':
		search(u, -1);
		break;
	case 'F':
		ask(u, P_FILTER, u->filter);
		break;
	case 27:	/* Esc */
		if (u->filter_on)
			act_filter_clear(u);
		u->search[0] = '\0';
		u->hit_pane = 0;
		u->follow = 1;
		break;
	case ' ':
		if (ci >= 0) {
			u->ix->c[ci].flags ^= VC_MARKED;
			move_sel(u, 1);
		}
		break;
	case 'd':
		if (ci < 0)
			break;
		if (u->per_conn)
			u->ix->c[ci].flags |= VC_DELETED;
		else
			u->ix->x[xi].flags |= VX_DELETED;
		u->rows_dirty = 1;
		u->follow = 0;
		break;
	case 'w': {
		unsigned char *want;
		long n;

		if ((want = calloc(u->ix->nc + 1, 1)) == NULL)
			break;
		n = save_set(u, want);
		free(want);
		if (n == 0) {
			say(u, 1, "nothing to save");
			break;
		}
		ask(u, P_SAVE, NULL);
		say(u, 0, "%ld connection%s", n, n == 1 ? "" : "s");
		break;
	}
	case 'W':
		if (ci < 0)
			break;
		detail_make(u);
		ask(u, P_SAVE_RAW, NULL);
		break;
	case 'r': case 'e':
		if (ci < 0)
			break;
		detail_make(u);
		if (!u->det.s[0].have || !u->det.s[0].http) {
			say(u, 1, "no HTTP request to resend");
			break;
		}
		orig_of(u, ci, u->orig, sizeof(u->orig));
		if (key == 'e') {
			edit(u, ci);
			break;
		}
		target_of(u, ci, target, sizeof(target));
		ask(u, P_RESEND, target);
		break;
	case KEY_RESIZE:
		break;
	default:
		break;
	}
}
