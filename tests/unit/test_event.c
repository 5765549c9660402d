/* test_event.c -- event bodies (the seed's, mod_event_sync's four, recording-complete) into their stored form, dedup keys, errors, the journal line. */
#include "unit.h"
#include "api/event.h"
#include "base/hash.h"

#include <jansson.h>
#include <stdbool.h>

#define RECV 1736937001250000LL         /* 2025-01-15T10:30:01.25Z */
#define RECV_ISO "2025-01-15T10:30:01.250000Z"
#define JOB "0123456789abcdef0123456789abcdef"

static char err[512];

static int
parse(enum event_shape shape, const char *body, const char *idem,
    struct event *ev)
{
	err[0] = '\0';
	return event_parse(shape, body, strlen(body), RECV, idem, ev, err,
	    sizeof(err));
}

/* The element's data, compact, keys in their order (caller frees). */
static char *
data_of(const struct event *ev)
{
	json_t *el = json_loads(ev->element, JSON_REJECT_DUPLICATES, NULL);
	char *s;

	if (el == NULL)
		return strdup("(element does not parse)");
	s = json_dumps(json_object_get(el, "data"), JSON_COMPACT |
	    JSON_PRESERVE_ORDER);
	json_decref(el);
	return s != NULL ? s : strdup("(no data)");
}

#define CHECK_DATA(ev, want) do { \
	char *d_ = data_of(ev); \
	CHECK_STR(d_, want); \
	free(d_); \
} while (0)

/* The shape fails with exactly msg. */
#define CHECK_ERR(shape, body, msg) do { \
	struct event e_; \
	CHECK_INT(parse(shape, body, NULL, &e_), -1); \
	CHECK_STR(err, msg); \
	CHECK(e_.element == NULL && e_.room == NULL && e_.dedup_key == NULL); \
} while (0)

/* The shape fails with a message that starts with prefix. */
#define CHECK_ERR_PREFIX(shape, body, prefix) do { \
	struct event e_; \
	CHECK_INT(parse(shape, body, NULL, &e_), -1); \
	if (strncmp(err, prefix, strlen(prefix)) != 0) { \
		fprintf(stderr, "  %s:%d: `%s' does not start with `%s'\n", \
		    __FILE__, __LINE__, err, prefix); \
		unit_failed_checks++; \
	} \
} while (0)

static bool
printable_utf8(const char *s)
{
	json_t *j = json_string(s);
	bool ok = j != NULL;

	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			ok = false;
	json_decref(j);
	return ok;
}

/* --- the seed's shape ---------------------------------------------------- */

static void
seed_example_joined(void)
{
	struct event ev;

	CHECK_INT(parse(EVENT_SEED, "{\"event\":\"muc-occupant-joined\","
	    "\"room\":\"reflector-test-room-uuid\",\"timestamp\":"
	    "\"2025-01-15T10:30:00.000Z\",\"data\":{\"user_id\":\"test-user\","
	    "\"display_name\":\"Test User\"}}", NULL, &ev), 0);
	CHECK_STR(ev.room, "reflector-test-room-uuid");
	CHECK_STR(ev.type, "muc-occupant-joined");
	CHECK_STR(ev.element, "{\"type\":\"muc-occupant-joined\",\"timestamp\":"
	    "\"" RECV_ISO "\",\"data\":{\"user_id\":\"test-user\","
	    "\"display_name\":\"Test User\",\"timestamp\":"
	    "\"2025-01-15T10:30:00Z\"}}");
	CHECK_STR(ev.occupant, "test-user");
	CHECK_STR(ev.scope, "");
	CHECK_INT(ev.delta, 1);
	CHECK_INT(ev.event_us, 1736937000000000LL);
	CHECK_INT(ev.received_us, RECV);
	CHECK_INT(ev.reported_count, -1);
	CHECK(ev.dedup_key == NULL);
	CHECK(ev.meeting_id == NULL);
	event_free(&ev);
	CHECK(ev.element == NULL && ev.room == NULL);
}

static void
seed_example_participant(void)
{
	struct event ev;

	CHECK_INT(parse(EVENT_SEED, "{\n"
	    "  \"event\": \"muc-occupant-joined\",\n"
	    "  \"room\": \"reflector-my-room-uuid123\",\n"
	    "  \"timestamp\": \"2025-01-15T10:30:00.000Z\",\n"
	    "  \"data\": {\n"
	    "    \"occupant_id\": \"participant-456\",\n"
	    "    \"nick\": \"John Doe\",\n"
	    "    \"role\": \"participant\",\n"
	    "    \"affiliation\": \"none\"\n"
	    "  }\n"
	    "}\n", NULL, &ev), 0);
	CHECK_STR(ev.room, "reflector-my-room-uuid123");
	CHECK_DATA(&ev, "{\"occupant_id\":\"participant-456\",\"nick\":"
	    "\"John Doe\",\"role\":\"participant\",\"affiliation\":\"none\","
	    "\"timestamp\":\"2025-01-15T10:30:00Z\",\"user_id\":"
	    "\"participant-456\",\"display_name\":\"John Doe\"}");
	CHECK_STR(ev.occupant, "participant-456");
	CHECK_INT(ev.delta, 1);
	event_free(&ev);
}

static void
seed_recording_on_counts_nobody(void)
{
	struct event ev;

	CHECK_INT(parse(EVENT_SEED, "{\"event\":\"jibri-recording-on\","
	    "\"room\":\"reflector-my-room-uuid123\",\"timestamp\":"
	    "\"2025-01-15T10:32:00.000Z\",\"data\":{\"recording_id\":"
	    "\"rec-789\",\"initiator\":\"moderator-123\"}}", NULL, &ev), 0);
	CHECK_STR(ev.type, "jibri-recording-on");
	CHECK_DATA(&ev, "{\"recording_id\":\"rec-789\",\"initiator\":"
	    "\"moderator-123\",\"timestamp\":\"2025-01-15T10:32:00Z\"}");
	CHECK_INT(ev.delta, 0);
	CHECK(ev.occupant == NULL);
	event_free(&ev);

	/* any name; no data, no time: {} and the receive time */
	CHECK_INT(parse(EVENT_SEED, "{\"event\":\"x-custom\",\"room\":\"r\"}",
	    NULL, &ev), 0);
	CHECK_DATA(&ev, "{\"timestamp\":\"2025-01-15T10:30:01.25Z\"}");
	CHECK_INT(ev.event_us, RECV);
	event_free(&ev);
	CHECK_INT(parse(EVENT_SEED, "{\"event\":\"x\",\"room\":\"r\",\"data\":"
	    "null,\"timestamp\":null}", NULL, &ev), 0);
	CHECK_DATA(&ev, "{\"timestamp\":\"2025-01-15T10:30:01.25Z\"}");
	event_free(&ev);
}

