/* relay.h - the parts of tcpmon-relay: options, listeners and signals
 * (relay.c), the connection state machine (conn.c) and where the records go:
 * the output and the --tap viewers (out.c). */
#ifndef TCPMON_RELAY_H
#define TCPMON_RELAY_H

#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "loop.h"
#include "net.h"
#include "record.h"

/* Bytes taken in one read, and so the most one direction holds in flight:
 * large reads keep the system calls per byte (and the records) few. */
#define RELAY_BUF	(256 * 1024)
/* A read at least this large makes the next one of its direction go
 * through splice(2) (when it may): under it, recv and send cost fewer
 * system calls than splice, tee and two splices, and the copy is small. */
#define SPLICE_MIN	(32 * 1024)
#define MAX_LISTENERS	64
/* Free direction buffers kept for reuse rather than returned to malloc,
 * which would hand 256 KiB blocks back to the kernel every time. */
#define POOL_MAX	32
#define MAX_STAGES	16	/* --through, in one chain */
/* At exit, how long the output may take nothing before the relay gives
 * up on it (lossless recording waits for a slow reader, not a dead one). */
#define EXIT_STALL_MS	10000

enum side { CLIENT, SERVER };

struct listener {
	int		 fd;
	int		 proxy;		/* --proxy: the target is asked for */
	struct addr	 target;	/* as given */
	struct sockaddr_any taddr;	/* resolved once, at start */
	char		 text[ADDR_TEXT + 256];	/* the bound address */
	int		 paused;
	int		 passed;	/* given, not bound: not ours to unlink */
	int		 tls_in;	/* -l tls:: clients speak TLS to us */
	int		 tls_out;	/* -t tls:: we speak TLS to the target */
	struct relay	*r;
};

struct half;
struct conn;

/* How bytes are read from and written to one side of a connection: a
 * plain socket (conn.c's sock_transport), or TLS over it (tls.c).  As
 * recv(2) and send(2), never blocking: -1 with errno EAGAIN when it must
 * wait. */
struct transport {
	const char *name;
	ssize_t	(*recv)(struct conn *, enum side, void *, size_t);
	ssize_t	(*send)(struct conn *, enum side, const void *, size_t);
	/* Sends no more: a FIN (TLS: its close_notify first). */
	void	(*shut)(struct conn *, enum side);
	/* Events it waits for beyond the data's own: TLS may have to read
	 * to write, or write to read. */
	unsigned (*wants)(const struct conn *, enum side);
	/* The kernel sees the bytes as they are: splice may carry them. */
	int	 plain;
};

/* How one direction's bytes are held between their read and their
 * delivery: copied through a buffer of the pool (conn.c), or spliced
 * through a pipe pair (splice.c).  Chosen at each read. */
struct carrier {
	/* Reads once from side from of c into h: as recv(2).  When it
	 * gave bytes, *copyfd is -1 if they are in h->buf, else a pipe
	 * that holds the record's copy of them. */
	ssize_t	(*take)(struct relay *, struct conn *, enum side from,
		    struct half *, int *copyfd);
	/* Hands what h holds to side to of c: as send(2). */
	ssize_t	(*send)(struct relay *, struct conn *, enum side to,
		    struct half *);
	/* Gives back what h holds: once delivered, or at the end. */
	void	(*drop)(struct relay *, struct half *);
};

/* One direction of a connection: bytes read from one socket that the other
 * has not taken yet.  The buffer is borrowed from the pool only while bytes
 * wait in it, so an idle connection costs no buffer memory. */
struct half {
	unsigned char	*buf;
	size_t		 off, len;
	int		 eof;		/* the sender half-closed */
	int		 shut;		/* and we passed the FIN on */
	int		 rst;		/* the sender failed (an errno): the
					 * bytes it sent before are read and
					 * passed on first */
	uint64_t	 total;
	/* With stages, len counts what the last stage gave for the receiver
	 * (in dq, not buf), and the sender is read into a scratch buffer. */
	int		 fin;		/* the stage's shutdown came: FIN when
					 * buf is drained */
	size_t		 staged;	/* bytes not yet taken by the stage */
	struct chunk	*dq, *dqtail;	/* stages: buf's place, any length */
	struct spipe	*sp;		/* spliced: the bytes wait in sp->a,
					 * not in buf (splice.c) */
	const struct carrier *carrier;	/* of the bytes in flight */
	int		 bulk;		/* the last read was SPLICE_MIN or more:
					 * the next is spliced if it may be */
};

