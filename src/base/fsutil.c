/* fsutil.c -- durable, atomic file operations and kernel-side copies. */
#include "base/fsutil.h"
#include "base/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/openat2.h>

int
fs_dirname(const char *path, char *buf, size_t size)
{
	const char *slash = strrchr(path, '/');
	size_t n;

	if (slash == NULL)
		return util_strlcpy(buf, ".", size);
	n = (size_t)(slash - path);
	if (n == 0)
		n = 1; /* "/file" -> "/" */
	if (n >= size)
		return -1;
	memcpy(buf, path, n);
	buf[n] = '\0';
	return 0;
}

int
fs_fsync(const char *path)
{
	int fd, rc, saved;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	rc = fsync(fd);
	saved = errno;
	close(fd);
	errno = saved;
	return rc;
}

int
fs_write_all(int fd, const void *data, size_t n)
{
	const char *p = data;

	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Open the temporary file next to path: always the same name, PATH.tmp,
 * truncated. Every file made this way has one writer at a time (a job's
 * own files, a key of its own), so a crash between open and rename leaves
 * at most one PATH.tmp, which the next attempt reuses instead of adding a
 * new stray file each time. */
static int
open_tmp(const char *path, char *tmp, size_t size, mode_t mode)
{
	if (util_snprintf(tmp, size, "%s.tmp", path) < 0) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
	    mode);
}

/* Finish a temporary file: fsync, close, rename, fsync the directory. */
static int
commit_tmp(int fd, const char *tmp, const char *path, bool durable)
{
	char dir[PATH_MAX];
	int saved;

	if (durable && fsync(fd) < 0)
		goto fail;
	if (close(fd) < 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) < 0)
		goto fail;
	if (durable && fs_dirname(path, dir, sizeof(dir)) == 0 &&
	    fs_fsync(dir) < 0)
		return -1;
	return 0;
fail:
	saved = errno;
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	errno = saved;
	return -1;
}

int
fs_write_atomic(const char *path, const void *data, size_t n, mode_t mode,
    bool durable)
{
	char tmp[PATH_MAX];
	int fd, saved;

	fd = open_tmp(path, tmp, sizeof(tmp), mode);
	if (fd < 0)
		return -1;
	if (fs_write_all(fd, data, n) < 0) {
		saved = errno;
		close(fd);
		unlink(tmp);
		errno = saved;
		return -1;
	}
	return commit_tmp(fd, tmp, path, durable);
}

int
fs_mkdirs(const char *path, mode_t mode)
{
	char buf[PATH_MAX];
	char *p;

	if (util_strlcpy(buf, path, sizeof(buf)) < 0) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(buf, mode) < 0 && errno != EEXIST)
		return -1;
	return 0;
}

/* Read all of the open regular file fd (at most max bytes), closing it.
 * The type is checked on the descriptor: a FIFO, device or directory is
 * refused without a read that could block. fixed: one buffer of max + 2
 * bytes, never reallocated (a secret leaves no copy in freed memory);
 * else it starts at the file's size and grows (metadata.json is written
 * in place while we read). What was read is wiped on failure. */
static char *
read_fd(int fd, size_t max, size_t *len, bool fixed)
{
	struct stat st;
	char *buf = NULL;
	size_t have = 0, cap;
	ssize_t n;
	int saved;

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0)
		goto fail;
	if (!S_ISREG(st.st_mode)) {
		errno = EINVAL;
		goto fail;
	}
	if ((uint64_t)st.st_size > max && fixed) {
		errno = EFBIG;
		goto fail;
	}
	/* room for max + 1 bytes, to see a file that grew past max */
	cap = fixed || (uint64_t)st.st_size >= max ? max + 1 :
	    (size_t)st.st_size + 1;
	buf = xmalloc(cap + 1);
	for (;;) {
		if (have == cap) {
			if (cap > max || fixed) {
				errno = EFBIG;
				goto fail;
			}
			cap = cap * 2 > max + 1 ? max + 1 : cap * 2;
			buf = xrealloc(buf, cap + 1);
		}
		n = read(fd, buf + have, cap - have);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		if (n == 0)
			break;
		have += (size_t)n;
	}
	if (have > max) {
		errno = EFBIG;
		goto fail;
	}
	close(fd);
	buf[have] = '\0';
	if (len != NULL)
		*len = have;
	return buf;