static void
seed_user_and_name(void)
{
	struct event ev;

	/* user_id before occupant_id, display_name before nick; a number in
	 * decimal; the payload's data.timestamp is replaced in its place */
	CHECK_INT(parse(EVENT_SEED, "{\"event\":\"muc-occupant-left\","
	    "\"room\":\"r\",\"timestamp\":\"2025-01-15T10:30:00Z\",\"data\":"
	    "{\"timestamp\":\"old\",\"occupant_id\":\"o\",\"user_id\":42,"
	    "\"nick\":\"n\",\"display_name\":\"D\"}}", NULL, &ev), 0);
	CHECK_DATA(&ev, "{\"timestamp\":\"2025-01-15T10:30:00Z\","
	    "\"occupant_id\":\"o\",\"user_id\":\"42\",\"nick\":\"n\","
	    "\"display_name\":\"D\"}");
	CHECK_STR(ev.occupant, "42");
	CHECK_INT(ev.delta, -1);
	event_free(&ev);

	/* an empty or non-string user_id falls back to occupant_id */
	CHECK_INT(parse(EVENT_SEED, "{\"event\":\"muc-occupant-joined\","
	    "\"room\":\"r\",\"data\":{\"user_id\":\"\",\"occupant_id\":\"p\","
	    "\"display_name\":[1]}}", NULL, &ev), 0);
	CHECK_STR(ev.occupant, "p");
	CHECK_DATA(&ev, "{\"user_id\":\"p\",\"occupant_id\":\"p\","
	    "\"display_name\":[1],\"timestamp\":\"2025-01-15T10:30:01.25Z\"}");
	event_free(&ev);

	/* a join that names nobody counts nobody */
	CHECK_INT(parse(EVENT_SEED, "{\"event\":\"muc-occupant-joined\","
	    "\"room\":\"r\",\"data\":{\"nick\":\"n\"}}", NULL, &ev), 0);
	CHECK_INT(ev.delta, 0);
	CHECK(ev.occupant == NULL);
	CHECK_DATA(&ev, "{\"nick\":\"n\",\"timestamp\":"
	    "\"2025-01-15T10:30:01.25Z\",\"display_name\":\"n\"}");
	event_free(&ev);
}

static void
seed_idempotency_key(void)
{
	const char *body = "{\"event\":\"e\",\"room\":\"r\"}";
	struct event ev;

	CHECK_INT(parse(EVENT_SEED, body, "abc-123", &ev), 0);
	CHECK_STR(ev.dedup_key, "idem:abc-123");
	event_free(&ev);
	CHECK_INT(parse(EVENT_SEED, body, "", &ev), 0);
	CHECK(ev.dedup_key == NULL);
	event_free(&ev);
	/* a key that is not printable UTF-8 is kept by its hash */
	CHECK_INT(parse(EVENT_SEED, body, "a\xff\n", &ev), 0);
	CHECK(ev.dedup_key != NULL &&
	    strncmp(ev.dedup_key, "idem-sha256:", 12) == 0 &&
	    strlen(ev.dedup_key) == 12 + 64);
	event_free(&ev);
}

static void
seed_timestamps(void)
{
	static const struct {
		const char *in, *iso;
		long long us;
	} good[] = {
		{ "2025-01-15T10:30:00Z", "2025-01-15T10:30:00Z",
		    1736937000000000LL },
		{ "2025-01-15T10:30:00.000Z", "2025-01-15T10:30:00Z",
		    1736937000000000LL },
		{ "2025-01-15T10:30:00.5Z", "2025-01-15T10:30:00.5Z",
		    1736937000500000LL },
		{ "2025-01-15T10:30:00.123456789Z",
		    "2025-01-15T10:30:00.123456789Z", 1736937000123456LL },
		{ "2025-01-15t10:30:00.120z", "2025-01-15T10:30:00.12Z",
		    1736937000120000LL },
		{ "2025-01-15T12:30:00+02:00", "2025-01-15T10:30:00Z",
		    1736937000000000LL },
		{ "2025-01-15T05:00:00.25-05:30", "2025-01-15T10:30:00.25Z",
		    1736937000250000LL },
		{ "2024-02-29T00:00:00Z", "2024-02-29T00:00:00Z",
		    1709164800000000LL },
		{ "2000-02-29T23:59:59-00:00", "2000-02-29T23:59:59Z",
		    951868799000000LL },
		{ "1970-01-01T00:00:00Z", "1970-01-01T00:00:00Z", 0 },
		{ "9999-12-31T23:59:59.999999999Z",
		    "9999-12-31T23:59:59.999999999Z", 253402300799999999LL },
	};
	static const char *const bad[] = {
		"2025-01-15 10:30:00Z", "2025-01-15T10:30:00", "2025-13-01T00:00:00Z",
		"2025-00-01T00:00:00Z", "2025-02-29T00:00:00Z",
		"1900-02-29T00:00:00Z", "2025-04-31T00:00:00Z",
		"2025-01-00T00:00:00Z", "2025-01-15T24:00:00Z",
		"2025-01-15T10:60:00Z", "2025-01-15T10:30:60Z",
		"2025-01-15T10:30:00.Z", "2025-01-15T10:30:00.1234567890Z",
		"2025-01-15T10:30:00+0200", "2025-01-15T10:30:00+24:00",
		"2025-01-15T10:30:00+02:60", "2025-01-15T10:30:00Z ",
		"2025-01-15T10:30:00ZZ", " 2025-01-15T10:30:00Z", "",
		"1736937000", "2025-1-15T10:30:00Z", "+2025-01-15T10:30:00Z",
		"2025-01-15T10:30:0Z",
	};
	char body[256], want[256];
	struct event ev;
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(body, sizeof(body), "{\"event\":\"e\",\"room\":\"r\","
		    "\"timestamp\":\"%s\"}", good[i].in);
		snprintf(want, sizeof(want), "{\"timestamp\":\"%s\"}",
		    good[i].iso);
		CHECK_INT(parse(EVENT_SEED, body, NULL, &ev), 0);
		if (ev.element == NULL) {
			fprintf(stderr, "  %s: %s\n", good[i].in, err);
			continue;
		}
		CHECK_DATA(&ev, want);
		CHECK_INT(ev.event_us, good[i].us);
		event_free(&ev);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(body, sizeof(body), "{\"event\":\"e\",\"room\":\"r\","
		    "\"timestamp\":\"%s\"}", bad[i]);
		snprintf(want, sizeof(want),
		    "timestamp: not an ISO-8601 time: `%s'", bad[i]);
		CHECK_ERR(EVENT_SEED, body, want);
	}
	CHECK_ERR(EVENT_SEED, "{\"event\":\"e\",\"room\":\"r\",\"timestamp\":"
	    "\"1969-12-31T23:59:59Z\"}", "timestamp: `1969-12-31T23:59:59Z' "
	    "is out of range (1970 to 9999)");
	CHECK_ERR(EVENT_SEED, "{\"event\":\"e\",\"room\":\"r\",\"timestamp\":"
	    "\"9999-12-31T23:59:59-00:01\"}", "timestamp: "
	    "`9999-12-31T23:59:59-00:01' is out of range (1970 to 9999)");
	CHECK_ERR(EVENT_SEED, "{\"event\":\"e\",\"room\":\"r\",\"timestamp\":"
	    "1736937000}", "timestamp: must be a string");
}

/* A seed body whose data holds n nested arrays: n + 2 levels. */
static void
deep_body(char *buf, size_t size, int n)
{
	size_t off;
	int i;

	off = (size_t)snprintf(buf, size, "{\"event\":\"e\",\"room\":\"r\","
	    "\"data\":{\"a\":");
	for (i = 0; i < n && off < size - 1; i++)
		buf[off++] = '[';
	for (i = 0; i < n && off < size - 1; i++)
		buf[off++] = ']';
	if (off + 3 <= size) {
		buf[off++] = '}';
		buf[off++] = '}';
	}
	buf[off] = '\0';
}

