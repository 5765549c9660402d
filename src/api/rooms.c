/* rooms.c -- the rooms API: rooms checked and stored, meetings started in them with their JWT URLs. */
#include "api/rooms.h"

#include "base/log.h"
#include "base/util.h"
#include "api/db.h"
#include "api/token.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

/* A timestamptz column as the API writes times: UTC, microseconds, Z. */
#define ROOMS_ISO(col) \
	"to_char(" col " AT TIME ZONE 'UTC', " \
	"'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"

/* A room row (alias r) as the API shows it: the columns of the schema
 * (migrate.c), not to_json(r): a Reflector table may hold more, some
 * of them secrets (a webhook's). */
#define ROOMS_ROOM_JSON \
	"json_build_object('id', r.id, 'name', r.name, 'user_id', r.user_id, " \
	"'created_at', " ROOMS_ISO("r.created_at") ", " \
	"'zulip_auto_post', r.zulip_auto_post, 'zulip_stream', " \
	"r.zulip_stream, 'zulip_topic', r.zulip_topic, 'is_locked', " \
	"r.is_locked, 'room_mode', r.room_mode, 'recording_type', " \
	"r.recording_type, 'recording_trigger', r.recording_trigger, " \
	"'is_shared', r.is_shared, 'platform', r.platform)"

#define ROOMS_NAME_RULE "1 to 64 characters: lower-case letters, digits, " \
	"'-' and '_', starting with a letter or digit"

#define ROOMS_NOT_FOUND "Room not found"

/* The settings a room is created with: each one a string from a fixed
 * set (Reflector's values), with its default. is_locked (a boolean) and
 * name are apart. */
static const char *const rooms_platforms[] = { "jitsi", "whereby", NULL };
static const char *const rooms_types[] = { "none", "local", "cloud", NULL };
static const char *const rooms_triggers[] = {
	"none", "prompt", "automatic", "automatic-2nd-participant", NULL };
static const char *const rooms_modes[] = { "normal", "group", NULL };

static const struct rooms_setting {
	const char *key;
	const char *const *allowed;
	const char *dflt;
} rooms_settings[] = {
	{ "platform", rooms_platforms, "jitsi" },
	{ "recording_type", rooms_types, "cloud" },
	{ "recording_trigger", rooms_triggers, "automatic-2nd-participant" },
	{ "room_mode", rooms_modes, "normal" },
};
_Static_assert(sizeof(rooms_settings) / sizeof(rooms_settings[0]) ==
    ROOMS_NSETTINGS, "ROOMS_NSETTINGS (rooms.h) counts rooms_settings");

#define ROOMS_FIELDS "name, platform, recording_type, recording_trigger, " \
	"is_locked, room_mode"

/* ---- answers ------------------------------------------------------------ */

static void
rooms_text(struct rooms_answer *out, unsigned status, const char *json)
{
	out->status = status;
	out->json = xstrdup(json);
}

/* {"detail": message}. Messages quote only what rooms_quotable allows,
 * but a parser's message may hold any byte: anything but printable
 * ASCII becomes '?', so that the text is always a JSON string. */
