/* journal.c -- accepted events kept on local disk while the database cannot take them. */
#include "api/journal.h"
#include "base/fsutil.h"
#include "base/util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Reads go through a buffer of this size: a journal of 64 MiB is never
 * held in memory at once, only the line being read (at most ~70 KB). */
#define JOURNAL_CHUNK (64 * 1024)

struct journal {
	char *path;
	int fd;
	uint64_t max_bytes;
	uint64_t bytes;     /* complete lines: the file up to the last '\n' */
	size_t lines;
	bool tail;          /* the file may hold more than bytes (a line torn
	                     * by a crash, a write not cut back): cut it off
	                     * before the next append */
};

static const char *
file_kind(mode_t mode)
{
	if (S_ISDIR(mode))
		return "a directory";
	if (S_ISLNK(mode))
		return "a symbolic link";
	if (S_ISFIFO(mode))
		return "a FIFO";
	if (S_ISSOCK(mode))
		return "a socket";
	if (S_ISCHR(mode) || S_ISBLK(mode))
		return "a device";
	return "not a regular file";
}

/* Why open(2) failed, in words: a symlink, directory or socket at the
 * path is named as such (O_NOFOLLOW says only ELOOP). */
static void
open_error(const char *path, int saved, char *err, size_t errlen)
{
	struct stat st;

	if (lstat(path, &st) == 0 && !S_ISREG(st.st_mode))
		snprintf(err, errlen, "event journal %s is %s, not a regular "
		    "file: refused (remove it, or point the state directory "
		    "elsewhere)", path, file_kind(st.st_mode));
	else
		snprintf(err, errlen, "event journal %s: cannot open: %s", path,
		    strerror(saved));
}

/* Open path read-write without blocking (a FIFO would) and without
 * following a symlink; *created when this call made the file. */
static int
open_file(const char *path, bool *created)
{
	const int flags = O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK;
	int fd, tries;

	/* O_EXCL tells whether we made it (the directory then needs an
	 * fsync); a file removed between the two opens: try again */
	for (tries = 0; tries < 3; tries++) {
		fd = open(path, flags | O_CREAT | O_EXCL, 0600);
		if (fd >= 0) {
			*created = true;
			return fd;
		}
		if (errno != EEXIST)
			return -1;
		fd = open(path, flags);
		if (fd >= 0 || errno != ENOENT) {
			*created = false;
			return fd;
		}
	}
	return -1;
}

/* pread all of n bytes at off: 0, or -1 with errno (ENODATA when the
 * file ends first: it is shorter than we counted). */
static int
read_at(int fd, char *buf, size_t n, uint64_t off)
{
	while (n > 0) {
		ssize_t r = pread(fd, buf, n, (off_t)off);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0) {
			errno = ENODATA;
			return -1;
		}
		buf += r;
		n -= (size_t)r;
		off += (uint64_t)r;
	}
	return 0;
}

