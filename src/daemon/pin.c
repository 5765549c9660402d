/* pin.c -- a recording held by device and inode: found again beneath RECORDINGS_DIR, never through a symlink. */
#include "daemon/pin.h"
#include "base/fsutil.h"
#include "base/util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Open the directory of rel beneath root: root itself for a top-level
 * file. *base points at the last component of rel. */
static int
open_dir_of(int rootfd, const char *rel, const char **base)
{
	const char *slash = strrchr(rel, '/');
	char dir[PATH_MAX];

	if (slash == NULL) {
		*base = rel;
		return fcntl(rootfd, F_DUPFD_CLOEXEC, 0);
	}
	*base = slash + 1;
	if ((size_t)(slash - rel) >= sizeof(dir)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(dir, rel, (size_t)(slash - rel));
	dir[slash - rel] = '\0';
	return fs_open_beneath(rootfd, dir, O_RDONLY | O_DIRECTORY);
}

static const char *
why_open(int e)
{
	if (e == ELOOP || e == ENOTDIR)
		return "a symlink (not followed)";
	if (e == EXDEV)
		return "outside RECORDINGS_DIR";
	return strerror(e);
}

/* Open root and rel's directory and file, stat both. */
static int
resolve(const char *root, const char *rel, int *dirfd, int *fd,
    struct pin *p, char *err, size_t errlen)
{
	struct stat dst, st;
	const char *base;
	int rootfd, dfd = -1, f = -1, saved;

	*dirfd = *fd = -1;
	rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0) {
		saved = errno;
		util_snprintf(err, errlen, "RECORDINGS_DIR %s: %s", root,
		    strerror(saved));
		errno = saved;
		return -1;
	}
	dfd = open_dir_of(rootfd, rel, &base);
	saved = errno;
	close(rootfd);
	if (dfd < 0) {
		util_snprintf(err, errlen, "directory of %s/%s: %s", root, rel,
		    why_open(saved));
		errno = saved;
		return -1;
	}
	f = openat(dfd, base, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
	if (f < 0) {
		saved = errno;
		util_snprintf(err, errlen, "%s/%s: %s", root, rel, why_open(saved));
		goto fail;
	}
	if (fstat(dfd, &dst) < 0 || fstat(f, &st) < 0) {
		saved = errno;
		util_snprintf(err, errlen, "%s/%s: %s", root, rel, strerror(saved));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		saved = EINVAL;
		util_snprintf(err, errlen, "%s/%s: not a regular file", root, rel);
		goto fail;
	}
	p->dev = (int64_t)st.st_dev;
	p->ino = (int64_t)st.st_ino;
	p->dir_dev = (int64_t)dst.st_dev;
	p->dir_ino = (int64_t)dst.st_ino;
	p->size = (int64_t)st.st_size;
	p->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 +
	    st.st_mtim.tv_nsec;
	*dirfd = dfd;
	*fd = f;
	return 0;
fail:
	if (f >= 0)
		close(f);
	close(dfd);
	errno = saved;
	return -1;
}

int
pin_take(const char *root, const char *rel, struct pin *p, char *err,
    size_t errlen)
{
	int dfd, fd;

	memset(p, 0, sizeof(*p));
	if (resolve(root, rel, &dfd, &fd, p, err, errlen) < 0)
		return -1;
	close(dfd);
	close(fd);
	return 0;
}

int
pin_check(const char *root, const char *rel, const struct pin *want,
    int *dirfd, int *fd, char *err, size_t errlen)
{
	struct pin now;
	int dfd, f;

	if (dirfd != NULL)
		*dirfd = -1;
	if (fd != NULL)
		*fd = -1;
	if (resolve(root, rel, &dfd, &f, &now, err, errlen) < 0)
		return -1;
	if (now.dir_dev != want->dir_dev || now.dir_ino != want->dir_ino ||
	    !pin_same_file(&now, want)) {
		util_snprintf(err, errlen, "%s/%s is no longer the file that was "
		    "admitted (%s replaced or moved since): not touched", root, rel,
		    now.dir_dev != want->dir_dev || now.dir_ino != want->dir_ino ?
		    "its directory was" : "it was");
		close(dfd);
		close(f);
		errno = ESTALE;
		return -1;
	}
	if (dirfd != NULL)
		*dirfd = dfd;
	else
		close(dfd);
	if (fd != NULL)
		*fd = f;
	else
		close(f);
	return 0;
}

bool
pin_same_file(const struct pin *a, const struct pin *b)
{
	return a->dev == b->dev && a->ino == b->ino;
}

json_t *
pin_to_json(const struct pin *p)
{
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", "dev",
	    (json_int_t)p->dev, "ino", (json_int_t)p->ino, "dir_dev",
	    (json_int_t)p->dir_dev, "dir_ino", (json_int_t)p->dir_ino, "size",
	    (json_int_t)p->size, "mtime_ns", (json_int_t)p->mtime_ns);
}

int
pin_from_json(const json_t *o, struct pin *p)
{
	json_int_t v[6];
	static const char *const keys[] = { "dev", "ino", "dir_dev", "dir_ino",
		"size", "mtime_ns" };
	size_t i;

	for (i = 0; i < 6; i++) {
		const json_t *x = json_object_get(o, keys[i]);
		if (!json_is_integer(x))
			return -1;
		v[i] = json_integer_value(x);
	}
	p->dev = v[0];
	p->ino = v[1];
	p->dir_dev = v[2];
	p->dir_ino = v[3];
	p->size = v[4];
	p->mtime_ns = v[5];
	return 0;
}
