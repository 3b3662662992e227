/* record.h - the tcpmon record format (man/tcpmon-record.5): the one contract
 * between all tools.  A record is one ASCII header line, the raw payload and
 * a newline:
 *
 *	TCPMON/1 data conn=3 src=r41 time=2026-11-22T10:00:00.123456Z dir=c2s len=5\n
 *	hello\n
 */
#ifndef TCPMON_RECORD_H
#define TCPMON_RECORD_H

#include <stddef.h>
#include <stdint.h>

#define REC_VERSION	1
#define REC_TAG		"TCPMON/1"
#define REC_MAX_PAYLOAD	(16u * 1024 * 1024)	/* bytes in one record */
#define REC_MAX_HEADER	4096			/* header line with its newline */
#define REC_MAX_FIELDS	32			/* fields besides the core ones */

enum rec_type {
	REC_UNKNOWN,	/* a kind this version does not know: pass it on */
	REC_STREAM,	/* stream metadata: tool, version */
	REC_OPEN,	/* a connection: client, listen, target */
	REC_DATA,	/* bytes in one direction */
	REC_SHUTDOWN,	/* one direction half-closed */
	REC_CLOSE,	/* the end: reason, byte totals */
	REC_NOTE	/* free text from a tool, in the payload */
};

enum rec_dir { REC_NODIR, REC_C2S, REC_S2C };

struct rec_field {
	const char	*key;
	const char	*val;	/* unescaped */
};

struct rec {
	enum rec_type	 type;
	const char	*kind;		/* the kind as written */
	uint64_t	 conn;		/* 0: the stream itself */
	const char	*src;		/* source tag, or NULL */
	int64_t		 usec;		/* UTC microseconds, or -1 */
	enum rec_dir	 dir;
	size_t		 len;		/* payload length */
	const unsigned char *data;	/* payload (reader: valid until next read) */
	int		 nfield;
	struct rec_field field[REC_MAX_FIELDS];	/* the other fields, in order */
	char		 store[REC_MAX_HEADER];	/* the strings above */
	size_t		 nstore;
};

/* Building a record: kind from type, no fields, time now. */
void	 rec_init(struct rec *, enum rec_type, uint64_t conn);
/* A kind by name (for kinds this version does not know). */
int	 rec_init_kind(struct rec *, const char *kind, uint64_t conn);
int	 rec_set_src(struct rec *, const char *src);
/* Adds or replaces a field; -1 if the key is invalid or the record is full. */
int	 rec_set(struct rec *, const char *key, const char *val);
int	 rec_setf(struct rec *, const char *key, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
int	 rec_del(struct rec *, const char *key);
const char *rec_get(const struct rec *, const char *key);
int	 rec_get_u64(const struct rec *, const char *key, uint64_t *);
/* Copies a record (with its fields) so it outlives the reader's buffer;
 * the payload pointer is copied as is. */
void	 rec_copy(struct rec *dst, const struct rec *src);

const char *rec_dir_name(enum rec_dir);	/* "c2s", "s2c" or "" */
const char *rec_type_name(enum rec_type);

/*
 * Formats the header line (with its newline) for r and a payload of len
 * bytes.  Returns its length, or 0 if it does not fit in n bytes.
 */
size_t	 rec_header(const struct rec *r, size_t len, char *buf, size_t n);
/*
 * Parses one header line of n bytes (with its newline) into r.  Returns 0,
 * or -1 with *why set to a short description of the problem.
 */
int	 rec_parse_header(const char *line, size_t n, struct rec *r,
	    const char **why);

/* Reading a stream of records, one record in memory at a time. */
struct rec_reader {
	int		 fd;		/* -1: reading from memory */
	const char	*name;		/* for messages: a file name or "stdin" */
	unsigned char	*buf;
	size_t		 cap, pos, end;
	int		 own;		/* buf is ours to free */
	int		 eof;
	uint64_t	 nrec;		/* records returned so far */
	uint64_t	 off;		/* stream offset of buf[pos] */
	const unsigned char *raw;	/* the last record's bytes, as read */
	size_t		 rawlen;
	/* Called before every read(2) that may block: a filter flushes its
	 * output there, so a live stream is never held back in a buffer. */
	void		(*idle)(void *);
	void		*idle_arg;
	char		 err[512];
	/* A gzip'd capture (a rotated file, say) is read as it is: found by
	 * its magic number at the start, inflated as it is read. */
	int		 sniffed;	/* the start was looked at */
	void		*gz;		/* z_stream, or NULL */
	unsigned char	*zbuf;
	size_t		 zpos, zend;
	int		 zdone;		/* a member ended: another may follow */
};

#define REC_OK		1
#define REC_END		0
#define REC_ERR		(-1)	/* rd->err says "NAME: record N at byte O: ..." */
#define REC_AGAIN	(-2)	/* non-blocking fd and no whole record yet */

int	 recr_init(struct rec_reader *, int fd, const char *name);
int	 recr_init_mem(struct rec_reader *, const void *, size_t, const char *);
void	 recr_free(struct rec_reader *);
int	 recr_next(struct rec_reader *, struct rec *);

/* Writing: buffered; large payloads go to the fd without a copy. */
struct rec_writer {
	int		 fd;
	unsigned char	*buf;
	size_t		 cap, len;
	uint64_t	 nrec;
	int		 error;		/* errno of the first failed write */
};

int	 recw_init(struct rec_writer *, int fd);
void	 recw_free(struct rec_writer *);
/* Writes r with the given payload (r->len and r->data are ignored). */
int	 recw_put(struct rec_writer *, const struct rec *r, const void *data,
	    size_t len);
/* Writes bytes that are already one or more whole records. */
int	 recw_put_raw(struct rec_writer *, const void *, size_t);
int	 recw_flush(struct rec_writer *);

#endif