struct lingering;
struct rec;

/* Where a connection's bytes and records go when not straight across to
 * the other socket: through the stages (stage.c's stage_detour, set by
 * relay.c when there are stages).  conn.c calls these, and stage.c calls
 * conn.c's steps in turn; through this table, not by name, so that the two
 * files do not depend on each other both ways. */
struct detour {
	/* Every record of a connection. */
	void	(*record)(struct relay *, struct conn *, struct rec *,
		    const void *, size_t);
	/* The server side is up. */
	void	(*connected)(struct relay *, struct conn *);
	/* Events on the sockets of a connection open in the stages. */
	void	(*event)(struct relay *, struct conn *, int fd, unsigned ev);
	void	(*watch)(struct relay *, struct conn *);
	void	(*side_failed)(struct relay *, struct conn *, enum side,
		    int e);
	/* The relay ends the connection itself (idle timeout). */
	void	(*end)(struct relay *, struct conn *, const char *reason,
		    const char *error);
	/* The connection is freed. */
	void	(*forget)(struct relay *, struct conn *);
};

/* What proxy.c hears of the upstream conversations it started: NULL
 * hooks in forward mode.  failed comes before the close record, so that
 * the answer the proxy gives can be recorded in the conversation. */
struct conn_hooks {
	void	(*connected)(struct conn *, void *);
	void	(*failed)(struct conn *, void *, const char *reason,
		    const char *msg);
	void	(*gone)(struct conn *, void *);
};

/*
 * Where a connection is.  The steps before bytes flow go one at a time, in
 * an order that depends on the mode: forward, connect [upstream] [server
 * TLS]; a tls: listener, the client's TLS first; proxy mode's --mitm,
 * connect [upstream], then the client's TLS (the proxy's 200 waits for the
 * connect), then the server's for the name the client asked for.  conn.c's
 * handshake() and server_ready() say which step follows which.  What is
 * orthogonal to the step stays a flag: parked (no room in the output),
 * in_stage and ending (the detour through the stages).
 */
enum conn_state {
	CS_CLIENT_HELLO,	/* TLS expected: the client's first bytes
				 * are awaited, to see whether they are */
	CS_CLIENT_TLS,		/* the client's TLS handshake */
	CS_CONNECTING,		/* connect(2) toward the server, or the
				 * upstream proxy */
	CS_UPSTREAM,		/* CONNECT sent to --upstream-proxy, its
				 * answer awaited */
	CS_SERVER_TLS,		/* the server's TLS handshake */
	CS_UP,			/* bytes flow, each direction on its own */
};

struct conn {
	uint64_t	 id;
	int		 cfd, sfd;
	const struct transport *tp[2];	/* by side */
	struct tls	*tls[2];	/* by side, or NULL (tls.c) */
	int		 open_late;	/* the open record waits for the TLS
					 * handshakes: it carries what they
					 * agreed */
	const struct sockaddr_any *sa;	/* where it connects */
	char		*host;		/* the name TLS is for, or NULL */
	int		 mitm;		/* proxy mode's --mitm: TLS to both,
					 * after the connect */
	int		 told;		/* hooks->connected was called */
	/* --mitm: a client refused the relay's certificate (proxy.c then
	 * tunnels that host). */
	void		(*tls_learn)(struct relay *, struct conn *,
			    const char *why);
	enum conn_state	 state;
	struct listener	*l;
	char		*target;	/* where it goes, as shown */
	char		*request;	/* proxy mode: a CONNECT's request
					 * line, for the open record */
	char		 client[ADDR_TEXT + 16];	/* where it came from */
	uint64_t	 client_conn;	/* proxy mode: the client's connection */
	const struct conn_hooks *hooks;
	void		*harg;
	struct half	 c2s, s2c;
	int64_t		 started;	/* monotonic ms */
	int64_t		 active;	/* last byte moved, monotonic ms */
	int		 parked;	/* waiting for room in the output */
	struct relay	*r;
	struct conn	*prev, *next;	/* every connection */
	struct conn	*pprev, *pnext;	/* the parked ones */
	int		 rsides;	/* the sides the relay resets at the
					 * end: 1 client, 2 server */
	int		 in_stage;	/* its open went into the stages */
	int		 ending;	/* and its close: the sockets wait for
					 * the stage's close */
	struct conn	*hnext;		/* stages: by id */
};

