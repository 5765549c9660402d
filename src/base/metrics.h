/* metrics.h -- the process's Prometheus metrics: one table of every metric, lock-free counting, gauges filled at scrape time, text format 0.0.4. */
#ifndef JP_METRICS_H
#define JP_METRICS_H

#include <stddef.h>
#include <stdint.h>

/*
 * Every metric is one row of METRICS below, fixed at compile time: its
 * id (METRIC_<ID>), its name after "jibri_pipeline_" (base units:
 * seconds, bytes; counters end in _total), its type, up to two label
 * dimensions and its help text. A series is one combination of label
 * values, named by the values' indices in their dimensions.
 *
 * Counting is lock-free (C11 atomics) and never allocates or blocks:
 * metrics_inc and metrics_observe may be called from any thread, in any
 * hot path. A gauge holds the last value set; gauges that describe the
 * moment (jobs by state, free bytes) are set by collectors, functions
 * that metrics_render calls first, so that a scrape costs nothing when
 * nobody scrapes.
 *
 * A dimension's values are either fixed here (the METRICS_<DIM>_<VALUE>
 * indices below) or handed over once at start by the module whose table
 * they are -- the job states and output kinds by the daemon, the routes
 * by the endpoint -- with metrics_dim_set, so that no list is kept twice.
 * Such a dimension holds at most METRICS_DIM_MAX values.
 *
 * What is shown: a metric with one dimension (or none) shows every
 * series, zeros included, so that rates exist from the start; a metric
 * with two shows only the series counted at least once (routes times
 * status codes would be hundreds of zeros).
 */

#define METRICS_PREFIX "jibri_pipeline_"
#define METRICS_DIM_MAX 32
/* What metrics_render writes at most (it is a few KiB). */
#define METRICS_TEXT_MAX (1024 * 1024)

/* Histogram buckets, seconds: from a small file stored locally to a
 * large one uploaded slowly; the rest is in +Inf. */
#define METRICS_BUCKETS(B) B(0.1) B(0.25) B(0.5) B(1) B(2.5) B(5) B(10) \
	B(30) B(60) B(120) B(300) B(600)

/* ---- the fixed dimensions' values: V(DIM, NAME, "value"), in order ---- */

#define METRICS_VERSION_VALUES(V) V(VERSION, THIS, JP_VERSION)
/* a recording that reached an end */
#define METRICS_FINISHED_VALUES(V) V(FINISHED, COMPLETED, "completed") \
	V(FINISHED, FAILED, "failed") V(FINISHED, QUARANTINED, "quarantined")
/* one completion webhook attempt: 2xx, will be retried, refused for good */
#define METRICS_WEBHOOK_VALUES(V) V(WEBHOOK, ACKNOWLEDGED, "acknowledged") \
	V(WEBHOOK, RETRY, "retry") V(WEBHOOK, FAILED, "failed")
/* a recording without moov: rebuilt, or nothing to rebuild (quarantined) */
#define METRICS_SALVAGE_VALUES(V) V(SALVAGE, SALVAGED, "salvaged") \
	V(SALVAGE, NOTHING, "nothing")
#define METRICS_DIR_VALUES(V) V(DIR, RECORDINGS, "recordings") \
	V(DIR, STATE, "state")
/* the HTTP status codes the endpoint answers with; OTHER the rest */
#define METRICS_CODE_VALUES(V) V(CODE, 200, "200") V(CODE, 201, "201") \
	V(CODE, 202, "202") V(CODE, 204, "204") V(CODE, 400, "400") \
	V(CODE, 401, "401") V(CODE, 403, "403") V(CODE, 404, "404") \
	V(CODE, 405, "405") V(CODE, 409, "409") V(CODE, 413, "413") \
	V(CODE, 422, "422") V(CODE, 500, "500") V(CODE, 503, "503") \
	V(CODE, OTHER, "other")
/* the Jitsi event names (the seed's and mod_event_sync's); OTHER the rest */
#define METRICS_EVENT_VALUES(V) \
	V(EVENT, ROOM_CREATED, "muc-room-created") \
	V(EVENT, ROOM_DESTROYED, "muc-room-destroyed") \
	V(EVENT, OCCUPANT_JOINED, "muc-occupant-joined") \
	V(EVENT, OCCUPANT_LEFT, "muc-occupant-left") \
	V(EVENT, RECORDING_ON, "jibri-recording-on") \
	V(EVENT, RECORDING_OFF, "jibri-recording-off") \
	V(EVENT, RECORDING_COMPLETED, "recording_completed") \
	V(EVENT, OTHER, "other")