static int
write_at(int fd, const char *buf, size_t n, uint64_t off)
{
	while (n > 0) {
		ssize_t w = pwrite(fd, buf, n, (off_t)off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (w == 0) {
			errno = EIO;
			return -1;
		}
		buf += w;
		n -= (size_t)w;
		off += (uint64_t)w;
	}
	return 0;
}

/* Count the complete lines of the first size bytes. */
static int
scan(struct journal *j, uint64_t size, char *err, size_t errlen)
{
	char *buf = xmalloc(JOURNAL_CHUNK);
	uint64_t off = 0;
	const char *p, *nl;
	size_t want;

	j->lines = 0;
	j->bytes = 0;
	while (off < size) {
		want = size - off > JOURNAL_CHUNK ? JOURNAL_CHUNK :
		    (size_t)(size - off);
		if (read_at(j->fd, buf, want, off) < 0) {
			snprintf(err, errlen, "event journal %s: cannot read: %s",
			    j->path, strerror(errno));
			free(buf);
			return -1;
		}
		for (p = buf; (nl = memchr(p, '\n', want - (size_t)(p - buf))) !=
		    NULL; p = nl + 1) {
			j->lines++;
			j->bytes = off + (uint64_t)(nl - buf) + 1;
		}
		off += want;
	}
	free(buf);
	j->tail = size > j->bytes;
	return 0;
}

struct journal *
journal_open(const char *path, uint64_t max_bytes, char *err, size_t errlen)
{
	struct journal *j;
	struct stat st;
	char dir[PATH_MAX];
	bool created = false;
	int fd, fl;

	fd = open_file(path, &created);
	if (fd < 0) {
		open_error(path, errno, err, errlen);
		return NULL;
	}
	j = xcalloc(1, sizeof(*j));
	j->fd = fd;
	j->path = xstrdup(path);
	j->max_bytes = max_bytes;
	if (fstat(fd, &st) < 0) {
		snprintf(err, errlen, "event journal %s: cannot stat: %s", path,
		    strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "event journal %s is %s, not a regular "
		    "file: refused (remove it, or point the state directory "
		    "elsewhere)", path, file_kind(st.st_mode));
		goto fail;
	}
	if ((fl = fcntl(fd, F_GETFL)) < 0 ||
	    fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
		snprintf(err, errlen, "event journal %s: fcntl: %s", path,
		    strerror(errno));
		goto fail;
	}
	/* a new file's name is durable only once its directory is synced */
	if (created && (fs_dirname(path, dir, sizeof(dir)) < 0 ||
	    fs_fsync(dir) < 0)) {
		snprintf(err, errlen, "event journal %s: cannot sync its "
		    "directory: %s", path, strerror(errno));
		goto fail;
	}
	if (scan(j, (uint64_t)st.st_size, err, errlen) < 0)
		goto fail;
	return j;
fail:
	journal_close(j);
	return NULL;
}

void
journal_close(struct journal *j)
{
	if (j == NULL)
		return;
	if (j->fd >= 0)
		close(j->fd);
	free(j->path);
	free(j);
}

/* Cut the file back to its complete lines (a torn line, a failed
 * append): 0 or -1 with errno. */
static int
cut_tail(struct journal *j)
{
	if (ftruncate(j->fd, (off_t)j->bytes) < 0)
		return -1;
	j->tail = false;
	return 0;
}

/* The bytes of the batch: -1 with err when a line holds a newline. */
static int
batch_size(const struct journal *j, const char *const *lines, size_t n,
    uint64_t *total, char *err, size_t errlen)
{
	size_t i;

	*total = 0;
	for (i = 0; i < n; i++) {
		if (strchr(lines[i], '\n') != NULL) {
			snprintf(err, errlen, "event journal %s: line %zu of the "
			    "batch holds a newline: batch refused (a bug: lines "
			    "are one JSON object each)", j->path, i + 1);
			return -1;
		}
		*total += strlen(lines[i]) + 1;
	}
	return 0;
}

int
journal_append(struct journal *j, const char *const *lines, size_t n,
    char *err, size_t errlen)
{
	uint64_t total;
	char *buf, *p;
	size_t i, len;
	const char *what;
	int saved;

	if (n == 0)
		return 0;
	if (batch_size(j, lines, n, &total, err, errlen) < 0)
		return -1;
	if (j->bytes > j->max_bytes || total > j->max_bytes - j->bytes) {
		snprintf(err, errlen, "event journal %s is full (%llu of %llu "
		    "bytes, %llu more asked): the database has been unreachable "
		    "too long", j->path, (unsigned long long)j->bytes,
		    (unsigned long long)j->max_bytes,
		    (unsigned long long)total);
		return -1;
	}
	if (j->tail && cut_tail(j) < 0) {
		snprintf(err, errlen, "event journal %s: cannot cut off a torn "
		    "last line: %s", j->path, strerror(errno));
		return -1;
	}
	/* one buffer, one write: total <= max_bytes, so it is bounded */
	buf = p = xmalloc((size_t)total);
	for (i = 0; i < n; i++) {
		len = strlen(lines[i]);
		memcpy(p, lines[i], len);
		p[len] = '\n';
		p += len + 1;
	}
	what = "write";
	if (write_at(j->fd, buf, (size_t)total, j->bytes) < 0)
		goto fail;
	what = "sync to disk";
	if (fdatasync(j->fd) < 0)
		goto fail;
	free(buf);
	j->bytes += total;
	j->lines += n;
	return 0;
fail:
	saved = errno;
	free(buf);
	/* nothing of it may stay: a crash must not bring back lines the
	 * caller was told were not kept (it answers "unavailable") */
	if (cut_tail(j) < 0 || fdatasync(j->fd) < 0)
		j->tail = true;
	if (saved == ENOSPC)
		snprintf(err, errlen, "event journal %s: no space left on device",
		    j->path);
	else
		snprintf(err, errlen, "event journal %s: cannot %s: %s", j->path,
		    what, strerror(saved));
	return -1;
}

/* Hand the complete lines of buf[0..n) to fn, gathering a line that
 * crosses chunks in *line. 0 to go on, else fn's value. */
static int
each_chunk(const char *buf, size_t n, char **line, size_t *have,
    size_t *cap, int (*fn)(const char *, size_t, void *), void *ctx)
{
	const char *p = buf, *end = buf + n, *nl;
	size_t take;
	int rc;

	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		take = (size_t)((nl != NULL ? nl : end) - p);
		if (*have + take + 1 > *cap) {
			while (*have + take + 1 > *cap)
				*cap *= 2;
			*line = xrealloc(*line, *cap);
		}
		memcpy(*line + *have, p, take);
		*have += take;
		if (nl == NULL)
			break;
		(*line)[*have] = '\0';
		rc = fn(*line, *have, ctx);
		*have = 0;
		if (rc != 0)
			return rc;
		p = nl + 1;
	}
	return 0;
}

