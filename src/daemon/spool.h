/* spool.h -- the state directory: job files, incoming requests, work files, lock. */
#ifndef JP_SPOOL_H
#define JP_SPOOL_H

#include <stddef.h>

#include "daemon/job.h"
#include "daemon/request.h"

/* Layout under STATE_DIR:
 *   incoming/NAME.req   requests from jibri-finalize, retry, the HTTP door
 *   jobs/ID.json        one job document per recording (atomic, durable)
 *   work/ID/            remux outputs until they are stored
 *   uploads.log         one JSON line per finished job
 *   lock                held (flock) by the running daemon */
struct spool {
	char *dir;
	char *incoming;
	char *jobs;
	char *work;
	int lock_fd;
};

/* Create the directories (mode 0750) and fill sp. 0, or -1 with a
 * message naming the directory. */
int spool_open(struct spool *sp, const char *state_dir, char *err,
    size_t errlen);
void spool_close(struct spool *sp);

/* Take the daemon lock: 0, or -1 when another daemon holds it (or the
 * lock cannot be made), with a message. */
int spool_lock(struct spool *sp, char *err, size_t errlen);
/* Whether some process holds the daemon lock (for status). */
int spool_locked_by_other(const struct spool *sp);

/* Save a job atomically and durably. 0, or -1 with errno set. */
int spool_save(const struct spool *sp, const struct job *j);
/* Load one job by id; NULL when absent or unreadable. */
struct job *spool_load(const struct spool *sp, const char *id);

/* Whether jobs/<id>.json exists (a job pruned from the daemon's table
 * still owns its id). */
int spool_has_job(const struct spool *sp, const char *id);

/* Remove jobs/<id>.json (JOB_RETENTION ran out). 0, or -1 with errno. */
int spool_forget(const struct spool *sp, const char *id);

/* A job file is read whole; a multipart resume state of 10,000 parts is
 * well under this. */
#define SPOOL_JOB_MAX (16 << 20)

/* Call fn for every job file (sorted by name); unreadable files are
 * reported through bad (may be NULL) and skipped. fn takes ownership. */
void spool_each_job(const struct spool *sp, void (*fn)(struct job *j,
    void *ctx), void (*bad)(const char *path, const char *why, void *ctx),
    void *ctx);

/* Call fn for every request in incoming/ (oldest first). When fn returns
 * 0 the request file is removed; otherwise it stays for the next scan.
 * Malformed requests are moved aside (NAME.bad) and reported to bad. */
void spool_each_request(const struct spool *sp, int (*fn)(
    const struct request *r, const char *name, void *ctx),
    void (*bad)(const char *path, const char *why, void *ctx), void *ctx);
/* Number of requests waiting in incoming/. */
size_t spool_pending_requests(const struct spool *sp);

/* The work directory of a job (created), into buf. 0 or -1/errno. */
int spool_work_dir(const struct spool *sp, const char *id, char *buf,
    size_t size);

#endif