fail:
	saved = errno;
	if (buf != NULL)
		explicit_bzero(buf, have);
	free(buf);
	close(fd);
	errno = saved;
	return NULL;
}

char *
fs_read_secret(const char *path, size_t max, bool follow, size_t *len)
{
	return read_fd(open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK |
	    (follow ? 0 : O_NOFOLLOW)), max, len, true);
}

char *
fs_read_file(const char *path, size_t max, size_t *len)
{
	return read_fd(open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW |
	    O_NONBLOCK), max, len, false);
}

char *
fs_read_file_at(int dirfd, const char *name, size_t max, size_t *len)
{
	return read_fd(openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW |
	    O_NONBLOCK), max, len, false);
}

/* openat2(2) is in Linux since 5.6; glibc 2.36 has no wrapper. */
static int
open_beneath2(int rootfd, const char *rel, int flags)
{
#ifdef SYS_openat2
	struct open_how how;

	memset(&how, 0, sizeof(how));
	how.flags = (uint64_t)flags;
	how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
	    RESOLVE_NO_MAGICLINKS;
	return (int)syscall(SYS_openat2, rootfd, rel, &how, sizeof(how));
#else
	(void)rootfd; (void)rel; (void)flags;
	errno = ENOSYS;
	return -1;
#endif
}

/* The fallback: one component at a time, each opened O_NOFOLLOW
 * relative to the one before, "." and ".." refused. */
static int
open_beneath_walk(int rootfd, const char *rel, int flags)
{
	char buf[PATH_MAX];
	char *seg, *next;
	int dfd, fd, saved;

	if (util_strlcpy(buf, rel, sizeof(buf)) < 0) {
		errno = ENAMETOOLONG;
		return -1;
	}
	dfd = fcntl(rootfd, F_DUPFD_CLOEXEC, 0);
	if (dfd < 0)
		return -1;
	for (seg = buf; ; seg = next) {
		while (*seg == '/')
			seg++;
		next = strchr(seg, '/');
		if (next != NULL)
			*next++ = '\0';
		while (next != NULL && *next == '/')
			next++;
		if (*seg == '\0' || strcmp(seg, ".") == 0 ||
		    strcmp(seg, "..") == 0) {
			close(dfd);
			errno = EXDEV;
			return -1;
		}
		if (next == NULL || *next == '\0') {
			fd = openat(dfd, seg, flags | O_NOFOLLOW);
			saved = errno;
			close(dfd);
			errno = saved;
			return fd;
		}
		fd = openat(dfd, seg, O_PATH | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC);
		saved = errno;
		close(dfd);
		if (fd < 0) {
			/* a symlink opened with O_NOFOLLOW|O_DIRECTORY: ENOTDIR */
			errno = saved == ENOTDIR ? ELOOP : saved;
			return -1;
		}
		dfd = fd;
	}
}

int
fs_open_beneath(int rootfd, const char *rel, int flags)
{
	int fd;

	if (rel[0] == '/' || rel[0] == '\0') {
		errno = EXDEV;
		return -1;
	}
	flags |= O_CLOEXEC | O_NOFOLLOW;
	fd = open_beneath2(rootfd, rel, flags);
	if (fd >= 0 || (errno != ENOSYS && errno != EPERM))
		return fd;
	/* no openat2 (old kernel, or a seccomp filter that refuses it) */
	return open_beneath_walk(rootfd, rel, flags);
}

