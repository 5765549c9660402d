/* intake.h -- every door (finalize requests, the watcher, retry) turns "this file is finished" into exactly one job. */
#ifndef JP_INTAKE_H
#define JP_INTAKE_H

#include "daemon/jobtab.h"
#include "daemon/request.h"
#include "daemon/spool.h"

/* The rules of admission, in one place:
 *  - a recording is a regular file beneath RECORDINGS_DIR (resolved),
 *    reached without a symlink, pinned by device and inode (pin.h);
 *  - the same file through any door, twice, or after a restart is one
 *    job; another file at a path that had one is a new recording with an
 *    id and keys of its own;
 *  - a quarantined file that changed since is probed again;
 *  - a second file in one session gets its own session key.
 * New and changed jobs are saved (fsync) outside the table's lock: the job
 * is claimed (running) while it is written. */
struct intake {
	struct jobtab *tab;
	const struct spool *sp;
	const char *root;           /* realpath of RECORDINGS_DIR; NULL while
	                               it is missing (nothing is admitted) */
	/* called for every media file a request named (the watcher forgets
	 * it); may be NULL */
	void (*taken)(const char *path, void *ctx);
	void *ctx;
};

/* What became of an admission, for a door that answers someone. */
struct intake_result {
	char id[33];                /* the job's id (new or known) */
	char why[600];              /* a refusal's reason */
};

/* Admit the media file at path (absolute, resolved) found through door
 * ("finalize", "watcher", "http", ...), with the legacy ROOM argument or
 * NULL. Refusals are logged. 1 when a new job was made, 0 when the
 * recording was known (or probed again), -1 when refused; res (may be
 * NULL) gets the job id or the reason. */
int intake_file(struct intake *in, const char *path, const char *legacy_room,
    const char *door, struct intake_result *res);

/* Carry out one spool request (spool_each_request's callback shape):
 * a session directory, a file, or a retry. Always 0 (the request is
 * consumed; what it named is still found by the watcher). */
int intake_request(const struct request *r, const char *name, void *in);

#endif
