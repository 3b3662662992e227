/* util.h - what every tcpmon tool shares besides records: exit statuses,
 * the program name for err(3)-style messages, checked numbers and time. */
#ifndef TCPMON_UTIL_H
#define TCPMON_UTIL_H

#include <stddef.h>
#include <stdint.h>

#define TCPMON_VERSION "0.1.0"

/* Exit statuses, by situation, the same in every tool and every man page
 * (HACKING.md, "Exit statuses"). */
#define TM_EXIT_OK	0	/* the job was done */
#define TM_EXIT_FAIL	1	/* the job failed: a peer, a listener or a
				 * stage failed, the output could not be
				 * written, memory ran out; tap and grep:
				 * nothing was selected */
#define TM_EXIT_USAGE	2	/* bad usage; bad input: an input file that
				 * cannot be opened or read, input that is
				 * not a record stream */

/*
 * The hidden option every tool answers when it is its only argument: the
 * tool's long options, for the shell completions made at build time
 * (dist/completion/gen.sh), so that they are the getopt table itself.  One
 * line per option, "NAME SHORT ARG": SHORT the letter that is the same
 * option or "-", ARG 0 (no argument), 1 (required) or 2 (optional).
 * Returns an exit status: TM_EXIT_FAIL when fd did not take it all.
 */
#define TM_LIST_OPTIONS	"--list-options"
struct option;
int	tm_list_options(int fd, const struct option *longopts);

/* Names the program in err(3)/warn(3) messages and in getopt's, whatever
 * argv[0] was (a path, a libtool wrapper): argv[0] becomes name. */
void	tm_setprogname(char **argv, const char *name);

/*
 * Parses a whole unsigned decimal number with an optional k, m or g suffix
 * (powers of 1024) and checks min <= n <= max.  Returns 0, or -1 with *errstr
 * set to "invalid", "too small" or "too large", as strtonum(3) does.
 */
int	num_parse(const char *s, uint64_t min, uint64_t max, uint64_t *out,
	    const char **errstr);

/* Parses a duration: a number with an optional ms, s, m or h suffix
 * (no suffix: seconds) into milliseconds. */
int	dur_parse(const char *s, uint64_t max_ms, uint64_t *ms,
	    const char **errstr);

/*
 * A command line's numbers and durations, for the getopt loops of every
 * tool: the value, or exit 2 (TM_EXIT_USAGE) with the one line
 * "PROG: OPT ARG: why", and range, when not NULL, after why in
 * parentheses ("too small (4k to 1024t)").
 */
uint64_t opt_num(const char *opt, const char *arg, uint64_t min, uint64_t max,
	    const char *range);
uint64_t opt_dur(const char *opt, const char *arg, uint64_t max_ms);

/* Parses a fraction from 0 to 1: a decimal such as 0.25 or 1, or a percentage
 * such as 25% or 0.5%.  Returns 0, or -1 with *errstr set as num_parse does. */
int	frac_parse(const char *s, double *out, const char **errstr);

/* Microseconds since the epoch, UTC. */
int64_t	tm_now_us(void);
/* Monotonic milliseconds, for timers. */
int64_t	tm_mono_ms(void);
/* Monotonic microseconds, for schedules finer than timers. */
int64_t	tm_mono_us(void);

/* "2026-11-22T10:00:00.123456Z"; buf needs TM_TIME_LEN bytes. */
#define TM_TIME_LEN 32
char	*tm_fmt_time(int64_t usec, char *buf, size_t n);
/* Parses the form above; also accepts no fraction, or fewer digits. */
int	tm_parse_time(const char *s, int64_t *usec);

/* Opens a file named on the command line for reading, or stdin for "-";
 * *name is what messages call it ("stdin" or the path).  Returns the fd,
 * or -1 with errno set: bad input, TM_EXIT_USAGE, for the caller to keep
 * while it goes on to its other inputs. */
int	tm_open_input(const char *path, const char **name);

/* Writes all of buf to a blocking fd, retrying on EINTR; -1 on error. */
int	write_all(int fd, const void *buf, size_t n);

/* Base64 (RFC 4648, padded) of n bytes into out, which needs
 * 4 * ((n + 2) / 3) + 1 bytes; returns the length written. */
size_t	b64_encode(const void *in, size_t n, char *out);

#endif