static void __attribute__((format(printf, 3, 4)))
rooms_detail(struct rooms_answer *out, unsigned status, const char *fmt, ...)
{
	char msg[1024], *p;
	json_t *o;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	for (p = msg; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
			*p = '?';
	o = json_pack("{s:s}", "detail", msg);
	out->status = status;
	out->json = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (out->json == NULL)
		out->json = xstrdup("{\"detail\":\"out of memory\"}");
}

/* A statement failed: the connection broke (503: try again) or the
 * server refused it (500). err is logged, never answered. */
static void
rooms_db_failed(PGconn *conn, struct rooms_answer *out, const char *err)
{
	log_warn("rooms API: database statement failed", "error", err);
	if (PQstatus(conn) != CONNECTION_OK)
		rooms_detail(out, 503, "the database is unreachable: try again "
		    "shortly");
	else
		rooms_detail(out, 500, "the database refused the statement: "
		    "the daemon's log says why");
}

/* Whether s may be quoted in a message as it is: short printable ASCII. */
static bool
rooms_quotable(const char *s)
{
	size_t n;

	for (n = 0; s[n] != '\0'; n++)
		if (n >= 2 * ROOMS_NAME_MAX || s[n] < 0x20 || s[n] > 0x7e)
			return false;
	return true;
}

/* ---- names -------------------------------------------------------------- */

/* Why name is not a room name, or NULL when it is one. */
static const char *
rooms_name_problem(const char *name)
{
	size_t n;

	if (name[0] == '\0')
		return "empty";
	if (strlen(name) > ROOMS_NAME_MAX)
		return "too long";
	if (!islower((unsigned char)name[0]) && !isdigit((unsigned char)name[0]))
		return "does not start with a letter or digit";
	for (n = 0; name[n] != '\0'; n++)
		if (!(name[n] >= 'a' && name[n] <= 'z') &&
		    !(name[n] >= '0' && name[n] <= '9') && name[n] != '-' &&
		    name[n] != '_')
			return "holds a character other than a-z, 0-9, '-', '_'";
	return NULL;
}

bool
rooms_name_ok(const char *name)
{
	return name != NULL && rooms_name_problem(name) == NULL;
}

/* ---- POST /v1/rooms ----------------------------------------------------- */

/* The value of one setting in obj: *out its text (the default when
 * absent). -1 with the 422 answered. */
static int
rooms_setting_value(const json_t *obj, const struct rooms_setting *s,
    const char **out, struct rooms_answer *ans)
{
	const json_t *v = json_object_get(obj, s->key);
	char list[256] = "";
	size_t i;

	*out = s->dflt;
	if (v == NULL)
		return 0;
	for (i = 0; json_is_string(v) && s->allowed[i] != NULL; i++)
		if (strcmp(json_string_value(v), s->allowed[i]) == 0) {
			*out = s->allowed[i];
			return 0;
		}
	for (i = 0; s->allowed[i] != NULL; i++)
		snprintf(list + strlen(list), sizeof(list) - strlen(list),
		    "%s\"%s\"", i > 0 ? ", " : "", s->allowed[i]);
	if (json_is_string(v) && rooms_quotable(json_string_value(v)))
		rooms_detail(ans, 422, "%s: `%s' is not one of %s", s->key,
		    json_string_value(v), list);
	else
		rooms_detail(ans, 422, "%s: must be one of %s (a string)",
		    s->key, list);
	return -1;
}

/* The body's fields: the name, then every setting. -1 with the 422
 * answered. */
int
rooms_parse_new(const char *body, size_t len, const char **name,
    const char *vals[ROOMS_NSETTINGS], bool *locked, json_t **root,
    struct rooms_answer *ans)
{
	const char *key, *why;
	json_error_t je;
	json_t *v;
	size_t i;

	*root = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY,
	    &je);
	if (*root == NULL) {
		rooms_detail(ans, 422, "body: not valid JSON: %s (line %d, "
		    "column %d)", je.text, je.line, je.column);
		return -1;
	}
	if (!json_is_object(*root)) {
		rooms_detail(ans, 422, "body: must be a JSON object with "
		    ROOMS_FIELDS);
		return -1;
	}
	/* a setting the room cannot keep is refused, not dropped */
	json_object_foreach(*root, key, v) {
		for (i = 0; i < ROOMS_NSETTINGS; i++)
			if (strcmp(key, rooms_settings[i].key) == 0)
				break;
		if (i < ROOMS_NSETTINGS || strcmp(key, "name") == 0 ||
		    strcmp(key, "is_locked") == 0)
			continue;
		if (rooms_quotable(key))
			rooms_detail(ans, 422, "`%s': no such field (a room "
			    "takes " ROOMS_FIELDS ")", key);
		else
			rooms_detail(ans, 422, "body: a field that is not one "
			    "of " ROOMS_FIELDS);
		return -1;
	}
	v = json_object_get(*root, "name");
	if (!json_is_string(v)) {
		rooms_detail(ans, 422, "name: required, a string of "
		    ROOMS_NAME_RULE);
		return -1;
	}
	/* no NUL inside: the parser refuses \u0000 */
	*name = json_string_value(v);
	if ((why = rooms_name_problem(*name)) != NULL) {
		if (rooms_quotable(*name) && (*name)[0] != '\0')
			rooms_detail(ans, 422, "name: `%s' %s: a room name is "
			    ROOMS_NAME_RULE, *name, why);
		else
			rooms_detail(ans, 422, "name: %s: a room name is "
			    ROOMS_NAME_RULE, why);
		return -1;
	}
	for (i = 0; i < ROOMS_NSETTINGS; i++)
		if (rooms_setting_value(*root, &rooms_settings[i], &vals[i],
		    ans) < 0)
			return -1;
	v = json_object_get(*root, "is_locked");
	if (v != NULL && !json_is_boolean(v)) {
		rooms_detail(ans, 422, "is_locked: must be true or false");
		return -1;
	}
	*locked = json_is_true(v);
	return 0;
}

