/* api.h -- the co-hosted HTTP endpoint: its routes, what they answer, and how it reaches the pipeline. */
#ifndef JP_API_H
#define JP_API_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "base/config.h"

/* How the endpoint reaches the pipeline: the daemon's intake, nothing
 * else. */
struct api_doors {
	/* Queue the recording at path (as the request named it), legacy
	 * room name room, exactly as `jibri-finalize FILE ROOM' does: 0
	 * with the job's id, 1 when the daemon is stopping (503), -1 when
	 * refused with why (the 422's detail). Blocks briefly; any thread. */
	int (*admit)(void *ctx, const char *path, const char *room,
	    char id[33], char *why, size_t whylen);
	/* The pipeline's jobs as GET /v1/recordings shows them
	 * (jobview_summary): id NULL, every job (a new array, oldest
	 * first); else that job, or NULL when there is none. Any thread. */
	json_t *(*recordings)(void *ctx, const char *id);
	/* 1 while RECORDINGS_DIR is below DISK_MIN_FREE with nothing
	 * finished left to delete (health: degraded). Any thread. */
	int (*disk_full)(void *ctx);
	void *ctx;
};

struct api;

/*
 * Start the endpoint on cfg->listen (NULL: none, and api_start returns a
 * handle that does nothing) with the event store when DATABASE_URL is
 * set (migrated at start; the database may be down: events are
 * journaled). NULL with err when it cannot listen or open its journal.
 */
struct api *api_start(struct config *cfg, const struct api_doors *doors,
    char *err, size_t errlen);

/* Take the reloaded configuration (secrets and tokens; LISTEN and
 * DATABASE_URL need a restart). */
void api_reload(struct api *a, struct config *cfg);

/* A job changed: the recording table follows (soon, without waiting
 * for the database). Any thread; NULL is fine. */
void api_job_changed(struct api *a);

/* Who was in the meeting of room (or of meeting_url's room) between from
 * and to (Unix seconds), from its events (ledger_participants): a new
 * array, or NULL when there is no database, no such meeting, or the
 * database cannot answer now (a recording never waits for it). */
json_t *api_participants(struct api *a, const char *room,
    const char *meeting_url, int64_t from, int64_t to);

/* Answer what is in flight (SIGTERM), store or journal every accepted
 * event, stop. NULL is fine. */
void api_stop(struct api *a);

#endif
