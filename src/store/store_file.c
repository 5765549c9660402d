/* store_file.c -- the file:// backend of store.h: a copy into a local directory, made durable. */
#include "store/store_file.h"
#include "base/fsutil.h"
#include "base/util.h"
#include "store/s3.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct store_file {
	char *dir;              /* the storage directory (absolute) */
};

struct store_file *
store_file_open(const struct store_options *o, char *err, size_t errlen)
{
	struct store_file *f;

	if (o->storage_path == NULL || o->storage_path[0] == '\0') {
		snprintf(err, errlen, "STORAGE_URL: `%s': no storage directory "
		    "(file:///DIR)", o->storage_url ? o->storage_url : "");
		return NULL;
	}
	f = xcalloc(1, sizeof(*f));
	f->dir = xstrdup(o->storage_path);
	return f;
}

void
store_file_close(struct store_file *f)
{
	if (f == NULL)
		return;
	free(f->dir);
	free(f);
}

/* file:// and the path, percent-encoded (RFC 3986; '/' kept). */
static void
store_file_url_of(const char *path, char *buf, size_t size)
{
	char *p = s3_encode_dup(path, true);

	snprintf(buf, size, "file://%s", p);
	free(p);
}

void
store_file_url(struct store_file *f, const char *key, char *buf, size_t size)
{
	char *path = xasprintf("%s/%s", f->dir, key);

	store_file_url_of(path, buf, size);
	free(path);
}

/* Disk full, quota, I/O errors and a missing mount heal by themselves or
 * by an operator; a permission problem or a path that is a file does not. */
static int
store_file_errno_class(int e)
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
store_file_mkdirs_durable(const char *path, mode_t mode, char *failed,
    size_t size)
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

int
store_file_put(struct store_file *f, const char *key,
    const struct store_put *put, struct store_object *out, char *err,
    size_t errlen)
{
	char dst[PATH_MAX], dir[PATH_MAX], failed[PATH_MAX];
	struct stat src_st, dst_st;

	if (util_snprintf(dst, sizeof(dst), "%s/%s", f->dir, key) < 0) {
		snprintf(err, errlen, "storage path too long: %s/%s", f->dir,
		    key);
		return STORE_FATAL;
	}
	memset(&dst_st, 0, sizeof(dst_st));     /* the message below */
	if (stat(put->path, &src_st) < 0) {
		snprintf(err, errlen, "cannot read %s: %s", put->path,
		    strerror(errno));
		return STORE_RETRY;
	}
	fs_dirname(dst, dir, sizeof(dir));
	if (store_file_mkdirs_durable(dir, 0755, failed, sizeof(failed)) < 0) {
		int e = errno;
		snprintf(err, errlen, "cannot create storage directory %s "
		    "(at %s): %s", dir, failed, strerror(e));
		return store_file_errno_class(e);
	}
	if (fs_copy_file_atomic(put->path, dst, 0644, true) < 0) {
		int e = errno;
		snprintf(err, errlen, "cannot store %s as %s: %s", put->path, dst,
		    strerror(e));
		return store_file_errno_class(e);
	}
	/* verify what landed, not what we meant to write */
	if (stat(dst, &dst_st) < 0 || dst_st.st_size != src_st.st_size) {
		snprintf(err, errlen, "stored %s has the wrong size (%lld, want "
		    "%lld)", dst, (long long)dst_st.st_size,
		    (long long)src_st.st_size);
		return STORE_RETRY;
	}
	store_file_url_of(dst, out->url, sizeof(out->url));
	out->size = (uint64_t)dst_st.st_size;
	out->etag[0] = '\0';
	return STORE_OK;
}

int
store_file_check(struct store_file *f, char *err, size_t errlen)
{
	char probe[PATH_MAX];

	if (fs_mkdirs(f->dir, 0755) < 0) {
		snprintf(err, errlen, "cannot create storage directory %s: %s",
		    f->dir, strerror(errno));
		return STORE_FATAL;
	}
	snprintf(probe, sizeof(probe), "%s/.jibri-pipeline-check", f->dir);
	if (fs_write_atomic(probe, "ok\n", 3, 0644, false) < 0) {
		snprintf(err, errlen, "storage directory %s is not writable: %s",
		    f->dir, strerror(errno));
		return STORE_FATAL;
	}
	unlink(probe);
	return STORE_OK;
}