void
rooms_create(PGconn *conn, const struct config *cfg, const char *body,
    size_t len, struct rooms_answer *out)
{
	const char *name = NULL, *vals[ROOMS_NSETTINGS], *params[7];
	char id[37], err[1024];
	json_t *root = NULL;
	PGresult *r;
	bool locked;

	(void)cfg;
	if (rooms_parse_new(body, len, &name, vals, &locked, &root, out) < 0)
		goto out;
	util_uuid4(id);
	params[0] = id;
	params[1] = name;
	params[2] = vals[0];
	params[3] = vals[1];
	params[4] = vals[2];
	params[5] = vals[3];
	params[6] = locked ? "true" : "false";
	/* the UNIQUE name decides between racing creations: no look-up
	 * first, no error to catch */
	if (db_exec(conn, "insert a room",
	    "INSERT INTO room AS r (id, name, platform, recording_type, "
	    "recording_trigger, room_mode, is_locked) VALUES ($1, $2, $3, $4, "
	    "$5, $6, $7::boolean) ON CONFLICT (name) DO NOTHING RETURNING "
	    ROOMS_ROOM_JSON "::text", 7, params, &r, err, sizeof(err)) < 0) {
		rooms_db_failed(conn, out, err);
		goto out;
	}
	if (PQntuples(r) == 1)
		rooms_text(out, 201, PQgetvalue(r, 0, 0));
	else
		rooms_detail(out, 409, "Room `%s' exists", name);
	PQclear(r);
out:
	json_decref(root);
}

/* ---- GET /v1/rooms[/{name}] --------------------------------------------- */

void
rooms_list(PGconn *conn, const struct config *cfg, struct rooms_answer *out)
{
	char err[1024];
	PGresult *r;

	(void)cfg;
	if (db_exec(conn, "list the rooms",
	    "SELECT json_build_object('rooms', coalesce(json_agg("
	    ROOMS_ROOM_JSON " ORDER BY r.name COLLATE \"C\"), '[]'::json))::text "
	    "FROM room r", 0, NULL, &r, err, sizeof(err)) < 0) {
		rooms_db_failed(conn, out, err);
		return;
	}
	rooms_text(out, 200, PQgetvalue(r, 0, 0));
	PQclear(r);
}

void
rooms_get(PGconn *conn, const struct config *cfg, const char *name,
    struct rooms_answer *out)
{
	const char *params[1] = { name };
	char err[1024];
	PGresult *r;

	(void)cfg;
	if (!rooms_name_ok(name)) {
		rooms_detail(out, 404, ROOMS_NOT_FOUND);
		return;
	}
	if (db_exec(conn, "read a room", "SELECT " ROOMS_ROOM_JSON "::text "
	    "FROM room r WHERE r.name = $1", 1, params, &r, err,
	    sizeof(err)) < 0) {
		rooms_db_failed(conn, out, err);
		return;
	}
	if (PQntuples(r) == 1)
		rooms_text(out, 200, PQgetvalue(r, 0, 0));
	else
		rooms_detail(out, 404, ROOMS_NOT_FOUND);
	PQclear(r);
}

/* ---- POST /v1/rooms/{name}/meeting -------------------------------------- */

/* A statement's error may quote the row (PostgreSQL's DETAIL: "Failing
 * row contains ..."), and a meeting's row holds its tokens: the message
 * ends before any of that. */
static void
rooms_scrub(char *err, size_t errlen)
{
	static const char *const marks[] = { " DETAIL:", "jwt=", "eyJ" };
	size_t i;
	char *p;

	for (i = 0; i < sizeof(marks) / sizeof(marks[0]); i++)
		if ((p = strstr(err, marks[i])) != NULL)
			snprintf(p, errlen - (size_t)(p - err), "%s",
			    " (the rest, which may quote tokens, left out)");
}

/* Wipe and free a token or a URL carrying one. */
static void
rooms_wipe(char *s)
{
	if (s == NULL)
		return;
	explicit_bzero(s, strlen(s));
	free(s);
}