/* Whether c is still in the steps before bytes flow: a TLS handshake,
 * the connect, or the upstream proxy's CONNECT. */
static inline int
conn_setting_up(const struct conn *c)
{
	return c->state != CS_UP;
}

/* Whether side s's TLS handshake is under way (or, for the client, about
 * to be). */
static inline int
conn_in_handshake(const struct conn *c, enum side s)
{
	return s == CLIENT ? c->state == CS_CLIENT_HELLO ||
	    c->state == CS_CLIENT_TLS : c->state == CS_SERVER_TLS;
}

/* Record bytes on their way to one file descriptor. */
struct outq {
	int		 fd;
	int		 sync;		/* a regular file or a device: written
					 * in place, as epoll cannot watch it */
	unsigned char	*buf;
	size_t		 cap, off, len;
	int		 stall_ms;	/* how long a wait for the reader may
					 * take nothing: -1, for ever */
	int		 err;		/* a write failed for want of room
					 * (ENOSPC, EDQUOT): the bytes wait in
					 * buf, retried by out_retry */
};

struct viewer {
	struct outq	 q;
	uint64_t	 id;
	int		 cut;		/* cut off: only its last note goes */
	int64_t		 cut_at;	/* monotonic ms */
	struct relay	*r;
	struct viewer	*next;
};

/* -o FILE's rotation (capture.c); 0: not by that. */
struct rotation {
	uint64_t	 size;		/* --rotate-size, bytes */
	uint64_t	 ms;		/* --rotate-time */
	uint64_t	 keep;		/* --rotate-keep: rotated files kept */
	int		 gzip;		/* --rotate-gzip */
};

struct relay {
	struct loop	*loop;
	struct outq	 out;
	const char	*outname;
	int		 out_fl;	/* the output's file flags at start */
	int		 lossy;
	uint64_t	 drop_recs, drop_bytes;	/* not yet noted */
	pid_t		 view_pid;	/* the terminal view, or 0 */
	char		 src[64];
	struct listener	 l[MAX_LISTENERS];
	int		 nl;
	int		 tapfd;		/* --tap listener, or -1 */
	char		 tappath[108];
	struct viewer	*viewers;
	uint64_t	 next_viewer;
	uint64_t	 next_id;
	struct conn	*conns;
	struct conn	*parked;
	uint64_t	 nconns;
	uint64_t	 max_conns;	/* clients, in proxy mode */
	int		 max_by_fds;	/* the descriptors set it, not
					 * --max-conns */
	uint64_t	 fd_room;	/* descriptors for connections */
	uint64_t	 nclients;	/* proxy mode's client connections */
	int		 reserve_fd;	/* given up to refuse a client when
					 * descriptors run out */
	struct ratelim { int64_t at; uint64_t quiet; } full_note, fd_note;
	uint64_t	 head_ms;	/* --head-timeout: 0, no limit */
	uint64_t	 connect_ms;	/* 0: no limit */
	uint64_t	 idle_ms;	/* 0: no limit */
	int		 verbose;
	int		 quiet;
	unsigned char	*pool[POOL_MAX];
	int		 npool;
	struct upstream	*upstream;	/* --upstream-proxy, or NULL */
	struct proxy	*proxy;		/* proxy mode's state, or NULL */
	struct stages	*stage;		/* --through, or NULL */
	struct tlsctx	*tls;		/* tls.c's contexts, or NULL */
	int		 mitm;		/* --mitm: CONNECTs decrypted */
	const struct detour *detour;	/* &stage_detour with stages */
	int		 status;	/* the exit status */
	struct spipe	*spare;		/* free pipe pairs (splice.c) */
	int		 nspare, nsp;	/* free, and in all */
	int		 nosplice;	/* the output refused splice */
	int64_t		 out_paused;	/* when out.err began (monotonic ms),
					 * or 0 */
	int		 stopping;	/* conn_stop_all or out_lost */
	const char	*outpath;	/* -o FILE, or NULL */
	struct rotation	 rot;
	uint64_t	 cap_bytes;	/* in the current file */
	uint64_t	 cap_recs;
	int64_t		 cap_opened;	/* monotonic ms */
	pid_t		 gz_pid;	/* compressing rotated files, or 0 */
	char		**gz_pending;	/* rotated since it started */
	size_t		 gz_npending;
	struct lingering *lingering;	/* resets waiting for bytes to go */
	const char	*via_token;	/* proxy mode: in our Via headers
					 * (proxy.c), or NULL */
	/* What the record output (out.c) tells those who give it records;
	 * relay.c sets them, so that out.c calls nothing above it: it has
	 * room again after it was full, and it cannot be written any more
	 * (never returns). */
	void		(*out_room_again)(struct relay *);
	void		(*out_lost)(struct relay *, const char *msg);
};

