/* job.h -- one recording: identity, state machine, what the pipeline learnt and did. */
#ifndef JP_JOB_H
#define JP_JOB_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "daemon/pin.h"

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

/* The derivatives of a recording, in the order they are made, stored and
 * announced: one table for the pipeline, the manifest, the webhook and
 * `put`. */
enum job_out { JOB_OUT_VIDEO = 0, JOB_OUT_AUDIO, JOB_OUT_MANIFEST, JOB_NOUT };

struct job_output_kind {
	const char *name;           /* "video": its name in job files, the
	                               manifest and the webhook */
	unsigned bit;               /* its OUTPUTS bit (config.h OUT_*) */
	const char *file;           /* its object name: "recording.mp4" */
	const char *content_type;
};
extern const struct job_output_kind job_outputs[JOB_NOUT];

/* An output made in the work directory, hashed, not yet stored. */
struct job_file {
	bool made;
	char *file;                 /* its name there (audio: audio.m4a, or
	                               audio.mka for codecs MP4 cannot hold) */
	char *store_key;            /* what store_put is given: ROOM/SESSION/FILE */
	char *key;                  /* the object's full key (storage prefix) */
	char *content_type;
	int64_t size;
	char sha256[65];
};

/* An output stored and verified (size, checksum) in storage. */
struct job_object {
	bool stored;
	char *key, *url, *etag;
	int64_t size;
	char sha256[65];
};

/* The completion webhook: the body is built once, so that every retry
 * carries the same bytes, signature and Idempotency-Key. */
struct job_webhook {
	char *body;                 /* NULL until built */
	int64_t attempts;
	int64_t first_attempt_at;   /* ms since the epoch; 0: none yet */
	char *delivered_at;         /* ISO-8601, when acknowledged */
	long status;                /* the last HTTP status; 0: none */
	bool disabled;              /* WEBHOOK_URL=none when it was due */
};

/* A job: what jobs/<id>.json holds, as fields. job.c alone knows the
 * JSON form (and reads every layout an earlier version wrote). Strings
 * are owned (NULL when unknown); json_t members are documents of their
 * own (a reference held). */
struct job {
	/* identity: set at admission, never changed */
	char id[33];                /* 32 hex digits: recording id and
	                               Idempotency-Key */
	char *source;               /* absolute path: resolved RECORDINGS_DIR
	                               + "/" + rel */
	char *rel;                  /* path relative to RECORDINGS_DIR */
	char *dir;                  /* the source's directory (not saved) */
	char *discovered_by;        /* "finalize", "watcher" */
	char *created_at;           /* ISO-8601 */
	bool pinned;                /* pin holds what was admitted (jobs of
	                               earlier versions get it on first use) */
	struct pin pin;
	char *legacy_room;          /* ROOM of `jibri-finalize FILE ROOM` */
	char *session_suffix;       /* added to the session id: a second file
	                               in a session, or at a path reused */

	/* the state machine */
	enum job_state state;
	enum job_state resume_step; /* FAILED: the step to run again */
	bool has_resume_step;
	int64_t attempts;           /* at the current step */
	int64_t next_attempt_at;    /* FAILED: ms since the epoch; 0: only
	                               `retry` resumes it */
	char *last_error;
	char *updated_at;           /* ISO-8601 */
	int64_t generation;         /* 0/1 first outcome; 2, 3...: a
	                               quarantined file probed again (its
	                               Idempotency-Key is ID.N) */

	/* what the recording is (queued, probing) */
	char *session_dir;          /* NULL for a file directly in
	                               RECORDINGS_DIR */
	char *session_id;           /* the key's SESSION component */
	char *room_name;            /* the key's ROOM component */
	char *room_source;          /* "meeting_url", "file_name", "legacy",
	                               "none" */
	char *meeting_url;
	json_t *metadata;           /* metadata.json without secrets */
	char *metadata_error;       /* why metadata.json was not used */
	json_t *event_participants; /* who was in the meeting while it ran,
	                               from the endpoint's events, when
	                               metadata.json named nobody (NULL:
	                               not known) */
	bool probed;                /* source_* and probe are set */
	int64_t source_size;        /* when probed */
	int64_t source_mtime;       /* seconds */
	int64_t source_mtime_ns;
	json_t *probe;              /* probe_to_json() of the source */
	bool no_audio;
	bool salvaged;              /* no moov: rebuilt by salvage (the
	                               original is never deleted) */
	json_t *salvage;            /* salvage_report_json(), when salvaged */

	/* what was made, stored and said */
	struct job_file outputs[JOB_NOUT];
	struct job_object objects[JOB_NOUT];
	json_t *store_resume[JOB_NOUT]; /* store_put's resume state while an
	                                   upload is under way (store.h) */
	struct job_webhook webhook;
	char *result;               /* "completed", "failed"; NULL before */
	char *error;                /* the final reason (failed for good,
	                               quarantined) */
	bool quarantined;
	bool has_log_offset;        /* uploads.log size before our line: */
	int64_t log_offset;         /* checked so it is written once */
	bool logged;
	char *finished_at;          /* ISO-8601 */
	int64_t finished_at_ms;
	char *source_deleted_at;    /* KEEP_LOCAL removed the source */

	json_t *unknown;            /* keys this version does not know: kept
	                               and written back as they were */
	bool running;               /* a worker or a door owns it (daemon) */
};

const char *job_state_name(enum job_state s);
int job_state_parse(const char *s, enum job_state *out);
bool job_state_final(enum job_state s);

/* The 32-hex-digit id of the recording at rel (its path relative to
 * RECORDINGS_DIR): stable across restarts, the same through every door. */
void job_id_for(const char *rel, char id[33]);

/* A new job in state QUEUED. */
struct job *job_new(const char *id, const char *source, const char *rel,
    const char *discovered_by);
void job_free(struct job *j);

/* The JSON form: what jobs/<id>.json holds. job_from_json takes a
 * document of this or any earlier version (NULL when it is not a job:
 * no valid id, source or state); job_to_json makes a new one. */
struct job *job_from_json(const json_t *doc);
json_t *job_to_json(const struct job *j);
/* The stored objects as the job file has them: {"video": {"key", "url",
 * "size", "sha256", "etag"}, ...}, in output order. New reference. */
json_t *job_objects_to_json(const struct job *j);

/* Replace the string at *field by a copy of value (NULL clears it). */
void job_set(char **field, const char *value);
/* Replace the document at *field (steals value; NULL clears it). */
void job_set_doc(json_t **field, json_t *value);

void job_set_state(struct job *j, enum job_state s);

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

/* Forget the outputs made (their upload states stay, for the store to
 * find stale and abort). */
void job_clear_outputs(struct job *j);

/* The outputs kind whose name is name, or -1. */
int job_out_find(const char *name);

#endif