static int
copy_rw(int in_fd, off_t *in_off, int out_fd, uint64_t len)
{
	enum { BUFSZ = 1 << 20 };
	char *buf = xmalloc(BUFSZ);
	int saved;

	while (len > 0) {
		size_t want = len > BUFSZ ? BUFSZ : (size_t)len;
		ssize_t n = pread(in_fd, buf, want, *in_off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		if (n == 0) {
			errno = ENODATA; /* the source is shorter than it said */
			goto fail;
		}
		if (fs_write_all(out_fd, buf, (size_t)n) < 0)
			goto fail;
		*in_off += n;
		len -= (uint64_t)n;
	}
	free(buf);
	return 0;
fail:
	saved = errno;
	free(buf);
	errno = saved;
	return -1;
}

int
fs_copy_range(int in_fd, off_t *in_off, int out_fd, uint64_t len)
{
	while (len > 0) {
		size_t want = len > (1u << 30) ? (1u << 30) : (size_t)len;
		ssize_t n = copy_file_range(in_fd, in_off, out_fd, NULL, want, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EXDEV || errno == ENOSYS || errno == EINVAL ||
			    errno == EOPNOTSUPP || errno == EPERM)
				return copy_rw(in_fd, in_off, out_fd, len);
			return -1;
		}
		if (n == 0) {
			errno = ENODATA;
			return -1;
		}
		len -= (uint64_t)n;
	}
	return 0;
}

int
fs_copy_file_atomic(const char *src, const char *dst, mode_t mode,
    bool durable)
{
	char tmp[PATH_MAX];
	struct stat st;
	off_t off = 0;
	int in, out, saved;

	in = open(src, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (in < 0)
		return -1;
	if (fstat(in, &st) < 0) {
		saved = errno;
		close(in);
		errno = saved;
		return -1;
	}
	out = open_tmp(dst, tmp, sizeof(tmp), mode);
	if (out < 0) {
		saved = errno;
		close(in);
		errno = saved;
		return -1;
	}
	if (fs_copy_range(in, &off, out, (uint64_t)st.st_size) < 0) {
		saved = errno;
		close(in);
		close(out);
		unlink(tmp);
		errno = saved;
		return -1;
	}
	close(in);
	return commit_tmp(out, tmp, dst, durable);
}

int
fs_remove_tree(const char *path)
{
	struct dirent *de;
	struct stat st;
	DIR *d;
	char sub[PATH_MAX];

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISDIR(st.st_mode))
		return unlink(path);
	d = opendir(path);
	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (util_snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name) < 0)
			continue;
		fs_remove_tree(sub);
	}
	closedir(d);
	return rmdir(path);
}

char *
fs_absolute(const char *path)
{
	char cwd[PATH_MAX];
	char *joined, *out, *seg, *save;
	size_t n = 0;

	if (path[0] == '/') {
		joined = xstrdup(path);
	} else {
		if (getcwd(cwd, sizeof(cwd)) == NULL)
			return xstrdup(path);
		joined = xasprintf("%s/%s", cwd, path);
	}
	out = xmalloc(strlen(joined) + 2);
	out[0] = '\0';
	for (seg = strtok_r(joined, "/", &save); seg != NULL;
	    seg = strtok_r(NULL, "/", &save)) {
		if (strcmp(seg, ".") == 0)
			continue;
		if (strcmp(seg, "..") == 0) {
			char *slash = strrchr(out, '/');
			if (slash != NULL)
				*slash = '\0';
			n = strlen(out);
			continue;
		}
		out[n++] = '/';
		memcpy(out + n, seg, strlen(seg) + 1);
		n += strlen(seg);
	}
	if (n == 0)
		memcpy(out, "/", 2);
	free(joined);
	return out;
}

bool
fs_path_inside(const char *root, const char *path)
{
	size_t n = strlen(root);

	if (n == 1 && root[0] == '/')
		return path[0] == '/';
	while (n > 1 && root[n - 1] == '/')
		n--;
	return strncmp(root, path, n) == 0 && path[n] == '/' && path[n + 1] != '\0';
}
