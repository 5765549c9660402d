/* store.c -- storage front: dispatches to the file:// or s3:// backend. */
#include "store/store.h"
#include "store/store_s3.h"
#include "base/fsutil.h"
#include "base/util.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct store {
	char *dir;              /* file://: the storage directory */
	struct store_s3 *s3;    /* s3:// */
};

struct store *
store_open(const struct config *cfg, char *err, size_t errlen)
{
	struct store *st = xcalloc(1, sizeof(*st));

	if (cfg->s3_bucket != NULL) {
		st->s3 = store_s3_open(cfg, err, errlen);
		if (st->s3 == NULL) {
			free(st);
			return NULL;
		}
	} else {
		st->dir = xstrdup(cfg->storage_path);
	}
	return st;
}

void
store_close(struct store *st)
{
	if (st == NULL)
		return;
	store_s3_close(st->s3);
	free(st->dir);
	free(st);
}

void
store_url(struct store *st, const char *key, char *buf, size_t size)
{
	if (st->s3 != NULL)
		store_s3_url(st->s3, key, buf, size);
	else
		snprintf(buf, size, "file://%s/%s", st->dir, key);
}

/* Disk full, quota, I/O errors and a missing mount heal by themselves or
 * by an operator; a permission problem or a path that is a file does not. */
static int
file_errno_class(int e)
{
	switch (e) {
	case EACCES: case EPERM: case EROFS: case ENOTDIR: case EISDIR:
	case ENAMETOOLONG: case ELOOP:
		return STORE_FATAL;
	default:
		return STORE_RETRY;
	}
}

/* mkdir -p for an object's directory that survives a power cut: each
 * directory this creates is only an entry in its parent until the parent
 * is fsync'ed, so the parent of every new directory is fsync'ed (the
 * object's own directory is fsync'ed after its rename by
 * fs_copy_file_atomic). 0, or -1 with errno set and the failing path in
 * failed (size bytes). */
static int
file_mkdirs_durable(const char *path, mode_t mode, char *failed, size_t size)
{
	char buf[PATH_MAX], parent[PATH_MAX];
	char *p;
	int last = 0;

	if (util_strlcpy(buf, path, sizeof(buf)) < 0) {
		util_strlcpy(failed, path, size);
		errno = ENAMETOOLONG;
		return -1;
	}
	if (buf[0] == '\0')
		return 0;
	for (p = buf + 1; !last; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		last = *p == '\0';
		*p = '\0';
		if (p[-1] != '/') {      /* "a//b": nothing between */
			if (mkdir(buf, mode) == 0) {
				if (fs_dirname(buf, parent, sizeof(parent)) < 0) {
					util_strlcpy(failed, buf, size);
					errno = ENAMETOOLONG;
					return -1;
				}
				if (fs_fsync(parent) < 0) {
					util_strlcpy(failed, parent, size);
					return -1;
				}
			} else if (errno != EEXIST) {
				util_strlcpy(failed, buf, size);
				return -1;
			}
		}
		if (!last)
			*p = '/';
	}
	return 0;
}

static int
file_put(struct store *st, const struct store_put *put,
    struct store_object *out, char *err, size_t errlen)
{
	char dst[PATH_MAX], dir[PATH_MAX], failed[PATH_MAX];
	struct stat src_st, dst_st;

	if (util_snprintf(dst, sizeof(dst), "%s/%s", st->dir, put->key) < 0) {
		snprintf(err, errlen, "storage path too long: %s/%s", st->dir,
		    put->key);
		return STORE_FATAL;
	}
	if (stat(put->path, &src_st) < 0) {
		snprintf(err, errlen, "cannot read %s: %s", put->path,
		    strerror(errno));
		return STORE_RETRY;
	}
	fs_dirname(dst, dir, sizeof(dir));
	if (file_mkdirs_durable(dir, 0755, failed, sizeof(failed)) < 0) {
		int e = errno;
		snprintf(err, errlen, "cannot create storage directory %s "
		    "(at %s): %s", dir, failed, strerror(e));
		return file_errno_class(e);
	}
	if (fs_copy_file_atomic(put->path, dst, 0644, true) < 0) {
		int e = errno;
		snprintf(err, errlen, "cannot store %s as %s: %s", put->path, dst,
		    strerror(e));
		return file_errno_class(e);
	}
	/* verify what landed, not what we meant to write */
	if (stat(dst, &dst_st) < 0 || dst_st.st_size != src_st.st_size) {
		snprintf(err, errlen, "stored %s has the wrong size (%lld, want "
		    "%lld)", dst, (long long)dst_st.st_size,
		    (long long)src_st.st_size);
		return STORE_RETRY;
	}
	util_snprintf(out->url, sizeof(out->url), "file://%s", dst);
	out->size = (uint64_t)dst_st.st_size;
	out->etag[0] = '\0';
	return STORE_OK;
}

int
store_put(struct store *st, const struct store_put *put,
    struct store_object *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	if (st->s3 != NULL)
		return store_s3_put(st->s3, put, out, err, errlen);
	return file_put(st, put, out, err, errlen);
}

int
store_check(struct store *st, char *err, size_t errlen)
{
	char probe[PATH_MAX];

	if (st->s3 != NULL)
		return store_s3_check(st->s3, err, errlen);
	if (fs_mkdirs(st->dir, 0755) < 0) {
		snprintf(err, errlen, "cannot create storage directory %s: %s",
		    st->dir, strerror(errno));
		return STORE_FATAL;
	}
	snprintf(probe, sizeof(probe), "%s/.jibri-pipeline-check", st->dir);
	if (fs_write_atomic(probe, "ok\n", 3, 0644, false) < 0) {
		snprintf(err, errlen, "storage directory %s is not writable: %s",
		    st->dir, strerror(errno));
		return STORE_FATAL;
	}
	unlink(probe);
	return STORE_OK;
}

char *
store_full_key(const struct config *cfg, const char *key)
{
	if (cfg->s3_bucket != NULL && cfg->s3_prefix != NULL &&
	    cfg->s3_prefix[0] != '\0')
		return xasprintf("%s/%s", cfg->s3_prefix, key);
	return xstrdup(key);
}
