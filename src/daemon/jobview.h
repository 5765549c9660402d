/* jobview.h -- what a job looks like from outside: `status --json', GET /v1/recordings and the recording ledger. */
#ifndef JP_JOBVIEW_H
#define JP_JOBVIEW_H

#include <jansson.h>

#include "daemon/job.h"
#include "daemon/spool.h"

/*
 * A job's summary: id, state, resume_step, room_name, session_id,
 * source, discovered_by, attempts, last_error and error (URL passwords
 * redacted), result, quarantined, no_audio, created_at, updated_at,
 * finished_at, objects, source_deleted_at, next_attempt_at,
 * duration_seconds and source_size (once probed), progress
 * {outputs_stored, outputs_total, bytes_stored, bytes_total[, uploading
 * {output, parts_done, parts_total}]} (bytes of the outputs made; an
 * upload's finished parts count as size / parts each), webhook
 * {attempts, status, delivered_at}; and, for the
 * recording ledger, meeting_url, recorded_at (from Jibri's file name
 * `<room>_<yyyy-MM-dd-HH-mm-ss>.mp4', read as the host's local time:
 * Jibri names its files so; else when the job was created) and
 * ledger_status: pending (queued), processing, completed, failed
 * (failed or quarantined). Absent values are left out.
 */
json_t *jobview_summary(struct job *j);

/* Every job file in the spool, oldest first (created_at): *n loaded jobs
 * (free them with jobview_jobs_free). */
struct job **jobview_jobs(const struct spool *sp, size_t *n);
void jobview_jobs_free(struct job **v, size_t n);

/* The same as summaries in a new array. */
json_t *jobview_list(const struct spool *sp);

/* The summary of job id (32 hex digits) read from the spool, or NULL
 * when there is none. */
json_t *jobview_one(const struct spool *sp, const char *id);

/* The recording table's status for a job state. */
const char *jobview_ledger_status(enum job_state st);

#endif
