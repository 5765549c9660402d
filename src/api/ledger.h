/* ledger.h -- the recording table follows the pipeline's jobs; who was in a meeting while a recording ran. */
#ifndef JP_LEDGER_H
#define JP_LEDGER_H

#include <stdint.h>
#include <stddef.h>

#include <jansson.h>
#include <libpq-fe.h>

/*
 * One thread with its own connection keeps a `recording' row per
 * pipeline job: id (the job's), meeting_id (the newest meeting whose
 * room_name is the recording's room, compared lower-case, that started
 * before it; NULL when none), bucket_name and object_key of
 * recording.mp4 once stored, recorded_at, status pending / processing /
 * completed / failed as the job moves (jobview_ledger_status).
 *
 * It reads the jobs through jobs() (a new array of jobview summaries)
 * when poked, and every LEDGER_RESCAN_MS anyway, and writes only the
 * rows whose status, object or room changed since it last wrote them.
 * While the database cannot be reached nothing is marked written: the
 * rows follow once it answers (retried with backoff up to
 * LEDGER_RETRY_MAX_MS), after a restart too. A job never waits for it.
 */
#define LEDGER_RESCAN_MS (30 * 1000)
#define LEDGER_RETRY_MAX_MS (30 * 1000)

struct ledger;

struct ledger *ledger_start(const char *database_url,
    json_t *(*jobs)(void *ctx), void *ctx);
/* Something changed: sync soon (coalesced). Any thread; NULL is fine. */
void ledger_poke(struct ledger *l);
/* One last sync when the database answers, then stop. NULL is fine. */
void ledger_stop(struct ledger *l);

/* Upsert job summary s's row. 0, or -1 with err. */
int ledger_write(PGconn *conn, const json_t *s, char *err, size_t errlen);

/*
 * Who was in the meeting of room (or of the last path segment of
 * meeting_url; either may be NULL) between from and to (Unix seconds),
 * from its stored joined/left events: a new array of {"id", "name",
 * "occupant", "joined_at", "left_at"} (ISO-8601 UTC; left_at null
 * while still there), by joined_at. NULL with err empty when no meeting
 * has that room name; NULL with err set when the database failed.
 */
json_t *ledger_participants(PGconn *conn, const char *room,
    const char *meeting_url, int64_t from, int64_t to, char *err,
    size_t errlen);

#endif