static void
seed_errors_name_the_field(void)
{
	static char deep[8192];
	struct event ev;

	CHECK_ERR(EVENT_SEED, "[1,2]", "body: must be a JSON object");
	CHECK_ERR(EVENT_SEED, "\"x\"", "body: must be a JSON object");
	CHECK_ERR(EVENT_SEED, "null", "body: must be a JSON object");
	CHECK_ERR(EVENT_SEED, "{\"event\":\"e\",", "body: not valid JSON: "
	    "string or '}' expected near end of file (line 1, column 13)");
	CHECK_ERR(EVENT_SEED, "", "body: not valid JSON: unexpected token near "
	    "end of file (line 1, column 0)");
	CHECK_ERR_PREFIX(EVENT_SEED, "{\"event\":\"a\",\"event\":\"b\","
	    "\"room\":\"r\"}", "body: not valid JSON: duplicate object key");
	/* a NUL anywhere: refused, naming where */
	CHECK_ERR(EVENT_SEED, "{\"event\":\"e\",\"room\":\"a\\u0000b\"}",
	    "room: must not contain NUL (\\u0000)");
	CHECK_ERR(EVENT_SEED, "{\"event\":\"e\",\"room\":\"r\",\"data\":{\"a\":"
	    "[1,{\"b\":\"\\u0000\"}]}}", "data.a[1].b: must not contain NUL "
	    "(\\u0000)");
	CHECK_ERR_PREFIX(EVENT_SEED, "{\"event\":\"e\",\"room\":\"r\",\"data\":"
	    "{\"k\\u0000x\":1}}", "body: not valid JSON: NUL byte in object key "
	    "not supported");
	CHECK_ERR(EVENT_OCCUPANT_JOINED, "{\"room_name\":\"c\",\"occupant\":{"
	    "\"occupant_jid\":\"j\\u0000\"}}", "occupant.occupant_jid: must not "
	    "contain NUL (\\u0000)");
	CHECK_ERR_PREFIX(EVENT_SEED, "{\"event\":\"e\",\"room\":\"r\",\"n\":"
	    "123456789012345678901234567890}", "body: not valid JSON: too big "
	    "integer");
	CHECK_ERR_PREFIX(EVENT_SEED, "{\"event\":\"e\",\"room\":\"r\",\"n\":"
	    "1e999}", "body: not valid JSON: real number overflow");
	CHECK_ERR(EVENT_SEED, "{\"room\":\"r\"}",
	    "event: must be a non-empty string");
	CHECK_ERR(EVENT_SEED, "{\"event\":\"\",\"room\":\"r\"}",
	    "event: must be a non-empty string");
	CHECK_ERR(EVENT_SEED, "{\"event\":7,\"room\":\"r\"}",
	    "event: must be a non-empty string");
	CHECK_ERR(EVENT_SEED, "{\"event\":\"e\"}",
	    "room: must be a non-empty string");
	CHECK_ERR(EVENT_SEED, "{\"event\":\"e\",\"room\":{}}",
	    "room: must be a non-empty string");
	CHECK_ERR(EVENT_SEED, "{\"event\":\"e\",\"room\":\"r\",\"data\":[]}",
	    "data: must be an object");
	CHECK_ERR(EVENT_SEED, "{\"event\":\"e\",\"room\":\"r\",\"data\":\"x\"}",
	    "data: must be an object");

	/* 32 levels are taken, 33 are not */
	deep_body(deep, sizeof(deep), 30);
	CHECK_INT(parse(EVENT_SEED, deep, NULL, &ev), 0);
	event_free(&ev);
	deep_body(deep, sizeof(deep), 31);
	CHECK_ERR(EVENT_SEED, deep, "body: nested more than 32 levels deep");
	/* and jansson's own limit */
	deep_body(deep, sizeof(deep), 3000);
	CHECK_ERR_PREFIX(EVENT_SEED, deep, "body: not valid JSON: maximum "
	    "parsing depth reached");
}

static void
errors_are_printable(void)
{
	static const char *const bodies[] = {
		"{\"event\":\"e\",\"room\":\"\xff\xfe\"}",
		"{\"event\":\"e\",\"room\":\"r\"}\x01\x02",
		"{\"event\":\"e\"\n\t,\"room\":\xe4\xbc",
		"{\"event_name\":\"a\\nb\\u0007\\u00ff\\ud83d\\ude00\","
		    "\"room_name\":\"r\"}",
		"\xef\xbb\xbf{}",
	};
	static const char nul[] = "{\"event\":\"e\",\"ro\0om\":\"r\"}";
	static const char cut[] = "{\"event_name\":\"\xe4\xbc\x9a\xe8\xae\xae\"}";
	char small[15];
	struct event ev;
	size_t i;

	for (i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		CHECK_INT(event_parse(i == 3 ? EVENT_ROOM_CREATED : EVENT_SEED,
		    bodies[i], strlen(bodies[i]), RECV, NULL, &ev, err,
		    sizeof(err)), -1);
		CHECK(err[0] != '\0' && printable_utf8(err));
	}
	/* a NUL byte in the body, and a body cut before its end */
	CHECK_INT(event_parse(EVENT_SEED, nul, sizeof(nul) - 1, RECV, NULL, &ev,
	    err, sizeof(err)), -1);
	CHECK(printable_utf8(err));
	CHECK_INT(event_parse(EVENT_SEED, "{\"event\":\"e\",\"room\":\"r\"}",
	    20, RECV, NULL, &ev, err, sizeof(err)), -1);
	CHECK_INT(event_parse(EVENT_SEED, NULL, 0, RECV, NULL, &ev, err,
	    sizeof(err)), -1);
	/* a small err buffer cuts a character in two: still printable */
	CHECK_INT(event_parse(EVENT_ROOM_CREATED, cut, sizeof(cut) - 1, RECV,
	    NULL, &ev, small, sizeof(small)), -1);
	CHECK_STR(small, "event_name: `?");
}

static void
unicode_names(void)
{
	const char *room = "\xc3\xbcn\xc3\xaf" "c\xc3\xb8" "d\xc3\xa9 "
	    "\xe4\xbc\x9a\xe8\xae\xae\xe5\xae\xa4 \xf0\x9f\x8e\xa5";
	char body[512];
	struct event ev;

	snprintf(body, sizeof(body), "{\"event\":\"muc-occupant-joined\","
	    "\"room\":\"%s\",\"data\":{\"user_id\":\"\\u00fc\",\"nick\":"
	    "\"%s\"}}", room, room);
	CHECK_INT(parse(EVENT_SEED, body, NULL, &ev), 0);
	CHECK_STR(ev.room, room);
	CHECK_STR(ev.occupant, "\xc3\xbc");
	/* UTF-8 as it is, not \u escapes */
	CHECK(ev.element != NULL && strstr(ev.element, room) != NULL);
	CHECK(ev.element != NULL && strstr(ev.element, "\\u") == NULL);
	event_free(&ev);

	snprintf(body, sizeof(body), "{\"event_name\":\"muc-occupant-joined\","
	    "\"room_name\":\"%s\",\"occupant\":{\"occupant_jid\":\"%s@meet/x\","
	    "\"name\":\"%s\",\"joined_at\":1}}", room, room, room);
	CHECK_INT(parse(EVENT_OCCUPANT_JOINED, body, NULL, &ev), 0);
	CHECK_STR(ev.room, room);
	CHECK(ev.occupant != NULL && strncmp(ev.occupant, room,
	    strlen(room)) == 0);
	CHECK(ev.element != NULL && strstr(ev.element, "\"display_name\":\"") !=
	    NULL && strstr(ev.element, room) != NULL);
	event_free(&ev);
}