/* what became of an accepted event (ingest.h's ingest_status) */
#define METRICS_RESULT_VALUES(V) V(RESULT, STORED, "stored") \
	V(RESULT, DUPLICATE, "duplicate") V(RESULT, JOURNALED, "journaled") \
	V(RESULT, NO_MEETING, "no_meeting") \
	V(RESULT, UNAVAILABLE, "unavailable") V(RESULT, FAILED, "failed")

#define METRICS_ENUM_VALUE_(dim, name, value) METRICS_##dim##_##name,
enum { METRICS_VERSION_VALUES(METRICS_ENUM_VALUE_) METRICS_VERSION_N };
enum { METRICS_FINISHED_VALUES(METRICS_ENUM_VALUE_) METRICS_FINISHED_N };
enum { METRICS_WEBHOOK_VALUES(METRICS_ENUM_VALUE_) METRICS_WEBHOOK_N };
enum { METRICS_SALVAGE_VALUES(METRICS_ENUM_VALUE_) METRICS_SALVAGE_N };
enum { METRICS_DIR_VALUES(METRICS_ENUM_VALUE_) METRICS_DIR_N };
enum { METRICS_CODE_VALUES(METRICS_ENUM_VALUE_) METRICS_CODE_N };
enum { METRICS_EVENT_VALUES(METRICS_ENUM_VALUE_) METRICS_EVENT_N };
enum { METRICS_RESULT_VALUES(METRICS_ENUM_VALUE_) METRICS_RESULT_N };

/* ---- the dimensions: D(ID, label name, how many values at most) ------- */

#define METRICS_DIMS(D) \
	D(NONE, NULL, 1) \
	D(VERSION, "version", METRICS_VERSION_N) \
	D(STATE, "state", METRICS_DIM_MAX)      /* the daemon's job states */ \
	D(KIND, "kind", METRICS_DIM_MAX)        /* its output kinds */ \
	D(FINISHED, "outcome", METRICS_FINISHED_N) \
	D(WEBHOOK, "outcome", METRICS_WEBHOOK_N) \
	D(SALVAGE, "outcome", METRICS_SALVAGE_N) \
	D(DIR, "dir", METRICS_DIR_N) \
	D(ROUTE, "route", METRICS_DIM_MAX)      /* the endpoint's routes */ \
	D(CODE, "code", METRICS_CODE_N) \
	D(EVENT, "type", METRICS_EVENT_N) \
	D(RESULT, "result", METRICS_RESULT_N)

#define METRICS_ENUM_DIM_(id, label, cap) METRICS_DIM_##id,
enum metrics_dim { METRICS_DIMS(METRICS_ENUM_DIM_) METRICS_NDIMS };

/* ---- every metric: X(ID, name, type, dimension, dimension, help) ------ */

