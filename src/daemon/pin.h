/* pin.h -- a recording held by device and inode: found again beneath RECORDINGS_DIR, never through a symlink. */
#ifndef JP_PIN_H
#define JP_PIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* RECORDINGS_DIR is writable by Jibri's group, so a name checked once
 * proves nothing a moment later: a session directory can be renamed and a
 * symlink to anywhere put in its place. A job therefore remembers what it
 * admitted (the media file's and its directory's device and inode), and
 * before every step that reads or removes the source it looks the name up
 * again beneath the resolved root, never through a symlink, and compares.
 * Deleting goes through the directory descriptor that was compared
 * (unlinkat), so a swap between the check and the unlink cannot redirect
 * it. */
struct pin {
	int64_t dev, ino;           /* the media file */
	int64_t dir_dev, dir_ino;   /* the directory it lies in */
	int64_t size, mtime_ns;     /* when it was pinned */
};

/* Open rel (relative to root, which is canonical: realpath) beneath root
 * and pin it: a regular file reached without a symlink. 0, or -1 with a
 * reason in err (errno kept: ENOENT, ELOOP for a symlink...). */
int pin_take(const char *root, const char *rel, struct pin *p, char *err,
    size_t errlen);

/* Check that rel still names, beneath root, the pinned file in the
 * pinned directory. 0 when it does; then, when wanted, *dirfd is that
 * directory (O_DIRECTORY, for unlinkat) and *fd the file (read-only,
 * non-blocking), both the caller's to close. -1 with errno ENOENT when
 * the name is gone, ESTALE when it now names something else, and a
 * reason in err. */
int pin_check(const char *root, const char *rel, const struct pin *p,
    int *dirfd, int *fd, char *err, size_t errlen);

/* Whether a and b are the same file (device and inode). */
bool pin_same_file(const struct pin *a, const struct pin *b);

/* The job document's form {"dev","ino","dir_dev","dir_ino","size",
 * "mtime_ns"}; pin_from_json returns -1 when absent or incomplete (a job
 * made by an earlier version). */
json_t *pin_to_json(const struct pin *p);
int pin_from_json(const json_t *o, struct pin *p);

#endif