/* conn.c */
void	 conn_accept(struct relay *, struct listener *, int cfd);
/* TLS for conn_open: on the client's side, the server's, and --mitm's
 * order (the connect first). */
#define CONN_TLS_CLIENT	1u
#define CONN_TLS_SERVER	2u
#define CONN_MITM	4u
/*
 * A conversation from cfd (already connected: a client, or proxy.c's end
 * of a socket pair) to target at sa, with open record fields client and,
 * when not 0 or NULL, client-conn and request; with TLS (CONN_* in tls) for
 * the name host.  Returns NULL when it failed at once (the hooks have been
 * told).
 */
struct conn *conn_open(struct relay *, struct listener *, int cfd,
	    const char *client, const char *target,
	    const struct sockaddr_any *sa, uint64_t client_conn,
	    const char *request, const struct conn_hooks *, void *harg,
	    unsigned tls, const char *host);
/* A note record of the connection (level=info), and on stderr with -v. */
void	 conn_note(struct relay *, struct conn *, const char *text);
/* Records one data record of conn c (extra: one key=value field or NULL). */
void	 conn_put_data(struct relay *, uint64_t id, enum rec_dir,
	    const char *key, const char *val, const void *, size_t);
void	 conn_sweep(struct relay *);
void	 conn_stop_all(struct relay *);
void	 conn_unpark_all(struct relay *);
/* The pool of RELAY_BUF buffers that bytes wait in: a connection's
 * halves and the proxy's clients borrow one only while bytes wait. */
unsigned char *pool_get(struct relay *);
void	 pool_put(struct relay *, unsigned char *);
void	 pool_free(struct relay *);
/* The steps of a connection, for stage.c. */
void	 conn_open_rec(struct relay *, struct conn *, struct rec *);
void	 conn_close_rec(struct relay *, struct conn *, struct rec *,
	    const char *reason, int side, const char *error);
void	 conn_put_close(struct relay *, struct conn *, const char *reason,
	    int side, const char *error);
/* Reads once from a side into buf and records it; as take() in conn.c. */
ssize_t	 conn_read(struct relay *, struct conn *, unsigned char *buf,
	    enum side, enum rec_dir);
/* The socket of a side (-1 when it is gone); inline, so that the
 * transports and carriers below conn.c need nothing of it. */
static inline int
conn_fd(const struct conn *c, enum side s)
{
	return s == CLIENT ? c->cfd : c->sfd;
}
extern const struct transport sock_transport;
void	 conn_park(struct relay *, struct conn *);
void	 conn_end(struct relay *, struct conn *, int reset_client,
	    int reset_server);
/* Resets both sides of every connection, without records: the output is
 * lost (out_lost in relay.c).  Returns how many there were. */
uint64_t conn_reset_all(struct relay *);
/* Resets whose bytes went out or whose time is up. */
void	 conn_linger_sweep(struct relay *);

