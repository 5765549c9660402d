/* fuzz_rooms.c -- libFuzzer harness: any bytes as the body of POST /v1/rooms (rooms_parse_new, and rooms_create's answer to a refused body). */
#include "api/rooms.h"
#include "fuzz.h"

#include <stdbool.h>
#include <string.h>

#include <jansson.h>

#define FUZZ_ROOMS_MAX 65536        /* the endpoint's cap: 413 past it */

static json_t unset;                /* root before the call */

/* The settings in rooms_settings order, their allowed values and
 * defaults, as rooms.c has them (Reflector's). */
static const char *const platforms[] = { "jitsi", "whereby", NULL };
static const char *const types[] = { "none", "local", "cloud", NULL };
static const char *const triggers[] = {
	"none", "prompt", "automatic", "automatic-2nd-participant", NULL };
static const char *const modes[] = { "normal", "group", NULL };

static const struct {
	const char *key;
	const char *const *allowed;
	const char *dflt;
} settings[ROOMS_NSETTINGS] = {
	{ "platform", platforms, "jitsi" },
	{ "recording_type", types, "cloud" },
	{ "recording_trigger", triggers, "automatic-2nd-participant" },
	{ "room_mode", modes, "normal" },
};

static bool
allowed(size_t i, const char *s)
{
	const char *const *a;

	for (a = settings[i].allowed; *a != NULL; a++)
		if (strcmp(s, *a) == 0)
			return true;
	return false;
}

/* Whether the body is one rooms_create takes, read here apart from
 * rooms.c: an object of the known fields only, a room name, each setting
 * absent or one of its values, is_locked absent or a boolean. */
static bool
body_ok(const json_t *root)
{
	const char *key;
	json_t *v;
	size_t i;

	if (!json_is_object(root))
		return false;
	json_object_foreach((json_t *)root, key, v) {
		for (i = 0; i < ROOMS_NSETTINGS; i++)
			if (strcmp(key, settings[i].key) == 0)
				break;
		if (i < ROOMS_NSETTINGS) {
			if (!json_is_string(v) || !allowed(i,
			    json_string_value(v)))
				return false;
		} else if (strcmp(key, "name") == 0) {
			if (!json_is_string(v) ||
			    !rooms_name_ok(json_string_value(v)))
				return false;
		} else if (strcmp(key, "is_locked") == 0) {
			if (!json_is_boolean(v))
				return false;
		} else {
			return false;
		}
	}
	return json_object_get(root, "name") != NULL;
}

/* A 422 as the API answers it: {"detail": "..."}, printable ASCII. */
static void
check_refusal(const struct rooms_answer *ans)
{
	json_t *o, *d;
	const char *p;

	FUZZ_CHECK(ans->status == 422, "refused with status %u", ans->status);
	FUZZ_CHECK(ans->json != NULL, "refused without an answer");
	o = json_loads(ans->json, JSON_REJECT_DUPLICATES, NULL);
	FUZZ_CHECK(json_is_object(o) && json_object_size(o) == 1,
	    "answer `%s'", ans->json);
	d = json_object_get(o, "detail");
	FUZZ_CHECK(json_is_string(d) && json_string_value(d)[0] != '\0',
	    "answer `%s'", ans->json);
	for (p = json_string_value(d); *p != '\0'; p++)
		FUZZ_CHECK(*p >= 0x20 && *p <= 0x7e, "a byte 0x%02x in the "
		    "detail: %s", (unsigned char)*p, ans->json);
	json_decref(o);
}

/* A body rebuilt from what was parsed, every field written out, parses
 * to the same room. */
