/* tally.h -- a meeting's events and participant count, computed from meeting_event: the SQL the rollup and the API share. */
#ifndef JP_TALLY_H
#define JP_TALLY_H

#include <stddef.h>

#include <libpq-fe.h>

/*
 * SQL expressions over the meeting whose id is $1.
 *
 * TALLY_EVENTS_SQL: meeting.events as it must read: what the meeting held
 * before the pipeline first wrote it (meeting_event_base), then every
 * stored event in arrival (id) order; '[]' when none.
 *
 * TALLY_COUNT_SQL: num_clients: occupants (Prosody's occupant_jid is
 * the user's own JID, the same in the main room and a breakout room)
 * who are in a room (scope) of the meeting: their latest event there,
 * by the event's own time (a left wins a tie with a joined), is a
 * joined later than that room's last destroy. Someone in two rooms at
 * once (a breakout join that overtook the main room's left) counts
 * once. Arrival order and duplicates change nothing. One pass over
 * the meeting's rows (the destroys are grouped once, not looked up per
 * occupant: that was quadratic).
 *
 * TALLY_REPORTED_SQL: Prosody's own active_occupants_count in the newest
 * event (by event time) that carried one, or NULL.
 */
#define TALLY_EVENTS_SQL \
	"coalesce((SELECT json_agg(x.e ORDER BY x.k, x.n) FROM (" \
	"SELECT t.e, 0 AS k, t.n FROM meeting_event_base b, " \
	"json_array_elements(CASE json_typeof(b.events) WHEN 'array' THEN " \
	"b.events ELSE '[]'::json END) WITH ORDINALITY AS t(e, n) " \
	"WHERE b.meeting_id = $1 " \
	"UNION ALL SELECT ev.event, 1, ev.id FROM meeting_event ev " \
	"WHERE ev.meeting_id = $1) x), '[]'::json)"

#define TALLY_COUNT_SQL \
	"(SELECT count(DISTINCT last.occupant)::integer FROM (SELECT " \
	"DISTINCT ON (o.scope, o.occupant) o.scope, o.occupant, o.delta, " \
	"o.event_time FROM meeting_event o WHERE o.meeting_id = $1 AND " \
	"o.occupant IS NOT NULL AND o.delta <> 0 ORDER BY o.scope, " \
	"o.occupant, o.event_time DESC, o.delta ASC) last LEFT JOIN (SELECT " \
	"d.scope, max(d.event_time) AS t FROM meeting_event d WHERE " \
	"d.meeting_id = $1 AND d.type = 'muc-room-destroyed' GROUP BY " \
	"d.scope) gone ON gone.scope = last.scope WHERE last.delta = 1 AND " \
	"(gone.t IS NULL OR last.event_time > gone.t))"

#define TALLY_REPORTED_SQL \
	"(SELECT r.reported_count FROM meeting_event r WHERE r.meeting_id = " \
	"$1 AND r.reported_count IS NOT NULL ORDER BY r.event_time DESC, " \
	"r.id DESC LIMIT 1)"

/* Bring meeting.events and meeting.num_clients of meeting id up to date
 * from meeting_event, in one transaction that holds the meeting's
 * advisory lock (so that two daemons' rollups of one meeting take turns
 * and the later one sees everything committed before it). 0, or -1 with
 * err. */
int tally_rollup(PGconn *conn, const char *id, char *err, size_t errlen);

/* The meeting id as GET /v1/meetings/{id} shows it: its row's columns,
 * with events and num_clients computed now, and Prosody's last
 * active_occupants_count as active_occupants_reported, and its
 * recordings (the recording rows linked to it). 1 with *json (a
 * JSON object, newly allocated), 0 when there is no such meeting, -1 with
 * err. */
int tally_meeting_json(PGconn *conn, const char *id, char **json, char *err,
    size_t errlen);

#endif