/* --- mod_event_sync ------------------------------------------------------ */

#define JID "catchup@conference.meet.mydomain.com"
#define OJID "14f01c40-5195-4a4d-8efb-f58b49d18741@meet.mydomain.com/OWhl8jSh"
#define UID "00380324-a840-400d-880f-7ee0933b7556"

static char *
sync_key_of(const char *room, const char *scope, const char *type,
    const char *occ, const char *sec)
{
	struct hash_sha256 *h = hash_sha256_new();
	char hex[HASH_HEX_LEN], *s;
	const char *f[5] = { room, scope, type, occ, sec };
	int i;

	for (i = 0; i < 5; i++)
		hash_sha256_update(h, f[i], strlen(f[i]) + 1);
	hash_sha256_final(h, NULL, hex);
	s = malloc(5 + sizeof(hex));
	snprintf(s, 5 + sizeof(hex), "sync:%s", hex);
	return s;
}

static void
sync_room_created(void)
{
	struct event ev;
	char *key;

	CHECK_INT(parse(EVENT_ROOM_CREATED, "{\"event_name\":\"muc-room-created\","
	    "\"room_name\":\"catchup\",\"room_jid\":\"" JID "\","
	    "\"is_breakout\":false,\"created_at\":1625823996}", NULL, &ev), 0);
	CHECK_STR(ev.type, "muc-room-created");
	CHECK_STR(ev.room, "catchup");
	CHECK_STR(ev.scope, "");
	CHECK_INT(ev.delta, 0);
	CHECK(ev.occupant == NULL);
	CHECK_INT(ev.event_us, 1625823996000000LL);
	CHECK_INT(ev.reported_count, -1);
	CHECK_STR(ev.element, "{\"type\":\"muc-room-created\",\"timestamp\":\""
	    RECV_ISO "\",\"data\":{\"room_name\":\"catchup\",\"room_jid\":\""
	    JID "\",\"is_breakout\":false,\"created_at\":1625823996,"
	    "\"timestamp\":\"2021-07-09T09:46:36Z\"}}");
	key = sync_key_of(JID, "", "muc-room-created", "", "1625823996");
	CHECK_STR(ev.dedup_key, key);
	free(key);
	event_free(&ev);

	/* the older body: no room_jid, no is_breakout, no event_name, no
	 * time; a real with no fraction is a time */
	CHECK_INT(parse(EVENT_ROOM_CREATED, "{\"room_name\":\"catchup\"}", NULL,
	    &ev), 0);
	CHECK_INT(ev.event_us, RECV);
	CHECK_DATA(&ev, "{\"room_name\":\"catchup\",\"timestamp\":"
	    "\"2025-01-15T10:30:01.25Z\"}");
	key = sync_key_of("catchup", "", "muc-room-created", "", "1736937001");
	CHECK_STR(ev.dedup_key, key);
	free(key);
	event_free(&ev);
	CHECK_INT(parse(EVENT_ROOM_CREATED, "{\"room_name\":\"c\","
	    "\"created_at\":1625823996.0}", NULL, &ev), 0);
	CHECK_INT(ev.event_us, 1625823996000000LL);
	event_free(&ev);
}

static void
sync_room_destroyed(void)
{
	const char *body = "{\"event_name\":\"muc-room-destroyed\",\"room_name\":"
	    "\"catchup\",\"room_jid\":\"" JID "\",\"is_breakout\":false,"
	    "\"created_at\":1625823996,\"destroyed_at\":1625824035,"
	    "\"all_occupants\":[{\"name\":\"James Barrow\",\"email\":"
	    "\"j.barrow@domain.com\",\"id\":\"" UID "\",\"occupant_jid\":\""
	    OJID "\",\"joined_at\":1625823996,\"left_at\":1625824035}]}";
	struct event ev;
	char *key;

	CHECK_INT(parse(EVENT_ROOM_DESTROYED, body, NULL, &ev), 0);
	CHECK_STR(ev.type, "muc-room-destroyed");
	CHECK_INT(ev.event_us, 1625824035000000LL);
	CHECK_INT(ev.delta, 0);
	CHECK_DATA(&ev, "{\"room_name\":\"catchup\",\"room_jid\":\"" JID "\","
	    "\"is_breakout\":false,\"created_at\":1625823996,\"destroyed_at\":"
	    "1625824035,\"all_occupants\":[{\"name\":\"James Barrow\","
	    "\"email\":\"j.barrow@domain.com\",\"id\":\"" UID "\","
	    "\"occupant_jid\":\"" OJID "\",\"joined_at\":1625823996,"
	    "\"left_at\":1625824035}],\"timestamp\":\"2021-07-09T09:47:15Z\"}");
	key = sync_key_of(JID, "", "muc-room-destroyed", "", "1625824035");
	CHECK_STR(ev.dedup_key, key);
	free(key);
	event_free(&ev);

	/* Lua's json writes an empty table as {} or []: kept as it is */
	CHECK_INT(parse(EVENT_ROOM_DESTROYED, "{\"room_name\":\"c\","
	    "\"all_occupants\":{},\"destroyed_at\":10}", NULL, &ev), 0);
	CHECK_DATA(&ev, "{\"room_name\":\"c\",\"all_occupants\":{},"
	    "\"destroyed_at\":10,\"timestamp\":\"1970-01-01T00:00:10Z\"}");
	event_free(&ev);
	CHECK_ERR(EVENT_ROOM_DESTROYED, "{\"room_name\":\"c\",\"created_at\":"
	    "\"x\",\"destroyed_at\":10}", "created_at: must be integer Unix "
	    "seconds");
	CHECK_ERR(EVENT_ROOM_DESTROYED, "{\"room_name\":\"c\",\"destroyed_at\":"
	    "10.5}", "destroyed_at: must be integer Unix seconds");
}

static void
sync_occupant_joined(void)
{
	struct event ev;
	char *key;

	CHECK_INT(parse(EVENT_OCCUPANT_JOINED, "{\"event_name\":"
	    "\"muc-occupant-joined\",\"room_name\":\"catchup\",\"room_jid\":\""
	    JID "\",\"is_breakout\":false,\"active_occupants_count\":4,"
	    "\"occupant\":{\"name\":\"James Barrow\",\"email\":"
	    "\"j.barrow@domain.com\",\"id\":\"" UID "\",\"occupant_jid\":\""
	    OJID "\",\"joined_at\":1625823996}}", NULL, &ev), 0);
	CHECK_STR(ev.type, "muc-occupant-joined");
	CHECK_STR(ev.room, "catchup");
	CHECK_STR(ev.occupant, OJID);
	CHECK_INT(ev.delta, 1);
	CHECK_INT(ev.reported_count, 4);
	CHECK_INT(ev.event_us, 1625823996000000LL);
	CHECK_STR(ev.scope, "");
	CHECK_DATA(&ev, "{\"name\":\"James Barrow\",\"email\":"
	    "\"j.barrow@domain.com\",\"id\":\"" UID "\",\"occupant_jid\":\""
	    OJID "\",\"joined_at\":1625823996,\"active_occupants_count\":4,"
	    "\"room_jid\":\"" JID "\",\"is_breakout\":false,\"timestamp\":"
	    "\"2021-07-09T09:46:36Z\",\"user_id\":\"" UID "\","
	    "\"display_name\":\"James Barrow\"}");
	key = sync_key_of(JID, "", "muc-occupant-joined", OJID, "1625823996");
	CHECK_STR(ev.dedup_key, key);
	free(key);
	event_free(&ev);

	/* no JWT: occupant_jid and joined_at alone; an integer id */
	CHECK_INT(parse(EVENT_OCCUPANT_JOINED, "{\"room_name\":\"c\","
	    "\"occupant\":{\"occupant_jid\":\"j\",\"joined_at\":5}}", NULL,
	    &ev), 0);
	CHECK_DATA(&ev, "{\"occupant_jid\":\"j\",\"joined_at\":5,"
	    "\"timestamp\":\"1970-01-01T00:00:05Z\"}");
	CHECK_INT(ev.reported_count, -1);
	event_free(&ev);
	CHECK_INT(parse(EVENT_OCCUPANT_JOINED, "{\"room_name\":\"c\","
	    "\"active_occupants_count\":2.0,\"occupant\":{\"occupant_jid\":"
	    "\"j\",\"id\":12345}}", NULL, &ev), 0);
	CHECK_DATA(&ev, "{\"occupant_jid\":\"j\",\"id\":12345,"
	    "\"active_occupants_count\":2.0,\"timestamp\":"
	    "\"2025-01-15T10:30:01.25Z\",\"user_id\":\"12345\"}");
	CHECK_INT(ev.reported_count, 2);
	CHECK_INT(ev.event_us, RECV);
	event_free(&ev);
}

