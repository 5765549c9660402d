/* rooms.h -- the rooms API: create, list and read rooms, start a meeting in one with its participant and moderator JWTs. */
#ifndef JP_ROOMS_H
#define JP_ROOMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "base/config.h"

/*
 * Each call takes an open connection (the caller's pool), the
 * configuration of the moment and the request, and fills an answer; it
 * never replies itself, checks no bearer token and sends no HTTP. The
 * caller has already checked API_TOKENS and capped the body (64 KiB).
 *
 * An answer is a status and JSON text: the resource, or {"detail": "..."}
 * for an error. json is always set (malloc'd: the caller frees it, or
 * hands it to http_reply_text). Statuses:
 *
 *   200, 201     the resource
 *   404          {"detail":"Room not found"}
 *   409          {"detail":"Room `NAME' exists"}
 *   422          the body: which field, what it must be
 *   500          the database refused a statement (logged)
 *   503          the connection broke (logged; try again), or
 *                JITSI_JWT_SECRET / JITSI_DOMAIN not set (named)
 *
 * Timestamps are ISO-8601 UTC with microseconds and Z. Nothing here logs
 * a token or a URL that carries one.
 */
struct rooms_answer {
	unsigned status;
	char *json;                  /* malloc'd JSON text */
};

/* The longest room name (bytes). */
#define ROOMS_NAME_MAX 64

/* Whether name is a room name: 1 to ROOMS_NAME_MAX characters, lower-case
 * ASCII letters, digits, '-' and '_', the first a letter or digit. It
 * goes into the meeting's room name and so into a URL path and the JWT's
 * room claim, as it is: nothing to escape, nothing Prosody folds. */
bool rooms_name_ok(const char *name);

/* The settings a room is created with, besides its name and is_locked:
 * platform, recording_type, recording_trigger, room_mode, in this order. */
#define ROOMS_NSETTINGS 4

/*
 * The body of POST /v1/rooms (len bytes, not NUL-terminated) taken apart
 * as rooms_create takes it, before the database is asked. 0: *name is a
 * name rooms_name_ok accepts (it points into *root); vals holds the
 * settings in the order above, each one of its allowed values (Reflector's:
 * jitsi or whereby; none, local or cloud; none, prompt, automatic or
 * automatic-2nd-participant; normal or group), the default when absent
 * (static strings); *locked is is_locked (false when absent). -1: ans is
 * the 422 {"detail": "..."} naming the field and what it must be (the
 * caller frees ans->json), and *name, vals and *locked mean nothing. In
 * both cases *root is the parsed body, or NULL when it is not JSON: the
 * caller json_decref's it (after its last use of *name).
 */
int rooms_parse_new(const char *body, size_t len, const char **name,
    const char *vals[ROOMS_NSETTINGS], bool *locked, json_t **root,
    struct rooms_answer *ans);

/* POST /v1/rooms: body (len bytes) is {"name", "platform",
 * "recording_type", "recording_trigger", "is_locked", "room_mode"}, name
 * required, the rest defaulting to jitsi, cloud,
 * automatic-2nd-participant, false, normal; any other field is refused.
 * 201 with the new row, 409 when the name is taken (one INSERT ... ON
 * CONFLICT: two creations of one name race to exactly one 201). */
void rooms_create(PGconn *conn, const struct config *cfg, const char *body,
    size_t len, struct rooms_answer *out);

/* GET /v1/rooms: 200 {"rooms": [...]}, every room, by name (bytewise). */
void rooms_list(PGconn *conn, const struct config *cfg,
    struct rooms_answer *out);

/* GET /v1/rooms/{name}: 200 with the room, or 404 (also for a name that
 * rooms_name_ok refuses: no such room can exist). */
void rooms_get(PGconn *conn, const struct config *cfg, const char *name,
    struct rooms_answer *out);

/* POST /v1/rooms/{name}/meeting: a new meeting in room name, starting at
 * now_us (Unix microseconds; kept to the second, like the JWTs' times)
 * and ending JWT_TTL later. Its room name is
 * "{JITSI_APP_ID}-{name}-{uuid4}" in lower case; room_url carries a
 * participant's token, host_room_url a moderator's, both expiring at
 * end_date, each with its own random user id. The room's is_locked,
 * room_mode, recording_type, recording_trigger and user_id are copied;
 * platform 'jitsi', is_active, num_clients 0, events []. One INSERT ...
 * SELECT FROM room: concurrent calls each get their own meeting. 201
 * with {"id", "room_name", "room_url", "host_room_url", "start_date",
 * "end_date", "room_id", "is_locked", "room_mode", "recording_type",
 * "recording_trigger", "platform", "is_active", "num_clients"}; 404 for
 * no such room; 503 naming the key when JITSI_JWT_SECRET or JITSI_DOMAIN
 * is not set (before the database is asked). */
void rooms_new_meeting(PGconn *conn, const struct config *cfg,
    const char *name, int64_t now_us, struct rooms_answer *out);

#endif
