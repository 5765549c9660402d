/* test_rooms.c -- unit tests of rooms.c: room names, and every answer given before the database is asked. */
#include "api/rooms.h"

#include "unit.h"

#include <jansson.h>

/* The detail of an answer, checked to be {"detail": "..."} with status. */
static char *
detail_of(struct rooms_answer *a, unsigned status)
{
	json_t *o = json_loads(a->json, 0, NULL);
	char *d = NULL;

	CHECK_INT(a->status, status);
	CHECK(json_is_object(o) && json_object_size(o) == 1);
	if (json_is_string(json_object_get(o, "detail")))
		d = strdup(json_string_value(json_object_get(o, "detail")));
	CHECK(d != NULL);
	json_decref(o);
	free(a->json);
	a->json = NULL;
	return d != NULL ? d : strdup("");
}

/* rooms_create refuses body (422) before any SQL (no connection), with
 * a detail holding want1 and, unless NULL, want2. */
static void
check_refused(const char *body, const char *want1, const char *want2)
{
	struct rooms_answer a = { 0, NULL };
	struct config cfg;
	char *d;

	memset(&cfg, 0, sizeof(cfg));
	rooms_create(NULL, &cfg, body, strlen(body), &a);
	d = detail_of(&a, 422);
	if (strstr(d, want1) == NULL || (want2 != NULL &&
	    strstr(d, want2) == NULL)) {
		fprintf(stderr, "  body %s: detail `%s' lacks `%s' / `%s'\n",
		    body, d, want1, want2 ? want2 : "");
		unit_failed_checks++;
	}
	free(d);
}

static void
rooms_names(void)
{
	char long_name[ROOMS_NAME_MAX + 2];

	CHECK(rooms_name_ok("my-jitsi-room"));
	CHECK(rooms_name_ok("a"));
	CHECK(rooms_name_ok("0day_room-2"));
	memset(long_name, 'a', ROOMS_NAME_MAX);
	long_name[ROOMS_NAME_MAX] = '\0';
	CHECK(rooms_name_ok(long_name));
	long_name[ROOMS_NAME_MAX] = 'a';
	long_name[ROOMS_NAME_MAX + 1] = '\0';
	CHECK(!rooms_name_ok(long_name));
	CHECK(!rooms_name_ok(""));
	CHECK(!rooms_name_ok(NULL));
	CHECK(!rooms_name_ok("My-Room"));
	CHECK(!rooms_name_ok("my room"));
	CHECK(!rooms_name_ok("../x"));
	CHECK(!rooms_name_ok("a/b"));
	CHECK(!rooms_name_ok("-room"));
	CHECK(!rooms_name_ok("_room"));
	CHECK(!rooms_name_ok("caf\xc3\xa9"));
	CHECK(!rooms_name_ok("room?jwt=x"));
	CHECK(!rooms_name_ok("room%2f"));
	CHECK(!rooms_name_ok("room\n"));
}

static void
rooms_create_refusals(void)
{
	/* the body */
	check_refused("", "body: not valid JSON", NULL);
	check_refused("{\"name\": \"x\"", "body: not valid JSON", NULL);
	check_refused("[\"my-room\"]", "body: must be a JSON object", NULL);
	check_refused("{\"name\":\"a\",\"name\":\"b\"}", "not valid JSON",
	    "duplicate");
	check_refused("{\"name\":\"r\",\"zulip_stream\":\"s\"}",
	    "`zulip_stream': no such field", "room_mode");
	/* the name: what is wrong, what a name may be */
	check_refused("{}", "name: required", "lower-case letters");
	check_refused("{\"name\": 5}", "name: required", NULL);
	check_refused("{\"name\": null}", "name: required", NULL);
	check_refused("{\"name\": \"\"}", "name: empty", "1 to 64");
	check_refused("{\"name\": \"My-Room\"}", "name: `My-Room' does not "
	    "start", "lower-case");
	check_refused("{\"name\": \"my room\"}", "`my room' holds a character",
	    NULL);
	check_refused("{\"name\": \"../x\"}", "`../x' does not start", NULL);
	check_refused("{\"name\": \"a\\u0000b\"}", "not valid JSON", NULL);
	check_refused("{\"name\": \"caf\\u00e9\"}", "name: holds a character",
	    NULL);
	check_refused("{\"name\": \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaa\"}", "too long", "1 to 64");
	/* the settings: the field and the values it may take */
	check_refused("{\"name\":\"r\",\"recording_type\":\"tape\"}",
	    "recording_type: `tape' is not one of \"none\", \"local\", "
	    "\"cloud\"", NULL);
	check_refused("{\"name\":\"r\",\"recording_type\":1}",
	    "recording_type: must be one of", NULL);
	check_refused("{\"name\":\"r\",\"recording_trigger\":\"Automatic\"}",
	    "recording_trigger: `Automatic' is not one of \"none\", "
	    "\"prompt\", \"automatic\", \"automatic-2nd-participant\"", NULL);
	check_refused("{\"name\":\"r\",\"room_mode\":\"solo\"}",
	    "room_mode: `solo' is not one of \"normal\", \"group\"", NULL);
	check_refused("{\"name\":\"r\",\"platform\":\"zoom\"}",
	    "platform: `zoom' is not one of \"jitsi\", \"whereby\"", NULL);
	check_refused("{\"name\":\"r\",\"platform\":null}",
	    "platform: must be one of", NULL);
	check_refused("{\"name\":\"r\",\"is_locked\":\"false\"}",
	    "is_locked: must be true or false", NULL);
	check_refused("{\"name\":\"r\",\"is_locked\":0}",
	    "is_locked: must be true or false", NULL);
	/* bytes that are not printable ASCII are never quoted back */
	check_refused("{\"name\":\"r\",\"room_mode\":\"\\u0007x\"}",
	    "room_mode: must be one of", NULL);
}

static void
rooms_answers_without_database(void)
{
	struct rooms_answer a = { 0, NULL };
	struct config cfg;
	char *d;

	memset(&cfg, 0, sizeof(cfg));
	cfg.app_id = "reflector";
	cfg.jwt_ttl = 8 * 3600;
	/* a name no room can have: 404, nothing asked */
	rooms_get(NULL, &cfg, "../etc", &a);
	d = detail_of(&a, 404);
	CHECK_STR(d, "Room not found");
	free(d);
	rooms_new_meeting(NULL, &cfg, "Bad Name", 0, &a);
	d = detail_of(&a, 404);
	CHECK_STR(d, "Room not found");
	free(d);
	/* no secret, then no domain: 503 naming the key */
	cfg.jitsi_domain = "meet.example.com";
	rooms_new_meeting(NULL, &cfg, "my-jitsi-room", 0, &a);
	d = detail_of(&a, 503);
	CHECK(strncmp(d, "JITSI_JWT_SECRET is not set", 27) == 0);
	free(d);
	cfg.jitsi_domain = NULL;
	cfg.jwt_secret = "0123456789abcdef0123456789abcdef";
	rooms_new_meeting(NULL, &cfg, "my-jitsi-room", 0, &a);
	d = detail_of(&a, 503);
	CHECK(strncmp(d, "JITSI_DOMAIN is not set", 23) == 0);
	free(d);
}

UNIT_MAIN("rooms", T(rooms_names), T(rooms_create_refusals),
    T(rooms_answers_without_database))
