/* pipeline.h -- the steps of one recording: probe, remux, manifest, store, notify, finish. */
#ifndef JP_PIPELINE_H
#define JP_PIPELINE_H

#include <stdatomic.h>

#include "base/config.h"
#include "daemon/job.h"
#include "daemon/spool.h"

struct pipeline_ctx {
	struct config *cfg;          /* held (config_ref) for this run */
	const struct spool *sp;
	const atomic_bool *stopping; /* set on SIGTERM: stop between steps */
	/* optional (NULL: none), called with hooks: */
	void (*changed)(void *hooks);   /* after every save of a job */
	/* who was in the recording's meeting from .. to (Unix seconds),
	 * from the endpoint's events: a new array, or NULL (unknown, no
	 * database; never waits long) */
	json_t *(*participants)(void *hooks, const char *room,
	    const char *meeting_url, int64_t from, int64_t to);
	void *hooks;
};

/* Run job through its steps until it is final, waits for a retry
 * (FAILED with next_attempt_at), fails for good, or the daemon stops.
 * The job file is saved after every step, and inside long steps at every
 * checkpoint, so a kill -9 at any instant resumes where it stopped. Each
 * step is idempotent. */
void pipeline_run(struct pipeline_ctx *ctx, struct job *j);

/* Apply KEEP_LOCAL=delete/age to a finished job's source now: remove the
 * media file, then metadata.json and the session directory when nothing
 * else is left in it. Only for completed jobs whose objects were verified
 * and whose webhook was acknowledged (or disabled). Returns 1 when it
 * deleted, 0 when there was nothing to do, -1 on error (logged). */
int pipeline_delete_source(struct job *j);

#endif
