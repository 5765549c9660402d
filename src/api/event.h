/* event.h -- incoming event bodies (the seed's shape, Prosody mod_event_sync's, recording-complete) into the one form that is stored. */
#ifndef JP_EVENT_H
#define JP_EVENT_H

#include <stddef.h>
#include <stdint.h>

/* Which body a route takes. */
enum event_shape {
	EVENT_SEED,              /* POST /v1/jitsi/events */
	EVENT_ROOM_CREATED,      /* POST .../event-sync/events/room/created */
	EVENT_ROOM_DESTROYED,    /* .../room/destroyed */
	EVENT_OCCUPANT_JOINED,   /* .../occupant/joined */
	EVENT_OCCUPANT_LEFT,     /* .../occupant/left */
};

/* What is stored of one event: a row of meeting_event, and the element
 * of meeting.events. Strings are owned (NULL where absent). */
struct event {
	char *room;              /* meeting.room_name the meeting is found by */
	char *meeting_id;        /* NULL until the meeting is found */
	char *type;              /* the event name: "muc-occupant-joined", ... */
	/* the element of meeting.events, compact JSON, keys in this order:
	 * {"type": type, "timestamp": receive time (ISO-8601 UTC, µs, Z),
	 *  "data": {...payload fields..., "timestamp", "user_id",
	 *  "display_name"}} */
	char *element;
	char *dedup_key;         /* NULL: every copy is a new event */
	char *occupant;          /* who joined or left (occupant_jid, else
	                            user_id); NULL: counts nobody */
	char *scope;             /* "" the main room, else breakout_room_id */
	int delta;               /* +1 joined, -1 left, 0 anything else */
	int64_t event_us;        /* the payload's own time (Unix µs); the
	                            receive time when it has none */
	int64_t received_us;     /* receive time, Unix µs */
	int64_t reported_count;  /* Prosody's active_occupants_count; -1 none */
};

/* Turn body (len bytes, any bytes) of shape into ev, received at
 * received_us; idem_key is the request's Idempotency-Key header or NULL
 * (seed shape only: "idem:" + key becomes the dedup key). 0, or -1 with
 * err naming the field that is wrong ("room: must be a non-empty
 * string"), the 422's detail: always printable UTF-8 (it may quote the
 * body), ready for a JSON string; ev is then empty. The caller enforces
 * the 64 KiB cap (413) first; bodies nested over 32 levels are refused. */
int event_parse(enum event_shape shape, const char *body, size_t len,
    int64_t received_us, const char *idem_key, struct event *ev, char *err,
    size_t errlen);

/* The seed's finalize.sh payload. */
struct recording_complete {
	char *room_name;         /* "" when the script had no room */
	char *recording_file;
	char *recording_status;  /* NULL when absent */
	char *timestamp;         /* as sent; NULL when absent */
};

/* Parse a recording-complete body: 0, or -1 with err naming the field. */
int event_parse_recording(const char *body, size_t len,
    struct recording_complete *rc, char *err, size_t errlen);
void event_recording_free(struct recording_complete *rc);

/* The "recording_completed" event of rc for its meeting (room rc->room_name),
 * with the job it became: data {room_name, recording_file,
 * recording_status, timestamp, job_id}. Dedup key "recording:" + job_id. */
void event_from_recording(const struct recording_complete *rc,
    const char *job_id, int64_t received_us, struct event *ev);

/* ev as one line of JSON (no newline) for the journal, and back: every
 * field round-trips. event_from_json: 0, or -1 when line is not one. */
char *event_to_json(const struct event *ev);
int event_from_json(const char *line, size_t len, struct event *ev);

/* Free ev's strings and empty it (an empty ev is fine). */
void event_free(struct event *ev);

/* t (Unix µs) as ISO-8601 UTC with microseconds: "2025-01-15T10:30:00.123456Z". */
void event_iso_us(int64_t t, char out[32]);

#endif