void
rooms_new_meeting(PGconn *conn, const struct config *cfg, const char *name,
    int64_t now_us, struct rooms_answer *out)
{
	char id[37], user[37], host[37], start_s[24], end_s[24], err[1024];
	char *room_name = NULL, *tok = NULL, *host_tok = NULL, *url = NULL;
	char *host_url = NULL, *p;
	const char *params[7];
	int64_t start, end;
	PGresult *r;

	if (!rooms_name_ok(name)) {
		rooms_detail(out, 404, ROOMS_NOT_FOUND);
		return;
	}
	if (cfg->jwt_secret == NULL) {
		rooms_detail(out, 503, "JITSI_JWT_SECRET is not set: a meeting "
		    "needs it to sign its room tokens (Prosody's app_secret)");
		return;
	}
	if (cfg->jitsi_domain == NULL) {
		rooms_detail(out, 503, "JITSI_DOMAIN is not set: a meeting "
		    "needs it for its URLs and its tokens' sub");
		return;
	}
	/* whole seconds: the JWTs' exp is end_date exactly */
	start = now_us / 1000000;
	end = start + cfg->jwt_ttl;
	util_uuid4(id);
	util_uuid4(user);
	util_uuid4(host);
	room_name = xasprintf("%s-%s-%s", cfg->app_id, name, id);
	for (p = room_name; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	tok = token_mint(cfg, room_name, user, "Participant", false, start,
	    end, err, sizeof(err));
	if (tok != NULL)
		host_tok = token_mint(cfg, room_name, host, "Moderator", true,
		    start, end, err, sizeof(err));
	if (tok == NULL || host_tok == NULL) {
		log_warn("rooms API: cannot make a meeting's tokens", "room",
		    name, "error", err);
		rooms_detail(out, 500, "cannot make the meeting's tokens: %s",
		    err);
		goto out;
	}
	url = token_url(cfg, room_name, tok);
	host_url = token_url(cfg, room_name, host_tok);
	snprintf(start_s, sizeof(start_s), "%lld", (long long)start);
	snprintf(end_s, sizeof(end_s), "%lld", (long long)end);
	params[0] = id;
	params[1] = room_name;
	params[2] = url;
	params[3] = host_url;
	params[4] = start_s;
	params[5] = end_s;
	params[6] = name;
	/* one statement: the room read and the meeting written together,
	 * no room no row; nothing shared between two of them */
	if (db_exec(conn, "insert a meeting",
	    "INSERT INTO meeting AS m (id, room_name, room_url, host_room_url, "
	    "start_date, end_date, user_id, room_id, is_locked, room_mode, "
	    "recording_type, recording_trigger, platform, is_active, "
	    "num_clients, events) SELECT $1, $2, $3, $4, "
	    "to_timestamp($5::bigint), to_timestamp($6::bigint), r.user_id, "
	    "r.id, r.is_locked, r.room_mode, r.recording_type, "
	    "r.recording_trigger, 'jitsi', true, 0, '[]' FROM room r WHERE "
	    "r.name = $7 RETURNING json_build_object('id', m.id, 'room_name', "
	    "m.room_name, 'room_url', m.room_url, 'host_room_url', "
	    "m.host_room_url, 'start_date', " ROOMS_ISO("m.start_date") ", "
	    "'end_date', " ROOMS_ISO("m.end_date") ", 'room_id', m.room_id, "
	    "'is_locked', m.is_locked, 'room_mode', m.room_mode, "
	    "'recording_type', m.recording_type, 'recording_trigger', "
	    "m.recording_trigger, 'platform', m.platform, 'is_active', "
	    "m.is_active, 'num_clients', m.num_clients)::text", 7, params, &r,
	    err, sizeof(err)) < 0) {
		rooms_scrub(err, sizeof(err));
		rooms_db_failed(conn, out, err);
		goto out;
	}
	if (PQntuples(r) == 1) {
		rooms_text(out, 201, PQgetvalue(r, 0, 0));
		log_info("meeting created", "room", name, "meeting", id);
	} else {
		rooms_detail(out, 404, ROOMS_NOT_FOUND);
	}
	PQclear(r);
out:
	free(room_name);
	rooms_wipe(tok);
	rooms_wipe(host_tok);
	rooms_wipe(url);
	rooms_wipe(host_url);
}
