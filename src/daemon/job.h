/* job.h -- one recording: identity, state machine, JSON document on disk. */
#ifndef JP_JOB_H
#define JP_JOB_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

/* The states a job passes through. FAILED waits: with next_attempt_at set
 * it resumes by itself at resume_step; without it, only `retry` resumes
 * it. DONE and QUARANTINED are final (QUARANTINED: bad media, kept in
 * place, reported). */
enum job_state {
	JOB_QUEUED = 0,
	JOB_PROBING,
	JOB_REMUXING,
	JOB_STORING,
	JOB_NOTIFYING,
	JOB_FINISHING,
	JOB_DONE,
	JOB_FAILED,
	JOB_QUARANTINED,
};

/* A job is its JSON document (what jobs/<id>.json holds) plus the
 * daemon's bookkeeping. The document is the only state that survives a
 * restart; every field the pipeline needs lives in it:
 *
 *   id, source, rel, session_dir, session_id, room_name, legacy_room,
 *   discovered_by, created_at, updated_at (ISO-8601),
 *   state, resume_step, attempts, next_attempt_at (ms), last_error,
 *   result ("completed"|"failed"), error (final reason), quarantined,
 *   source_size, source_mtime, meeting_url, metadata, probe, no_audio,
 *   outputs{video,audio,manifest}{file,size,sha256},
 *   objects{…}{key,url,size,sha256,etag}, store_resume{…},
 *   webhook{body,attempts,first_attempt_at,delivered_at,status},
 *   log_offset, finished_at
 */
struct job {
	char id[33];
	json_t *doc;            /* while running, only its worker touches it */
	char *dir;              /* the source's directory (immutable) */
	bool running;           /* a worker owns it (daemon only) */
};

const char *job_state_name(enum job_state s);
int job_state_parse(const char *s, enum job_state *out);
bool job_state_final(enum job_state s);

/* The 32-hex-digit id of the recording at rel (its path relative to
 * RECORDINGS_DIR): stable across restarts, the same through every door. */
void job_id_for(const char *rel, char id[33]);

/* A new job document in state QUEUED. */
struct job *job_new(const char *id, const char *source, const char *rel,
    const char *discovered_by);
/* Take ownership of a loaded document (NULL when it is not a job). */
struct job *job_from_doc(json_t *doc);
void job_free(struct job *j);

enum job_state job_state(const struct job *j);
void job_set_state(struct job *j, enum job_state s);

/* Getters on the document; NULL/0 when absent. */
const char *job_str(const struct job *j, const char *key);
int64_t job_int(const struct job *j, const char *key);
bool job_bool(const struct job *j, const char *key);
json_t *job_obj(struct job *j, const char *key);   /* created when absent */

void job_set_str(struct job *j, const char *key, const char *value);
void job_set_int(struct job *j, const char *key, int64_t value);
void job_set_bool(struct job *j, const char *key, bool value);
void job_set(struct job *j, const char *key, json_t *value); /* steals */

/* Record a failed attempt at the current step: FAILED with resume_step,
 * last_error and next_attempt_at = now + delay (delay < 0: no automatic
 * retry; error becomes the final reason). */
void job_fail(struct job *j, const char *reason, int64_t delay_ms);

/* Resume a FAILED job now (retry command): back to resume_step with the
 * attempt counters reset (a webhook gets a new WEBHOOK_RETRY_FOR window);
 * a QUARANTINED job is probed again from the start. */
void job_resume(struct job *j);

/* A FAILED job whose next attempt is due goes back to resume_step; the
 * attempt count stays, so the backoff keeps growing. */
void job_wake(struct job *j);

/* When the job may run next (ms since the epoch): 0 = now, -1 = never
 * (final, or failed without automatic retry). */
int64_t job_due(const struct job *j);

#endif