static void
sync_occupant_left(void)
{
	struct event ev;

	/* include_speaker_stats and include_user_info add keys: kept */
	CHECK_INT(parse(EVENT_OCCUPANT_LEFT, "{\"occupant\":{\"occupant_jid\":\""
	    OJID "\",\"joined_at\":1625823996,\"left_at\":1625824035,"
	    "\"avatar\":\"https://x/a.png\",\"moderator\":\"true\",\"name\":"
	    "\"James\",\"id\":\"" UID "\",\"total_dominant_speaker_time\":"
	    "12000},\"active_occupants_count\":3,\"room_jid\":\"" JID "\","
	    "\"event_name\":\"muc-occupant-left\",\"is_breakout\":false,"
	    "\"room_name\":\"catchup\"}", NULL, &ev), 0);
	CHECK_INT(ev.delta, -1);
	CHECK_STR(ev.occupant, OJID);
	CHECK_INT(ev.reported_count, 3);
	CHECK_INT(ev.event_us, 1625824035000000LL);
	CHECK_DATA(&ev, "{\"occupant_jid\":\"" OJID "\",\"joined_at\":"
	    "1625823996,\"left_at\":1625824035,\"avatar\":\"https://x/a.png\","
	    "\"moderator\":\"true\",\"name\":\"James\",\"id\":\"" UID "\","
	    "\"total_dominant_speaker_time\":12000,\"active_occupants_count\":3,"
	    "\"room_jid\":\"" JID "\",\"is_breakout\":false,\"timestamp\":"
	    "\"2021-07-09T09:47:15Z\",\"user_id\":\"" UID "\",\"display_name\":"
	    "\"James\"}");
	event_free(&ev);

	/* left_at absent: the receive time, not joined_at */
	CHECK_INT(parse(EVENT_OCCUPANT_LEFT, "{\"room_name\":\"c\",\"occupant\":"
	    "{\"occupant_jid\":\"j\",\"joined_at\":5}}", NULL, &ev), 0);
	CHECK_INT(ev.event_us, RECV);
	CHECK_INT(ev.delta, -1);
	event_free(&ev);
}

static void
sync_left_without_occupant(void)
{
	struct event ev;

	CHECK_INT(parse(EVENT_OCCUPANT_LEFT, "{\"event_name\":"
	    "\"muc-occupant-left\",\"room_name\":\"catchup\",\"room_jid\":\""
	    JID "\",\"is_breakout\":false,\"active_occupants_count\":2}", NULL,
	    &ev), 0);
	CHECK(ev.occupant == NULL);
	CHECK_INT(ev.delta, 0);
	CHECK_INT(ev.reported_count, 2);
	CHECK_INT(ev.event_us, RECV);
	CHECK_DATA(&ev, "{\"active_occupants_count\":2,\"room_jid\":\"" JID
	    "\",\"is_breakout\":false,\"timestamp\":"
	    "\"2025-01-15T10:30:01.25Z\"}");
	event_free(&ev);
	CHECK_INT(parse(EVENT_OCCUPANT_LEFT, "{\"room_name\":\"c\",\"occupant\":"
	    "null}", NULL, &ev), 0);
	CHECK(ev.occupant == NULL);
	CHECK_INT(ev.delta, 0);
	event_free(&ev);
}

static void
sync_breakout(void)
{
	const char *body = "{\"event_name\":\"muc-occupant-joined\",\"room_name\":"
	    "\"catchup\",\"room_jid\":\"" JID "\",\"is_breakout\":true,"
	    "\"breakout_room_id\":\"b7a3c0de-1111-2222-3333-444455556666\","
	    "\"active_occupants_count\":1,\"occupant\":{\"occupant_jid\":\""
	    OJID "\",\"joined_at\":1625823996}}";
	struct event ev, main_room;
	char *key;

	CHECK_INT(parse(EVENT_OCCUPANT_JOINED, body, NULL, &ev), 0);
	CHECK_STR(ev.room, "catchup");
	CHECK_STR(ev.scope, "b7a3c0de-1111-2222-3333-444455556666");
	CHECK_INT(ev.delta, 1);
	CHECK_DATA(&ev, "{\"occupant_jid\":\"" OJID "\",\"joined_at\":"
	    "1625823996,\"active_occupants_count\":1,\"room_jid\":\"" JID "\","
	    "\"is_breakout\":true,\"breakout_room_id\":"
	    "\"b7a3c0de-1111-2222-3333-444455556666\",\"timestamp\":"
	    "\"2021-07-09T09:46:36Z\"}");
	key = sync_key_of(JID, "b7a3c0de-1111-2222-3333-444455556666",
	    "muc-occupant-joined", OJID, "1625823996");
	CHECK_STR(ev.dedup_key, key);
	free(key);
	/* the same join in the main room is another event */
	CHECK_INT(parse(EVENT_OCCUPANT_JOINED, "{\"room_name\":\"catchup\","
	    "\"room_jid\":\"" JID "\",\"occupant\":{\"occupant_jid\":\"" OJID
	    "\",\"joined_at\":1625823996}}", NULL, &main_room), 0);
	CHECK(ev.dedup_key != NULL && main_room.dedup_key != NULL &&
	    strcmp(ev.dedup_key, main_room.dedup_key) != 0);
	event_free(&main_room);
	event_free(&ev);

	/* a breakout_room_id without is_breakout is not a scope */
	CHECK_INT(parse(EVENT_ROOM_CREATED, "{\"room_name\":\"c\","
	    "\"is_breakout\":false,\"breakout_room_id\":\"b\"}", NULL, &ev), 0);
	CHECK_STR(ev.scope, "");
	event_free(&ev);
	CHECK_ERR(EVENT_ROOM_CREATED, "{\"room_name\":\"c\",\"is_breakout\":"
	    "true}", "breakout_room_id: must be a non-empty string");
	CHECK_ERR(EVENT_ROOM_CREATED, "{\"room_name\":\"c\",\"is_breakout\":"
	    "true,\"breakout_room_id\":7}", "breakout_room_id: must be a "
	    "non-empty string");
	CHECK_ERR(EVENT_ROOM_CREATED, "{\"room_name\":\"c\",\"is_breakout\":"
	    "false,\"breakout_room_id\":7}", "breakout_room_id: must be a "
	    "string");
	CHECK_ERR(EVENT_ROOM_CREATED, "{\"room_name\":\"c\",\"is_breakout\":"
	    "\"true\"}", "is_breakout: must be true or false");
	CHECK_ERR(EVENT_ROOM_CREATED, "{\"room_name\":\"c\",\"is_breakout\":1}",
	    "is_breakout: must be true or false");
}

