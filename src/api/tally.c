/* tally.c -- a meeting's events and participant count, computed from meeting_event: the SQL the rollup and the API share. */
#include "api/tally.h"

#include "base/util.h"
#include "api/db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

/* The advisory lock space of rollups ("jp" + 1), keyed by the meeting. */
#define TALLY_LOCK_SPACE "28785"

int
tally_rollup(PGconn *conn, const char *id, char *err, size_t errlen)
{
	const char *params[1] = { id };
	char sub[256];

	if (db_exec(conn, "begin a rollup", "BEGIN", 0, NULL, NULL, err,
	    errlen) < 0)
		return -1;
	/* taken before the UPDATE's snapshot: what the previous holder
	 * committed is seen */
	if (db_exec(conn, "lock the meeting for its rollup",
	    "SELECT pg_advisory_xact_lock(" TALLY_LOCK_SPACE ", hashtext($1))",
	    1, params, NULL, err, errlen) < 0 ||
	    db_exec(conn, "write meeting.events and num_clients",
	    "UPDATE meeting SET events = " TALLY_EVENTS_SQL ", num_clients = "
	    TALLY_COUNT_SQL " WHERE id = $1", 1, params, NULL, err,
	    errlen) < 0 ||
	    db_exec(conn, "commit a rollup", "COMMIT", 0, NULL, NULL, err,
	    errlen) < 0) {
		(void)db_exec(conn, "roll back a rollup", "ROLLBACK", 0, NULL,
		    NULL, sub, sizeof(sub));
		return -1;
	}
	return 0;
}

int
tally_meeting_json(PGconn *conn, const char *id, char **json, char *err,
    size_t errlen)
{
	const char *params[1] = { id };
	json_t *row = NULL, *events = NULL;
	json_error_t je;
	PGresult *r;
	int rc = -1;

	*json = NULL;
	if (db_exec(conn, "read the meeting",
	    "SELECT to_json(m)::text, " TALLY_EVENTS_SQL "::text, "
	    TALLY_COUNT_SQL ", " TALLY_REPORTED_SQL ", (SELECT coalesce("
	    "json_agg(json_build_object('id', x.id, 'status', x.status, "
	    "'bucket_name', x.bucket_name, 'object_key', x.object_key, "
	    "'recorded_at', x.recorded_at) ORDER BY x.recorded_at, x.id), "
	    "'[]'::json) FROM recording x WHERE x.meeting_id = m.id)::text"
	    " FROM meeting m WHERE m.id = $1", 1, params, &r, err, errlen) < 0)
		return -1;
	if (PQntuples(r) == 0) {
		PQclear(r);
		return 0;
	}
	row = json_loads(PQgetvalue(r, 0, 0), JSON_DECODE_ANY, &je);
	events = json_loads(PQgetvalue(r, 0, 1), JSON_DECODE_ANY, &je);
	if (!json_is_object(row) || events == NULL) {
		snprintf(err, errlen, "read the meeting: the database gave "
		    "something that is not JSON: %s", je.text);
		goto out;
	}
	json_object_set_new(row, "events", events);
	events = NULL;
	json_object_set_new(row, "num_clients",
	    json_integer(strtoll(PQgetvalue(r, 0, 2), NULL, 10)));
	json_object_set_new(row, "active_occupants_reported",
	    PQgetisnull(r, 0, 3) ? json_null() :
	    json_integer(strtoll(PQgetvalue(r, 0, 3), NULL, 10)));
	json_object_set_new(row, "recordings", json_loads(PQgetvalue(r, 0, 4),
	    0, &je));
	*json = json_dumps(row, JSON_COMPACT | JSON_PRESERVE_ORDER);
	rc = *json != NULL ? 1 : -1;
	if (rc < 0)
		snprintf(err, errlen, "read the meeting: out of memory");
out:
	json_decref(row);
	json_decref(events);
	PQclear(r);
	return rc;
}