static void
check_again(const char *name, const char *const vals[ROOMS_NSETTINGS],
    bool locked)
{
	const char *name2 = NULL, *vals2[ROOMS_NSETTINGS];
	struct rooms_answer ans = { 0, NULL };
	json_t *body, *root = NULL;
	bool locked2 = !locked;
	char *text;
	size_t i;

	body = json_pack("{s:s, s:b}", "name", name, "is_locked", (int)locked);
	FUZZ_CHECK(body != NULL, "json_pack");
	for (i = 0; i < ROOMS_NSETTINGS; i++)
		json_object_set_new(body, settings[i].key, json_string(vals[i]));
	text = json_dumps(body, JSON_COMPACT);
	FUZZ_CHECK(text != NULL, "json_dumps");
	FUZZ_CHECK(rooms_parse_new(text, strlen(text), &name2, vals2, &locked2,
	    &root, &ans) == 0, "the rebuilt body %s refused: %s", text,
	    ans.json ? ans.json : "");
	FUZZ_CHECK(strcmp(name2, name) == 0 && locked2 == locked,
	    "the rebuilt body %s gives another room", text);
	for (i = 0; i < ROOMS_NSETTINGS; i++)
		FUZZ_CHECK(strcmp(vals2[i], vals[i]) == 0, "the rebuilt body %s "
		    "gives %s `%s'", text, settings[i].key, vals2[i]);
	json_decref(root);
	free(text);
	json_decref(body);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *name = NULL, *vals[ROOMS_NSETTINGS];
	struct rooms_answer ans = { 0, NULL }, created = { 0, NULL };
	json_t *root = &unset, *v, *same;
	struct config cfg;
	bool locked = false;
	size_t i;
	char *in;
	int rc;

	if (size > FUZZ_ROOMS_MAX)
		return 0;
	/* an exact copy: a read past the input is a read past the buffer */
	in = malloc(size ? size : 1);
	FUZZ_CHECK(in != NULL, "malloc");
	memcpy(in, data, size);
	memset(vals, 0, sizeof(vals));

	rc = rooms_parse_new(in, size, &name, vals, &locked, &root, &ans);
	FUZZ_CHECK(rc == 0 || rc == -1, "returned %d", rc);
	FUZZ_CHECK(root != &unset, "root not set");
	/* the same reading of the body, apart */
	same = json_loadb(in, size, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY,
	    NULL);
	FUZZ_CHECK((root == NULL) == (same == NULL), "root %p for a body "
	    "that %s JSON", (void *)root, same ? "is" : "is not");
	FUZZ_CHECK((rc == 0) == body_ok(same), "returned %d for a body the "
	    "rules %s: %.*s", rc, body_ok(same) ? "take" : "refuse",
	    (int)size, in);

	if (rc < 0) {
		check_refusal(&ans);
		/* rooms_create answers a refused body before any SQL: the
		 * same answer (no connection is needed) */
		memset(&cfg, 0, sizeof(cfg));
		rooms_create(NULL, &cfg, in, size, &created);
		FUZZ_CHECK(created.status == ans.status && created.json != NULL &&
		    strcmp(created.json, ans.json) == 0,
		    "rooms_create answers %u %s, rooms_parse_new %u %s",
		    created.status, created.json ? created.json : "(none)",
		    ans.status, ans.json);
		free(created.json);
		free(ans.json);
	} else {
		FUZZ_CHECK(ans.json == NULL && ans.status == 0,
		    "an accepted body answered %u", ans.status);
		FUZZ_CHECK(json_is_object(root), "accepted, root not an object");
		FUZZ_CHECK(rooms_name_ok(name), "name `%s'", name ? name : "");
		FUZZ_CHECK(name == json_string_value(json_object_get(root,
		    "name")), "name not the body's");
		for (i = 0; i < ROOMS_NSETTINGS; i++) {
			FUZZ_CHECK(vals[i] != NULL && allowed(i, vals[i]),
			    "%s `%s'", settings[i].key, vals[i] ? vals[i] : "");
			v = json_object_get(root, settings[i].key);
			FUZZ_CHECK(strcmp(vals[i], v != NULL ?
			    json_string_value(v) : settings[i].dflt) == 0,
			    "%s `%s', the body has %s", settings[i].key,
			    vals[i], v != NULL ? json_string_value(v) :
			    "nothing");
		}
		FUZZ_CHECK(locked == json_is_true(json_object_get(root,
		    "is_locked")), "is_locked %d", locked);
		check_again(name, vals, locked);
	}
	json_decref(same);
	json_decref(root);
	free(in);
	return 0;
}
