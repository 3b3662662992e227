/* capture.c - the -o file: opened safely (the owner's own, never through a
 * symbolic link, locked against a second relay), rotated by size or age,
 * compressed once rotated, and reopened on SIGHUP for logrotate. */
#include <dirent.h>
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "relay.h"
#include "util.h"

/* ".YYYYMMDDTHHMMSS.uuuuuuZ" after the file's name */
#define STAMP_LEN	24

/* The pid that holds a flock(2) on the file of st, from /proc/locks, or
 * -1. */
static long
lock_holder(const struct stat *st)
{
	char line[256], type[16];
	unsigned long ino;
	unsigned maj, min;
	long pid, found = -1;
	FILE *f;

	if ((f = fopen("/proc/locks", "re")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "%*d: %15s %*s %*s %ld %x:%x:%lu", type, &pid,
		    &maj, &min, &ino) == 5 && strcmp(type, "FLOCK") == 0 &&
		    ino == st->st_ino && makedev(maj, min) == st->st_dev) {
			found = pid;
			break;
		}
	fclose(f);
	return found;
}

/* The name of process pid (its comm), or "". */
static void
proc_name(long pid, char *buf, size_t n)
{
	char path[64];
	ssize_t k;
	int fd;

	buf[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%ld/comm", pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return;
	k = read(fd, buf, n - 1);
	close(fd);
	buf[k > 0 ? k - 1 : 0] = '\0';		/* its newline */
}

int
capture_open(const char *path, char *why, size_t n)
{
	struct stat st;
	char comm[64];
	long pid;
	int fd;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
	    0600)) == -1) {
		if (errno == ELOOP)
			snprintf(why, n, "%s: a symbolic link: refused (name "
			    "the file itself)", path);
		else
			snprintf(why, n, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1)
		goto fail;
	if (!S_ISREG(st.st_mode))
		return fd;	/* a device or a FIFO: written as it is */
	if (st.st_uid != geteuid()) {
		snprintf(why, n, "%s: owned by another user (uid %lu): "
		    "refused", path, (unsigned long)st.st_uid);
		close(fd);
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		if (errno != EWOULDBLOCK)
			goto fail;
		if ((pid = lock_holder(&st)) <= 0)
			snprintf(why, n, "%s: in use by another process",
			    path);
		else {
			proc_name(pid, comm, sizeof(comm));
			snprintf(why, n, "%s: in use by another process (pid "
			    "%ld%s%s)", path, pid, comm[0] ? ", " : "", comm);
		}
		close(fd);
		return -1;
	}
	if (ftruncate(fd, 0) == -1 || fchmod(fd, 0600) == -1)
		goto fail;
	return fd;
fail:
	snprintf(why, n, "%s: %s", path, strerror(errno));
	close(fd);
	return -1;
}

void
capture_started(struct relay *r)
{
	r->cap_bytes = 0;
	r->cap_recs = 0;
	r->cap_opened = tm_mono_ms();
}

/* Compresses each of names to NAME.gz and removes NAME, in a child: a
 * capture of many megabytes would hold the traffic for seconds. */
static void gzip_next(struct relay *);

static void
gzip_start(struct relay *r, char **names, size_t n)
{
	char gzpath[4096 + 8], buf[65536];
	ssize_t k;
	size_t i;
	gzFile gz;
	pid_t pid;
	int fd, ok, failed = 0;

	switch (pid = fork()) {
	case -1:
		warn("rotated files not compressed: fork");
		return;
	case 0:
		/* None of the relay's sockets may live on here: a peer
		 * would wait for our copy to close. */
		close_range(3, ~0u, 0);
		for (i = 0; i < n; i++) {
			snprintf(gzpath, sizeof(gzpath), "%s.gz", names[i]);
			ok = 0;
			gz = NULL;
			if ((fd = open(names[i], O_RDONLY | O_CLOEXEC)) != -1 &&
			    (gz = gzopen(gzpath, "wbx")) != NULL) {
				ok = 1;
				while (ok && (k = read(fd, buf, sizeof(buf))) > 0)
					ok = gzwrite(gz, buf, (unsigned)k) == k;
				ok = gzclose(gz) == Z_OK && ok;
			}
			if (fd != -1)
				close(fd);
			if (ok)
				unlink(names[i]);
			else if (fd == -1 && errno == ENOENT)
				continue;	/* pruned meanwhile */
			else {
				warn("%s: compressing", names[i]);
				if (gz != NULL)
					unlink(gzpath);
				failed = 1;
			}
		}
		_exit(failed);
	}
	r->gz_pid = pid;
}

/* A rotated file to compress: at once, or after those under way. */
static void
gzip_later(struct relay *r, const char *path)
{
	char **p;

	if ((p = realloc(r->gz_pending, (r->gz_npending + 1) *
	    sizeof(*p))) == NULL || (p[r->gz_npending] = strdup(path)) == NULL) {
		if (p != NULL)
			r->gz_pending = p;
		warnx("%s: not compressed: out of memory", path);
		return;
	}
	r->gz_pending = p;
	r->gz_npending++;
	if (r->gz_pid == 0)
		gzip_next(r);
}

