/* fsutil.h -- durable, atomic file operations and kernel-side copies. */
#ifndef JP_FSUTIL_H
#define JP_FSUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Write data to path atomically: the temporary file PATH.tmp, written,
 * fsync'ed (when durable), renamed over path, and the directory fsync'ed
 * (when durable). Readers see the old or the new content, never a mix.
 * One writer per path at a time (the temporary name is fixed, so a crash
 * leaves no more than one stray file). 0, or -1 with errno set. */
int fs_write_atomic(const char *path, const void *data, size_t n, mode_t mode,
    bool durable);

/* fsync a file, or a directory so that a rename in it survives a power
 * cut. 0 or -1/errno. */
int fs_fsync(const char *path);

/* mkdir -p with mode for the directories it creates. 0 or -1/errno. */
int fs_mkdirs(const char *path, mode_t mode);

/* Read a whole (small) file, at most max bytes; the result is
 * NUL-terminated. The last component is not followed when it is a
 * symlink (ELOOP); the file is opened without blocking and must be a
 * regular file (EINVAL for a FIFO, device or directory, checked on the
 * open descriptor). NULL with errno set (EFBIG when larger than max). */
char *fs_read_file(const char *path, size_t max, size_t *len);

/* The same for a secret: the last component followed only when follow,
 * read into one buffer that is never reallocated (no copy of a secret is
 * left in freed memory); EFBIG at once when larger than max. */
char *fs_read_secret(const char *path, size_t max, bool follow, size_t *len);

/* The same for name in the open directory dirfd (openat). */
char *fs_read_file_at(int dirfd, const char *name, size_t max, size_t *len);

/* Open rel (a relative path) beneath the directory rootfd the way an
 * untrusted tree must be walked: no symlink in any component, no "..",
 * no escape from rootfd (openat2 RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS,
 * or one component at a time with O_NOFOLLOW where openat2 is missing). O_CLOEXEC | O_NOFOLLOW
 * are added to flags; pass O_NONBLOCK when opening a file that may be a
 * FIFO. A descriptor, or -1 with errno set (ELOOP for a symlink, EXDEV
 * for an escape). */
int fs_open_beneath(int rootfd, const char *rel, int flags);

/* write(2) all of data, retrying short writes and EINTR. 0, or -1 with
 * errno set. */
int fs_write_all(int fd, const void *data, size_t n);

/* Copy len bytes from in_fd at *in_off to out_fd at its current offset,
 * inside the kernel (copy_file_range) when it can, else with read/write
 * (EXDEV between file systems, ENOSYS, EINVAL on some). Advances *in_off.
 * 0, or -1 with errno set. */
int fs_copy_range(int in_fd, off_t *in_off, int out_fd, uint64_t len);

/* Copy a whole file to dst atomically (tmp in dst's directory + rename);
 * durable fsyncs as in fs_write_atomic. 0 or -1/errno. */
int fs_copy_file_atomic(const char *src, const char *dst, mode_t mode,
    bool durable);

/* Remove a directory tree (no symlinks followed). 0 or -1/errno. */
int fs_remove_tree(const char *path);

/* Dirname of path into buf (size bytes). */
int fs_dirname(const char *path, char *buf, size_t size);

/* An absolute form of path without resolving symlinks (prepends the
 * working directory, folds "." and ".." lexically). Newly allocated. */
char *fs_absolute(const char *path);

/* True when the resolved path lies inside the resolved directory root
 * (both already canonical, e.g. from realpath). */
bool fs_path_inside(const char *root, const char *path);

#endif