#define METRICS(X) \
	X(BUILD_INFO, "build_info", GAUGE, VERSION, NONE, \
	    "The version running: always 1, the version is the label.") \
	X(START_TIME, "start_time_seconds", GAUGE, NONE, NONE, \
	    "When the daemon started, Unix time.") \
	X(JOBS, "jobs", GAUGE, STATE, NONE, \
	    "Jobs the daemon holds, by state (a finished job leaves once " \
	    "its source is gone).") \
	X(SPOOL_DEPTH, "spool_depth", GAUGE, NONE, NONE, \
	    "Recordings waiting: requests in STATE_DIR/incoming plus jobs " \
	    "not finished that go on by themselves (queued, in a step, " \
	    "or waiting for an automatic retry).") \
	X(OLDEST_PENDING, "oldest_pending_seconds", GAUGE, NONE, NONE, \
	    "Age of the oldest of those jobs since it was admitted; 0 when " \
	    "there is none.") \
	X(FINISHED, "recordings_finished_total", COUNTER, FINISHED, NONE, \
	    "Recordings that reached an end: completed (stored and " \
	    "announced), failed (waits for jibri-pipeline retry), " \
	    "quarantined (bad media, kept and reported).") \
	X(STORED_BYTES, "stored_bytes_total", COUNTER, KIND, NONE, \
	    "Bytes of outputs stored and verified, by output kind.") \
	X(STORE_SECONDS, "store_duration_seconds", HISTOGRAM, KIND, NONE, \
	    "Time to store and verify one output, by output kind.") \
	X(WEBHOOK_SECONDS, "webhook_duration_seconds", HISTOGRAM, NONE, \
	    NONE, "Time of one completion webhook attempt.") \
	X(WEBHOOK_ATTEMPTS, "webhook_attempts_total", COUNTER, WEBHOOK, \
	    NONE, "Completion webhook attempts: acknowledged (2xx), retry " \
	    "(network error, 408, 429, 5xx), failed (refused for good).") \
	X(SALVAGE, "salvage_total", COUNTER, SALVAGE, NONE, \
	    "Recordings without moov (ffmpeg killed): salvaged, or nothing " \
	    "to rebuild (quarantined).") \
	X(DISK_FREE, "disk_free_bytes", GAUGE, DIR, NONE, \
	    "Bytes free for the daemon on the file system of " \
	    "RECORDINGS_DIR and of STATE_DIR.") \
	X(DISK_SIZE, "disk_size_bytes", GAUGE, DIR, NONE, \
	    "Size of the file system of RECORDINGS_DIR and of STATE_DIR.") \
	X(DISK_DELETIONS, "disk_deletions_total", COUNTER, NONE, NONE, \
	    "Finished recordings' sources deleted because RECORDINGS_DIR " \
	    "was below DISK_MIN_FREE.") \
	X(DISK_FULL, "disk_nothing_to_free", GAUGE, NONE, NONE, \
	    "1 while RECORDINGS_DIR is below DISK_MIN_FREE with no " \
	    "finished recording left to delete: Jibri's next recording " \
	    "may fail.") \
	X(HTTP_REQUESTS, "http_requests_total", COUNTER, ROUTE, CODE, \
	    "Requests answered by the HTTP endpoint, by route pattern and " \
	    "status code.") \
	X(EVENTS, "events_total", COUNTER, EVENT, RESULT, \
	    "Jitsi events accepted by the endpoint, by event name and what " \
	    "became of them.") \
	X(JOURNAL_EVENTS, "event_journal_events", GAUGE, NONE, NONE, \
	    "Events kept in the local journal, waiting for the database.") \
	X(JOURNAL_BYTES, "event_journal_bytes", GAUGE, NONE, NONE, \
	    "Size of the local event journal.")

#define METRICS_ENUM_ID_(id, name, type, d1, d2, help) METRIC_##id,
enum metrics_id { METRICS(METRICS_ENUM_ID_) METRICS_N };

/* Count n at the series label (counters; else ignored). */
void metrics_inc(enum metrics_id id, size_t label, uint64_t n);
/* The same for a metric of two dimensions. */
void metrics_inc2(enum metrics_id id, size_t a, size_t b, uint64_t n);
/* One more of a counter without labels. */
static inline void
metrics_count(enum metrics_id id)
{
	metrics_inc(id, 0, 1);
}
/* One observation of seconds (histograms; negative counts as 0). */
void metrics_observe(enum metrics_id id, size_t label, double seconds);
/* Set a gauge. */
void metrics_set(enum metrics_id id, size_t label, double value);

/* What a series holds now: a counter's count, a gauge's value, a
 * histogram's number of observations. */
double metrics_value(enum metrics_id id, size_t a, size_t b);

/* The values of dimension d, taken from the caller's table (kept, not
 * copied: it must outlive every render; at most METRICS_DIM_MAX).
 * Fixed dimensions are left as they are. Call at start, before any
 * render. */
void metrics_dim_set(enum metrics_dim d, const char *const *values,
    size_t n);
/* How many values d has, the i-th one (NULL past the end), and the
 * index of value (-1 when it is not one). */
size_t metrics_dim_size(enum metrics_dim d);
const char *metrics_dim_value(enum metrics_dim d, size_t i);
int metrics_dim_find(enum metrics_dim d, const char *value);

/* Call fn(ctx) at the start of every render, to set gauges of the
 * moment. fn runs on the scraping thread with the collectors' lock
 * held: it must not add or remove collectors. 0, or -1 when the table
 * (8) is full. metrics_collector_remove waits for a render running it. */
int metrics_collector_add(void (*fn)(void *ctx), void *ctx);
void metrics_collector_remove(void (*fn)(void *ctx), void *ctx);

/* Every metric in the Prometheus text format 0.0.4 (HELP and TYPE for
 * each, label values escaped), after running the collectors. Malloc'd. */
char *metrics_render(void);

/* Every value back to 0 (tests). */
void metrics_reset(void);

#endif