/* Starts one child for every file waiting to be compressed. */
static void
gzip_next(struct relay *r)
{
	size_t i;

	if (r->gz_npending == 0)
		return;
	gzip_start(r, r->gz_pending, r->gz_npending);
	for (i = 0; i < r->gz_npending; i++)
		free(r->gz_pending[i]);
	r->gz_npending = 0;
}

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Keeps the --rotate-keep newest rotated files: the names sort in time
 * order, and a file under compression stands under two names, one stem. */
static void
prune(struct relay *r)
{
	char dir[4096], path[8192], **names = NULL, **nn;
	const char *base, *slash;
	struct dirent *de;
	size_t blen, n = 0, keep = 0, i, j, stem;
	DIR *d;

	if (r->rot.keep == 0)
		return;
	if ((slash = strrchr(r->outpath, '/')) == NULL) {
		strcpy(dir, ".");
		base = r->outpath;
	} else {
		snprintf(dir, sizeof(dir), "%.*s", slash == r->outpath ? 1 :
		    (int)(slash - r->outpath), r->outpath);
		base = slash + 1;
	}
	blen = strlen(base);
	stem = blen + STAMP_LEN;
	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, base, blen) != 0 ||
		    strlen(de->d_name) < stem ||
		    de->d_name[blen] != '.' || de->d_name[blen + 9] != 'T' ||
		    de->d_name[stem - 1] != 'Z')
			continue;
		if ((nn = realloc(names, (n + 1) * sizeof(*names))) == NULL)
			break;
		names = nn;
		if ((names[n] = strdup(de->d_name)) == NULL)
			break;
		n++;
	}
	closedir(d);
	if (n > 0)
		qsort(names, n, sizeof(*names), cmp_names);
	for (i = n; i-- > 0;) {
		if (i + 1 < n && strncmp(names[i], names[i + 1], stem) == 0)
			continue;	/* counted with the next */
		if (++keep <= r->rot.keep)
			continue;
		for (j = i; j < n && strncmp(names[j], names[i], stem) == 0;
		    j++) {
			snprintf(path, sizeof(path), "%s/%s", dir, names[j]);
			if (unlink(path) == -1 && errno != ENOENT)
				warn("%s", path);
		}
	}
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

int
capture_cut(struct relay *r, char *old, size_t n)
{
	char stamp[32], why[600];
	struct timespec ts;
	struct tm tm;
	int fd;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%S", &tm);
	snprintf(old, n, "%s.%s.%06ldZ", r->outpath, stamp, ts.tv_nsec / 1000);
	if (rename(r->outpath, old) == -1) {
		warn("rotate %s", r->outpath);
		capture_started(r);	/* not again at the next record */
		return -1;
	}
	if ((fd = capture_open(r->outpath, why, sizeof(why))) == -1) {
		/* The records go on into the renamed file. */
		warnx("rotate: %s", why);
		capture_started(r);
		return -1;
	}
	return fd;
}

void
capture_rotated(struct relay *r, const char *old)
{
	if (r->verbose)
		warnx("%s rotated: %s", r->outpath, old);
	if (r->rot.gzip)
		gzip_later(r, old);
	prune(r);
}

int
capture_due(const struct relay *r, size_t next)
{
	if (r->cap_recs <= 1)
		return 0;
	if (next == 0)
		return r->rot.ms > 0 &&
		    tm_mono_ms() - r->cap_opened >= (int64_t)r->rot.ms;
	return r->rot.size > 0 && r->cap_bytes + next > r->rot.size;
}

void
capture_counted(struct relay *r, size_t n)
{
	r->cap_bytes += n;
	r->cap_recs++;
}

void
capture_sweep(struct relay *r)
{
	int st;

	if (r->gz_pid != 0 && waitpid(r->gz_pid, &st, WNOHANG) == r->gz_pid) {
		r->gz_pid = 0;
		gzip_next(r);
		prune(r);
	}
}

int
capture_moved(const struct relay *r)
{
	struct stat a, b;

	/* Not moved away (logrotate renames first): reopening would
	 * truncate the capture itself. */
	if (stat(r->outpath, &a) == 0 && fstat(r->out.fd, &b) == 0 &&
	    a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
		warnx("SIGHUP: %s was not moved: writing on", r->outpath);
		return 0;
	}
	return 1;
}

void
capture_finish(struct relay *r)
{
	int st;

	/* Compressions end before the relay does: a rotated file is never
	 * left half compressed. */
	while (r->gz_pid != 0) {
		while (waitpid(r->gz_pid, &st, 0) == -1 && errno == EINTR)
			;
		r->gz_pid = 0;
		gzip_next(r);
	}
	free(r->gz_pending);
	r->gz_pending = NULL;
	prune(r);
}