/* upstream.c: --upstream-proxy */
/* Parses HOST:PORT, resolves it and reads the credentials from the
 * environment; exits with a message on failure. */
void	 upstream_init(struct relay *, const char *spec);
const char *upstream_text(const struct relay *);
const struct sockaddr_any *upstream_addr(const struct relay *);
/* Sends CONNECT for target on fd (just connected); -1 with msg set. */
int	 upstream_start(struct relay *, int fd, const char *target,
	    char *msg, size_t n);
/* Reads the upstream's answer: 1 the tunnel is up, 0 more to come, -1
 * failed with msg set (the status line when there is one). */
int	 upstream_reply(struct relay *, int fd, char *msg, size_t n);

/* proxy.c: --proxy */
int	 proxy_init(struct relay *);
/* --no-mitm: a host pattern whose CONNECTs stay tunnels; -1 when there
 * are too many. */
int	 proxy_no_mitm(const char *pattern);
/* Adds a CIDR to the clients admitted; -1 with a reason. */
int	 proxy_allow(const char *cidr, const char **why);
void	 proxy_accept(struct relay *, struct listener *, int cfd);
/* Answers 503 on cfd and closes it: out of descriptors. */
void	 proxy_refuse(struct relay *, int cfd);
void	 proxy_sweep(struct relay *);
/* Ends every client connection with a reset; returns how many. */
uint64_t proxy_stop_all(struct relay *);
/* At exit: what proxy_init, proxy_allow and upstream_init took. */
void	 proxy_free(struct relay *);

/* listen.c: the listeners paused and resumed as connections come and go */
/* Whether another connection (a client, in proxy mode) may be taken. */
int	 listen_full(const struct relay *);
/* Stops taking clients: they wait in the listen queue. */
void	 listen_pause(struct relay *);
/* Takes clients again, if there is room now. */
void	 listen_resume(struct relay *);

/* stage.c: the --through chain (tcpmon-relay(1), STAGES). */
void	 stage_start(struct relay *, char *const *cmds, int n,
	    uint64_t timeout_ms);
/* Exits 1 when a stage could not start. */
void	 stage_ready(struct relay *);
extern const struct detour stage_detour;
void	 stage_sweep(struct relay *);
void	 stage_unpark(struct relay *);
/* Ends and reaps the stages: at exit. */
void	 stage_stop(struct relay *);

/* splice.c: the zero-copy data path, taken when the records go to a file
 * or a device and nothing else wants the bytes in memory. */
extern const struct carrier sp_carrier;
/* Whether conn c may read with splice now: 1 with a pipe pair lent to h
 * for the read, 0 when it reads by copying. */
int	 sp_ready(struct relay *, struct conn *, struct half *);
void	 sp_free(struct relay *);

/* tls.c: TLS on either side (tcpmon-relay(1), TLS) */
struct tls_opts {
	const char	*cert, *key;	/* -l tls:'s certificate */
	const char	*sni;		/* --sni */
	const char	*ca_file;	/* --ca-file */
	int		 insecure;	/* --insecure */
	const char	*client_cert, *client_key;
	const char	*keylog;	/* --keylog, else SSLKEYLOGFILE */
	const char	*ca_dir;	/* --ca-dir: minted certificates */
};
extern const struct transport tls_transport;
/* Makes what the tls: listeners (need_server) and targets (need_client)
 * need; exits 2 naming a file that cannot be used, and why. */
void	 tls_init(struct relay *, const struct tls_opts *, int need_server,
	    int need_client);
void	 tls_finish(struct relay *);
/* Puts TLS on side s of c (its socket connected; host: the name the
 * server must prove, for the server side).  -1 with msg set. */
int	 tls_start(struct relay *, struct conn *, enum side, const char *host,
	    char *msg, size_t n);
/* Takes the handshake on: 1 done, 0 waiting for tls_handshake_wants's
 * events, -1 failed with msg set. */
int	 tls_handshake(struct conn *, enum side, char *msg, size_t n);
unsigned tls_handshake_wants(const struct conn *, enum side);
/* The name the client of side s asked for (SNI), or NULL. */
const char *tls_sni(const struct conn *, enum side);
void	 tls_free(struct conn *, enum side);
/* The open record's fields that say what TLS side s had. */
void	 tls_rec(const struct relay *, const struct conn *, enum side,
	    struct rec *);