/* A retried copy, in any key order, is the same event; any real
 * difference is another. */
static void
sync_dedup_keys(void)
{
	static const char *const same[] = {
		"{\"event_name\":\"muc-occupant-joined\",\"room_name\":\"catchup\","
		    "\"room_jid\":\"" JID "\",\"is_breakout\":false,"
		    "\"active_occupants_count\":4,\"occupant\":{\"name\":\"J\","
		    "\"id\":\"u\",\"occupant_jid\":\"" OJID "\",\"joined_at\":"
		    "1625823996}}",
		"{\"occupant\":{\"joined_at\":1625823996,\"occupant_jid\":\""
		    OJID "\",\"id\":\"u\",\"name\":\"J\"},\"is_breakout\":false,"
		    "\"active_occupants_count\":4,\"room_jid\":\"" JID "\","
		    "\"room_name\":\"catchup\",\"event_name\":"
		    "\"muc-occupant-joined\"}",
		/* the count is Prosody's state, not the event's */
		"{\"room_name\":\"catchup\",\"room_jid\":\"" JID "\","
		    "\"active_occupants_count\":5,\"occupant\":{\"occupant_jid\":\""
		    OJID "\",\"joined_at\":1625823996.0}}",
	};
	static const char *const other[] = {
		/* another second */
		"{\"room_name\":\"catchup\",\"room_jid\":\"" JID "\","
		    "\"occupant\":{\"occupant_jid\":\"" OJID "\",\"joined_at\":"
		    "1625823997}}",
		/* another occupant */
		"{\"room_name\":\"catchup\",\"room_jid\":\"" JID "\","
		    "\"occupant\":{\"occupant_jid\":\"" OJID "x\",\"joined_at\":"
		    "1625823996}}",
		/* another room */
		"{\"room_name\":\"catchup\",\"room_jid\":\"catchup@other\","
		    "\"occupant\":{\"occupant_jid\":\"" OJID "\",\"joined_at\":"
		    "1625823996}}",
		/* fields that would run together without separators */
		"{\"room_name\":\"catchup\",\"room_jid\":\"" JID "\","
		    "\"is_breakout\":true,\"breakout_room_id\":\"m\","
		    "\"occupant\":{\"occupant_jid\":\"" OJID "\",\"joined_at\":"
		    "1625823996}}",
	};
	struct event first, ev;
	size_t i;

	CHECK_INT(parse(EVENT_OCCUPANT_JOINED, same[0], NULL, &first), 0);
	CHECK(first.dedup_key != NULL && strlen(first.dedup_key) == 5 + 64);
	for (i = 1; i < sizeof(same) / sizeof(same[0]); i++) {
		CHECK_INT(parse(EVENT_OCCUPANT_JOINED, same[i], NULL, &ev), 0);
		CHECK_STR(ev.dedup_key, first.dedup_key);
		event_free(&ev);
	}
	for (i = 0; i < sizeof(other) / sizeof(other[0]); i++) {
		CHECK_INT(parse(EVENT_OCCUPANT_JOINED, other[i], NULL, &ev), 0);
		CHECK(ev.dedup_key != NULL &&
		    strcmp(ev.dedup_key, first.dedup_key) != 0);
		event_free(&ev);
	}
	/* the same fields on the left route: another event */
	CHECK_INT(parse(EVENT_OCCUPANT_LEFT, "{\"room_name\":\"catchup\","
	    "\"room_jid\":\"" JID "\",\"occupant\":{\"occupant_jid\":\"" OJID
	    "\",\"left_at\":1625823996}}", NULL, &ev), 0);
	CHECK(ev.dedup_key != NULL && strcmp(ev.dedup_key, first.dedup_key) != 0);
	event_free(&ev);
	event_free(&first);
}

static void
sync_errors_name_the_field(void)
{
	CHECK_ERR(EVENT_OCCUPANT_JOINED, "{\"event_name\":\"muc-occupant-left\","
	    "\"room_name\":\"c\"}", "event_name: `muc-occupant-left' does not "
	    "match this route (muc-occupant-joined)");
	CHECK_ERR(EVENT_ROOM_DESTROYED, "{\"event_name\":\"muc-room-created\","
	    "\"room_name\":\"c\"}", "event_name: `muc-room-created' does not "
	    "match this route (muc-room-destroyed)");
	CHECK_ERR(EVENT_ROOM_CREATED, "{\"event_name\":1,\"room_name\":\"c\"}",
	    "event_name: must be a string");
	CHECK_ERR(EVENT_ROOM_CREATED, "{\"room_jid\":\"" JID "\"}",
	    "room_name: must be a non-empty string");
	CHECK_ERR(EVENT_ROOM_CREATED, "{\"room_name\":\"\"}",
	    "room_name: must be a non-empty string");
	CHECK_ERR(EVENT_ROOM_CREATED, "{\"room_name\":\"c\",\"room_jid\":5}",
	    "room_jid: must be a string");
	CHECK_ERR(EVENT_ROOM_CREATED, "{\"room_name\":\"c\",\"created_at\":"
	    "\"1625823996\"}", "created_at: must be integer Unix seconds");
	CHECK_ERR(EVENT_ROOM_CREATED, "{\"room_name\":\"c\",\"created_at\":-1}",
	    "created_at: -1 is out of range (1970 to 9999)");
	CHECK_ERR(EVENT_ROOM_CREATED, "{\"room_name\":\"c\",\"created_at\":"
	    "253402300800}", "created_at: 253402300800 is out of range "
	    "(1970 to 9999)");
	CHECK_ERR(EVENT_ROOM_CREATED, "{\"room_name\":\"c\",\"created_at\":"
	    "1e300}", "created_at: must be integer Unix seconds");
	CHECK_ERR(EVENT_OCCUPANT_JOINED, "{\"room_name\":\"c\",\"occupant\":"
	    "\"j\"}", "occupant: must be an object");
	CHECK_ERR(EVENT_OCCUPANT_JOINED, "{\"room_name\":\"c\",\"occupant\":{}}",
	    "occupant.occupant_jid: must be a non-empty string");
	CHECK_ERR(EVENT_OCCUPANT_LEFT, "{\"room_name\":\"c\",\"occupant\":"
	    "{\"occupant_jid\":[]}}", "occupant.occupant_jid: must be a "
	    "non-empty string");
	CHECK_ERR(EVENT_OCCUPANT_JOINED, "{\"room_name\":\"c\",\"occupant\":"
	    "{\"occupant_jid\":\"j\",\"joined_at\":\"2025\"}}",
	    "occupant.joined_at: must be integer Unix seconds");
	CHECK_ERR(EVENT_OCCUPANT_LEFT, "{\"room_name\":\"c\",\"occupant\":"
	    "{\"occupant_jid\":\"j\",\"left_at\":-5}}",
	    "occupant.left_at: -5 is out of range (1970 to 9999)");
	CHECK_ERR(EVENT_OCCUPANT_JOINED, "{\"room_name\":\"c\","
	    "\"active_occupants_count\":\"4\"}", "active_occupants_count: must "
	    "be a non-negative integer");
	CHECK_ERR(EVENT_OCCUPANT_JOINED, "{\"room_name\":\"c\","
	    "\"active_occupants_count\":-1}", "active_occupants_count: must be "
	    "a non-negative integer");
	CHECK_ERR(EVENT_OCCUPANT_JOINED, "{\"room_name\":\"c\","
	    "\"active_occupants_count\":1.5}", "active_occupants_count: must be "
	    "a non-negative integer");
	CHECK_ERR(EVENT_ROOM_CREATED, "[]", "body: must be a JSON object");
	CHECK_ERR_PREFIX(EVENT_OCCUPANT_LEFT, "{\"room_name\":\"c\","
	    "\"room_name\":\"d\"}", "body: not valid JSON: duplicate object key");
	CHECK_ERR(EVENT_OCCUPANT_LEFT, "{\"room_name\":\"c\"", "body: not valid "
	    "JSON: '}' expected near end of file (line 1, column 16)");
	CHECK_ERR(99, "{}", "body: no event shape 99");
}