int
journal_each(struct journal *j, int (*fn)(const char *line, size_t len,
    void *ctx), void *ctx, char *err, size_t errlen)
{
	char *buf = xmalloc(JOURNAL_CHUNK), *line;
	size_t want, have = 0, cap = 4096;
	uint64_t off = 0;
	int rc = 0;

	line = xmalloc(cap);
	/* up to the last complete line only: a torn tail is never read */
	while (off < j->bytes) {
		want = j->bytes - off > JOURNAL_CHUNK ? JOURNAL_CHUNK :
		    (size_t)(j->bytes - off);
		if (read_at(j->fd, buf, want, off) < 0) {
			snprintf(err, errlen, "event journal %s: cannot read at "
			    "byte %llu: %s", j->path, (unsigned long long)off,
			    errno == ENODATA ? "the file is shorter than "
			    "written (changed behind our back?)" :
			    strerror(errno));
			rc = -1;
			break;
		}
		off += want;
		rc = each_chunk(buf, want, &line, &have, &cap, fn, ctx);
		if (rc != 0)
			break;
	}
	free(line);
	free(buf);
	return rc;
}

size_t
journal_lines(const struct journal *j)
{
	return j->lines;
}

uint64_t
journal_bytes(const struct journal *j)
{
	return j->bytes;
}

int
journal_clear(struct journal *j, char *err, size_t errlen)
{
	if (ftruncate(j->fd, 0) < 0) {
		snprintf(err, errlen, "event journal %s: cannot empty it: %s",
		    j->path, strerror(errno));
		return -1;
	}
	/* the file reads empty from now on, whatever the fsync says */
	j->bytes = 0;
	j->lines = 0;
	j->tail = false;
	if (fsync(j->fd) < 0) {
		snprintf(err, errlen, "event journal %s: emptied but cannot sync "
		    "to disk: %s (a crash may bring its lines back)", j->path,
		    strerror(errno));
		return -1;
	}
	return 0;
}