/* ca.c: the relay's CA, and the certificates it mints */
struct ca;
struct x509_st;
struct evp_pkey_st;
/* The CA in dir, made there if there is none; exits when it cannot be
 * used (2 when others may read it, saying how to fix that). */
struct ca *ca_open(const char *dir, int quiet);
void	 ca_print(const struct ca *, FILE *);
/* Whether name may go into a certificate: a host name of letters, digits,
 * - _ . and *, or an IPv4 or IPv6 address. */
int	 ca_name_ok(const char *name);
/* The certificate for name (ca_name_ok), and its key: minted
 * or from the cache.  -1 when out of memory. */
int	 ca_leaf(struct ca *, const char *name, struct x509_st **,
	    struct evp_pkey_st **);
void	 ca_free(struct ca *);

/* capture.c: the -o file */
/* Opens (creates, truncates) a capture file: the owner's own, no symbolic
 * link, locked; -1 with why set. */
int	 capture_open(const char *path, char *why, size_t n);
/* Whether the file is due for rotation: by size before a record of next
 * bytes, by age when next is 0. */
int	 capture_due(const struct relay *, size_t next);
/* Renames the file to a stamped name (into old) and opens a new one at
 * its path: the new descriptor, or -1 (said on stderr) when the records go
 * on into the old file. */
int	 capture_cut(struct relay *, char *old, size_t n);
/* A new file has begun: its size and age count from here. */
void	 capture_started(struct relay *);
/* After a cut: compression and pruning of the rotated files. */
void	 capture_rotated(struct relay *, const char *old);
/* After n bytes more in the file. */
void	 capture_counted(struct relay *, size_t n);
/* Each sweep: compressions that ended. */
void	 capture_sweep(struct relay *);
/* SIGHUP: whether the file was moved away (logrotate), so that a new one
 * is wanted; says so when it was not. */
int	 capture_moved(const struct relay *);
/* At exit: waits for the compressions under way. */
void	 capture_finish(struct relay *);

/* out.c */
int	 out_init(struct relay *, int fd, const char *name);
/* Writes a record to the output and to every viewer.  Lossless, it waits
 * for room when it must; --lossy, it drops what does not fit. */
void	 relay_put(struct relay *, struct rec *, const void *, size_t);
/* The same for n payload bytes waiting in the pipe fd, which it empties:
 * only for a sync output without viewers. */
void	 relay_put_pipe(struct relay *, struct rec *, int fd, size_t n);
/* The stream record that starts the output and each viewer's stream. */
void	 relay_stream_rec(struct relay *, struct rec *);
/* Whether a data record of RELAY_BUF bytes may be taken now.  When not,
 * the caller stops reading until conn_unpark_all. */
int	 out_room(struct relay *);
void	 out_flush(struct loop *, void *);
/* With the output paused by a full disk: tries again (each sweep). */
void	 out_retry(struct relay *);
/* Writes all that waits, blocking if need be: at exit. */
void	 out_finish(struct relay *);
/* -o FILE: a new file when rotation is due by its age (each sweep), and
 * on SIGHUP when the file was moved away. */
void	 out_rotate_sweep(struct relay *);
void	 out_reopen(struct relay *);
int	 tap_open(struct relay *, const char *path);
void	 tap_close(struct relay *);
void	 tap_sweep(struct relay *);

/* activate.c: listening sockets passed by systemd or a supervisor. */
/* Checks that fd is a listening stream socket, and makes it non-blocking
 * and close-on-exec; -1 with msg set if it is not one. */
int	 activate_take(int fd, char *msg, size_t msglen);
/* The sockets systemd passed to this process (LISTEN_FDS, LISTEN_PID), each
 * taken, into fds with its LISTEN_FDNAMES name or NULL: their number, 0 if
 * none, -1 with msg set.  Unsets LISTEN_* in every case. */
int	 activate_systemd(int *fds, char **names, int max, char *msg,
	    size_t msglen);

#endif