/* --- recording-complete -------------------------------------------------- */

static void
recording_example(void)
{
	const char *body = "{\n"
	    "  \"room_name\": \"reflector-my-room-uuid123\",\n"
	    "  \"recording_file\": \"/var/recordings/rec-789.mp4\",\n"
	    "  \"recording_status\": \"completed\",\n"
	    "  \"timestamp\": \"2025-01-15T11:15:00.000Z\"\n"
	    "}";
	struct recording_complete rc;
	struct event ev;

	CHECK_INT(event_parse_recording(body, strlen(body), &rc, err,
	    sizeof(err)), 0);
	CHECK_STR(rc.room_name, "reflector-my-room-uuid123");
	CHECK_STR(rc.recording_file, "/var/recordings/rec-789.mp4");
	CHECK_STR(rc.recording_status, "completed");
	CHECK_STR(rc.timestamp, "2025-01-15T11:15:00.000Z");
	event_from_recording(&rc, JOB, RECV, &ev);
	CHECK_STR(ev.type, "recording_completed");
	CHECK_STR(ev.room, "reflector-my-room-uuid123");
	CHECK_STR(ev.dedup_key, "recording:" JOB);
	CHECK_STR(ev.scope, "");
	CHECK_INT(ev.delta, 0);
	CHECK(ev.occupant == NULL);
	CHECK_INT(ev.event_us, 1736939700000000LL);
	CHECK_INT(ev.received_us, RECV);
	CHECK_STR(ev.element, "{\"type\":\"recording_completed\",\"timestamp\":\""
	    RECV_ISO "\",\"data\":{\"room_name\":\"reflector-my-room-uuid123\","
	    "\"recording_file\":\"/var/recordings/rec-789.mp4\","
	    "\"recording_status\":\"completed\",\"timestamp\":"
	    "\"2025-01-15T11:15:00Z\",\"job_id\":\"" JOB "\"}}");
	event_free(&ev);
	event_recording_free(&rc);
	CHECK(rc.room_name == NULL && rc.recording_file == NULL);
	event_recording_free(&rc);
	event_recording_free(NULL);
}

static void
recording_optional_fields(void)
{
	struct recording_complete rc;
	struct event ev;
	const char *b1 = "{\"recording_file\":\"/r/x.mp4\"}";
	const char *b2 = "{\"recording_file\":\"/r/x.mp4\",\"room_name\":null,"
	    "\"timestamp\":\"yesterday\",\"extra\":[1]}";

	CHECK_INT(event_parse_recording(b1, strlen(b1), &rc, err, sizeof(err)),
	    0);
	CHECK_STR(rc.room_name, "");
	CHECK(rc.recording_status == NULL && rc.timestamp == NULL);
	event_from_recording(&rc, JOB, RECV, &ev);
	CHECK_DATA(&ev, "{\"room_name\":\"\",\"recording_file\":\"/r/x.mp4\","
	    "\"timestamp\":\"2025-01-15T10:30:01.25Z\",\"job_id\":\"" JOB "\"}");
	CHECK_INT(ev.event_us, RECV);
	event_free(&ev);
	event_recording_free(&rc);

	/* a time that does not parse is kept as sent; the event has the
	 * receive time */
	CHECK_INT(event_parse_recording(b2, strlen(b2), &rc, err, sizeof(err)),
	    0);
	CHECK_STR(rc.timestamp, "yesterday");
	event_from_recording(&rc, JOB, RECV, &ev);
	CHECK_INT(ev.event_us, RECV);
	event_free(&ev);
	event_recording_free(&rc);
}

static void
recording_errors(void)
{
	static const struct {
		const char *body, *msg;
	} bad[] = {
		{ "{}", "recording_file: must be a non-empty string" },
		{ "{\"recording_file\":\"\"}",
		    "recording_file: must be a non-empty string" },
		{ "{\"recording_file\":[\"/r/x.mp4\"]}",
		    "recording_file: must be a non-empty string" },
		{ "{\"recording_file\":\"/r\",\"room_name\":5}",
		    "room_name: must be a string" },
		{ "{\"recording_file\":\"/r\",\"recording_status\":true}",
		    "recording_status: must be a string" },
		{ "{\"recording_file\":\"/r\",\"timestamp\":1736939700}",
		    "timestamp: must be a string" },
		{ "[\"/r\"]", "body: must be a JSON object" },
		{ "{\"recording_file\":\"/r/x\\u0000.txt\"}",
		    "recording_file: must not contain NUL (\\u0000)" },
		{ "{\"recording_file\":\"/r\",\"recording_file\":\"/s\"}",
		    "body: not valid JSON: duplicate object key near "
		    "'\"recording_file\"' (line 1, column 39)" },
	};
	struct recording_complete rc;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_INT(event_parse_recording(bad[i].body, strlen(bad[i].body),
		    &rc, err, sizeof(err)), -1);
		CHECK_STR(err, bad[i].msg);
		CHECK(rc.recording_file == NULL && rc.room_name == NULL);
	}
}

/* --- the journal line ---------------------------------------------------- */

static bool
same_str(const char *a, const char *b)
{
	return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static void
check_roundtrip(const struct event *ev)
{
	struct event back;
	char *line = event_to_json(ev);

	CHECK(line != NULL);
	if (line == NULL)
		return;
	CHECK(strchr(line, '\n') == NULL);
	CHECK_INT(event_from_json(line, strlen(line), &back), 0);
	CHECK(same_str(back.room, ev->room) &&
	    same_str(back.meeting_id, ev->meeting_id) &&
	    same_str(back.type, ev->type) &&
	    same_str(back.element, ev->element) &&
	    same_str(back.dedup_key, ev->dedup_key) &&
	    same_str(back.occupant, ev->occupant) &&
	    same_str(back.scope, ev->scope));
	CHECK_INT(back.delta, ev->delta);
	CHECK_INT(back.event_us, ev->event_us);
	CHECK_INT(back.received_us, ev->received_us);
	CHECK_INT(back.reported_count, ev->reported_count);
	event_free(&back);
	free(line);
}

static void
json_roundtrip(void)
{
	struct recording_complete rc = { "r\n\"q\"", "/r/x.mp4", NULL, NULL };
	/* UTF-8 as it is, the element a string */
	const char *prefix = "{\"room\":\"\xe4\xbc\x9a \\\"q\\\"\\n\","
	    "\"meeting_id\":\"5f0c1e2d-0000-4000-8000-000000000000\",\"type\":"
	    "\"muc-occupant-joined\",\"element\":\"{\\\"type\\\":";
	struct event ev;
	char *line;

	CHECK_INT(parse(EVENT_SEED, "{\"event\":\"muc-occupant-joined\","
	    "\"room\":\"\xe4\xbc\x9a \\\"q\\\"\\n\",\"data\":{\"user_id\":"
	    "\"u\"}}", "k", &ev), 0);
	ev.meeting_id = strdup("5f0c1e2d-0000-4000-8000-000000000000");
	check_roundtrip(&ev);
	line = event_to_json(&ev);
	CHECK(line != NULL && strncmp(line, prefix, strlen(prefix)) == 0);
	free(line);
	event_free(&ev);

	CHECK_INT(parse(EVENT_OCCUPANT_LEFT, "{\"room_name\":\"c\","
	    "\"active_occupants_count\":0}", NULL, &ev), 0);
	check_roundtrip(&ev);
	line = event_to_json(&ev);
	CHECK(line != NULL && strstr(line, "\"meeting_id\":null") != NULL &&
	    strstr(line, "\"occupant\":null") != NULL &&
	    strstr(line, "\"reported_count\":0") != NULL);
	free(line);
	event_free(&ev);

	event_from_recording(&rc, JOB, -1, &ev);
	check_roundtrip(&ev);
	event_free(&ev);
}

static void
json_rejects(void)
{
	static const char *const bad[] = {
		"",
		"[]",
		"{}",
		"null",
		/* each field wrong once */
		"{\"room\":null,\"meeting_id\":null,\"type\":\"t\",\"element\":\"{}\","
		    "\"dedup_key\":null,\"occupant\":null,\"scope\":\"\",\"delta\":0,"
		    "\"event_us\":1,\"received_us\":1,\"reported_count\":-1}",
		"{\"room\":\"r\",\"meeting_id\":5,\"type\":\"t\",\"element\":\"{}\","
		    "\"dedup_key\":null,\"occupant\":null,\"scope\":\"\",\"delta\":0,"
		    "\"event_us\":1,\"received_us\":1,\"reported_count\":-1}",
		"{\"room\":\"r\",\"meeting_id\":null,\"type\":\"t\",\"element\":{},"
		    "\"dedup_key\":null,\"occupant\":null,\"scope\":\"\",\"delta\":0,"
		    "\"event_us\":1,\"received_us\":1,\"reported_count\":-1}",
		"{\"room\":\"r\",\"meeting_id\":null,\"type\":\"t\",\"element\":\"{}\","
		    "\"dedup_key\":null,\"occupant\":null,\"scope\":null,\"delta\":0,"
		    "\"event_us\":1,\"received_us\":1,\"reported_count\":-1}",
		"{\"room\":\"r\",\"meeting_id\":null,\"type\":\"t\",\"element\":\"{}\","
		    "\"dedup_key\":null,\"occupant\":null,\"scope\":\"\",\"delta\":2,"
		    "\"event_us\":1,\"received_us\":1,\"reported_count\":-1}",
		"{\"room\":\"r\",\"meeting_id\":null,\"type\":\"t\",\"element\":\"{}\","
		    "\"dedup_key\":null,\"occupant\":null,\"scope\":\"\",\"delta\":0,"
		    "\"event_us\":1.5,\"received_us\":1,\"reported_count\":-1}",
		"{\"room\":\"r\",\"meeting_id\":null,\"type\":\"t\",\"element\":\"{}\","
		    "\"dedup_key\":null,\"occupant\":null,\"scope\":\"\",\"delta\":0,"
		    "\"event_us\":1,\"received_us\":\"1\",\"reported_count\":-1}",
		"{\"room\":\"r\",\"meeting_id\":null,\"type\":\"t\",\"element\":\"{}\","
		    "\"dedup_key\":null,\"occupant\":null,\"scope\":\"\",\"delta\":0,"
		    "\"event_us\":1,\"received_us\":1}",
		"{\"room\":\"r\",\"room\":\"r\",\"meeting_id\":null,\"type\":\"t\","
		    "\"element\":\"{}\",\"dedup_key\":null,\"occupant\":null,"
		    "\"scope\":\"\",\"delta\":0,\"event_us\":1,\"received_us\":1,"
		    "\"reported_count\":-1}",
		"{\"room\":\"r\",\"meeting_id\":null,\"type\":\"t\",\"element\":\"{}\","
		    "\"dedup_key\":null,\"occupant\":null,\"scope\":\"\",\"delta\":0,"
		    "\"event_us\":1,\"received_us\":1,\"reported_count\":-1}x",
	};
	const char *good = "{\"room\":\"r\",\"meeting_id\":null,\"type\":\"t\","
	    "\"element\":\"{}\",\"dedup_key\":null,\"occupant\":null,\"scope\":"
	    "\"\",\"delta\":0,\"event_us\":1,\"received_us\":1,"
	    "\"reported_count\":-1}";
	struct event ev;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_INT(event_from_json(bad[i], strlen(bad[i]), &ev), -1);
		CHECK(ev.room == NULL && ev.type == NULL && ev.element == NULL);
	}
	/* the same line with every field right is one; a line cut short
	 * is not */
	CHECK_INT(event_from_json(good, strlen(good), &ev), 0);
	CHECK_STR(ev.room, "r");
	CHECK_INT(ev.reported_count, -1);
	event_free(&ev);
	CHECK_INT(event_from_json(good, strlen(good) - 1, &ev), -1);
	event_free(NULL);
}

static void
iso_us(void)
{
	static const struct {
		long long t;
		const char *want;
	} cases[] = {
		{ 1736937000123456LL, "2025-01-15T10:30:00.123456Z" },
		{ 1736937000000000LL, "2025-01-15T10:30:00.000000Z" },
		{ 0, "1970-01-01T00:00:00.000000Z" },
		{ -1, "1969-12-31T23:59:59.999999Z" },
		{ 951868799000001LL, "2000-02-29T23:59:59.000001Z" },
		{ 253402300799999999LL, "9999-12-31T23:59:59.999999Z" },
	};
	char out[32];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		event_iso_us(cases[i].t, out);
		CHECK_STR(out, cases[i].want);
	}
	/* any value: a terminated string within the 32 bytes */
	event_iso_us(INT64_MAX, out);
	CHECK(memchr(out, '\0', sizeof(out)) != NULL);
	event_iso_us(INT64_MIN, out);
	CHECK(memchr(out, '\0', sizeof(out)) != NULL);
}

UNIT_MAIN("event",
    T(seed_example_joined),
    T(seed_example_participant),
    T(seed_recording_on_counts_nobody),
    T(seed_user_and_name),
    T(seed_idempotency_key),
    T(seed_timestamps),
    T(seed_errors_name_the_field),
    T(errors_are_printable),
    T(unicode_names),
    T(sync_room_created),
    T(sync_room_destroyed),
    T(sync_occupant_joined),
    T(sync_occupant_left),
    T(sync_left_without_occupant),
    T(sync_breakout),
    T(sync_dedup_keys),
    T(sync_errors_name_the_field),
    T(recording_example),
    T(recording_optional_fields),
    T(recording_errors),
    T(json_roundtrip),
    T(json_rejects),
    T(iso_us))
