/* event.c -- incoming event bodies (the seed's, Prosody mod_event_sync's, recording-complete) into the one stored form.
 *
 * A body is any bytes. jansson parses it (duplicate keys refused, its own
 * depth limit); a NUL anywhere and a depth past 32 are refused here; every
 * field read is checked for its type before it is used. A failure names
 * the field. What is stored is built fresh from checked values and the
 * payload's own subtrees, in the payload's key order. Error messages quote
 * payload text but are always printable UTF-8: they become a JSON detail. */
#include "api/event.h"
#include "base/hash.h"
#include "base/jsonx.h"
#include "base/util.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

/* A real body is 4 levels deep (room/destroyed: body, all_occupants, an
 * occupant, a value). Deeper ones are refused, so that the element (up to
 * one level deeper than the body) always parses again, here (jansson
 * stops at 2048) and in PostgreSQL. */
#define EVENT_DEPTH_MAX 32

/* 9999-12-31T23:59:59Z: later times have no 4-digit year. */
#define EVENT_SEC_MAX 253402300799LL

/* Longest Idempotency-Key kept as it is in the dedup key. */
#define EVENT_IDEM_MAX 200

#define ISO_LEN 64

/* Where a field is, in messages: "all_occupants[2].name". */
#define PATH_LEN 160

/* The event name of each route; the seed's names its own. */
static const char *const route_name[] = {
	[EVENT_SEED] = NULL,
	[EVENT_ROOM_CREATED] = "muc-room-created",
	[EVENT_ROOM_DESTROYED] = "muc-room-destroyed",
	[EVENT_OCCUPANT_JOINED] = "muc-occupant-joined",
	[EVENT_OCCUPANT_LEFT] = "muc-occupant-left",
};

/* A time as the payload gave it: Unix seconds and the digits of the
 * fraction as written (none to 9, trailing zeros trimmed). */
struct evtime {
	int64_t sec;
	char frac[10];
};

/* The fields every mod_event_sync body shares, checked. */
struct sync_room {
	const char *name;        /* room_name: the main room, also in breakouts */
	const char *jid;         /* room_jid, else room_name: the dedup key's */
	const char *scope;       /* "" or breakout_room_id */
};

/* Length of the printable UTF-8 character at p: no control character,
 * overlong form, surrogate or code point past U+10FFFF. 0: none starts
 * at p (a NUL included). */
static size_t
utf8_char(const unsigned char *p)
{
	uint32_t cp;
	size_t n, i;

	if (p[0] < 0x20 || p[0] == 0x7f)
		return 0;
	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		n = 2;
		cp = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		n = 3;
		cp = p[0] & 0x0f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		n = 4;
		cp = p[0] & 0x07;
	} else
		return 0;
	/* a NUL is no continuation byte: this stops at the string's end */
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

static bool
text_printable(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n;

	while (*p != '\0') {
		if ((n = utf8_char(p)) == 0)
			return false;
		p += n;
	}
	return true;
}

/* Every byte of s that starts no printable UTF-8 character becomes '?':
 * jansson's messages quote raw input, and a cut can split a character. */
static void
text_clean(char *s)
{
	unsigned char *p = (unsigned char *)s;
	size_t n;

	while (*p != '\0') {
		if ((n = utf8_char(p)) == 0) {
			*p++ = '?';
			continue;
		}
		p += n;
	}
}

static int __attribute__((format(printf, 3, 4)))
fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return -1;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	text_clean(err);
	return -1;
}

static void
event_clear(struct event *ev)
{
	memset(ev, 0, sizeof(*ev));
	ev->reported_count = -1;
}

/* --- time ---------------------------------------------------------------- */

static int
num(const char *s, int n, int *out)
{
	int i, v = 0;

	/* stops at the first non-digit, so never reads past a NUL */
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

static int
month_days(int y, int m)
{
	static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31,
		30, 31 };

	if (m == 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))
		return 29;
	return days[m - 1];
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* s as RFC 3339's date-time: "2025-01-15T10:30:00Z", a 'T' or 't', a
 * fraction of 1 to 9 digits or none, 'Z', 'z' or an offset "+02:00" /
 * "-05:30"; a real calendar date and clock time (no leap second). 0; -1
 * not that form; -2 before 1970 or after 9999 in UTC. */
static int
iso_parse(const char *s, struct evtime *t)
{
	int y, mo, d, h, mi, se, oh = 0, om = 0, sign = 0;
	const char *p;
	size_t n = 0;
	int64_t sec;

	if (num(s, 4, &y) < 0 || s[4] != '-' || num(s + 5, 2, &mo) < 0 ||
	    s[7] != '-' || num(s + 8, 2, &d) < 0 ||
	    (s[10] != 'T' && s[10] != 't') || num(s + 11, 2, &h) < 0 ||
	    s[13] != ':' || num(s + 14, 2, &mi) < 0 || s[16] != ':' ||
	    num(s + 17, 2, &se) < 0)
		return -1;
	p = s + 19;
	if (*p == '.') {
		for (p++; *p >= '0' && *p <= '9'; p++) {
			if (n == sizeof(t->frac) - 1)
				return -1;
			t->frac[n++] = *p;
		}
		if (n == 0)
			return -1;
	}
	t->frac[n] = '\0';
	if (*p == 'Z' || *p == 'z')
		p++;
	else if (*p == '+' || *p == '-') {
		sign = *p == '+' ? 1 : -1;
		if (num(p + 1, 2, &oh) < 0 || p[3] != ':' ||
		    num(p + 4, 2, &om) < 0)
			return -1;
		p += 6;
	} else
		return -1;
	if (*p != '\0' || mo < 1 || mo > 12 || d < 1 ||
	    d > month_days(y, mo) || h > 23 || mi > 59 || se > 59 ||
	    oh > 23 || om > 59)
		return -1;
	while (n > 0 && t->frac[n - 1] == '0')
		t->frac[--n] = '\0';
	sec = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se -
	    sign * (oh * 3600 + om * 60);
	if (sec < 0 || sec > EVENT_SEC_MAX)
		return -2;
	t->sec = sec;
	return 0;
}

static void
evtime_from_us(int64_t us, struct evtime *t)
{
	int64_t rem = us % 1000000;
	size_t n;

	t->sec = us / 1000000;
	if (rem < 0) {
		rem += 1000000;
		t->sec--;
	}
	snprintf(t->frac, sizeof(t->frac), "%06d", (int)rem);
	for (n = strlen(t->frac); n > 0 && t->frac[n - 1] == '0'; n--)
		t->frac[n - 1] = '\0';
}

static void
evtime_from_sec(int64_t sec, struct evtime *t)
{
	t->sec = sec;
	t->frac[0] = '\0';
}

/* Unix µs; digits past the sixth are dropped. */
static int64_t
evtime_us(const struct evtime *t)
{
	const char *f = t->frac;
	int64_t us = 0;
	int i;

	for (i = 0; i < 6; i++)
		us = us * 10 + (*f != '\0' ? *f++ - '0' : 0);
	return t->sec * 1000000 + us;
}

static void
gm(int64_t sec, struct tm *tm)
{
	time_t tt = (time_t)sec;

	if (gmtime_r(&tt, tm) == NULL)
		memset(tm, 0, sizeof(*tm));
}

/* "2025-01-15T10:30:00Z", or with its fraction: "...:00.5Z". */
static void
evtime_iso(const struct evtime *t, char out[ISO_LEN])
{
	struct tm tm;

	gm(t->sec, &tm);
	snprintf(out, ISO_LEN, "%04d-%02d-%02dT%02d:%02d:%02d%s%sZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, t->frac[0] != '\0' ? "." : "", t->frac);
}

void
event_iso_us(int64_t t, char out[32])
{
	int64_t sec = t / 1000000, us = t % 1000000;
	char tmp[ISO_LEN];
	struct tm tm;

	if (us < 0) {
		us += 1000000;
		sec--;
	}
	gm(sec, &tm);
	snprintf(tmp, sizeof(tmp), "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, (int)us);
	util_strlcpy(out, tmp, 32);
}

/* data["timestamp"] = t, normalised; t's Unix µs. */
static int64_t
stamp(json_t *data, const struct evtime *t)
{
	char iso[ISO_LEN];

	evtime_iso(t, iso);
	json_object_set_new(data, "timestamp", json_string(iso));
	return evtime_us(t);
}

/* --- fields -------------------------------------------------------------- */

/* The first thing in v (at path, "" the body) nested deeper than left
 * more levels or a string holding a NUL: -1 with err naming it. jansson
 * is asked to allow \u0000 (in strings; never in keys) only so that this
 * can say which field had it: nothing with a NUL is ever stored. */
static int
check_tree(json_t *v, int left, char *path, size_t n, char *err,
    size_t errlen)
{
	const char *k;
	json_t *x;
	size_t i;

	if (json_is_string(v)) {
		if (memchr(json_string_value(v), '\0', json_string_length(v)) !=
		    NULL)
			return fail(err, errlen, "%s: must not contain NUL "
			    "(\\u0000)", n > 0 ? path : "body");
		return 0;
	}
	if (!json_is_object(v) && !json_is_array(v))
		return 0;
	if (left == 0)
		return fail(err, errlen, "body: nested more than %d levels deep",
		    EVENT_DEPTH_MAX);
	if (json_is_array(v)) {
		json_array_foreach(v, i, x) {
			snprintf(path + n, PATH_LEN - n, "[%zu]", i);
			if (check_tree(x, left - 1, path, strlen(path), err,
			    errlen) < 0)
				return -1;
		}
	} else {
		json_object_foreach(v, k, x) {
			snprintf(path + n, PATH_LEN - n, "%s%s", n > 0 ? "." : "",
			    k);
			if (check_tree(x, left - 1, path, strlen(path), err,
			    errlen) < 0)
				return -1;
		}
	}
	path[n] = '\0';
	return 0;
}

static json_t *
load_object(const char *body, size_t len, char *err, size_t errlen)
{
	char path[PATH_LEN];
	json_error_t je;
	json_t *root;

	root = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY |
	    JSON_ALLOW_NUL, &je);
	if (root == NULL) {
		fail(err, errlen, "body: not valid JSON: %s (line %d, column %d)",
		    je.text, je.line, je.column);
		return NULL;
	}
	if (!json_is_object(root)) {
		fail(err, errlen, "body: must be a JSON object");
		goto bad;
	}
	path[0] = '\0';
	if (check_tree(root, EVENT_DEPTH_MAX, path, 0, err, errlen) < 0)
		goto bad;
	return root;
bad:
	json_decref(root);
	return NULL;
}

/* obj[key] when it is there and not null. */
static json_t *
field(const json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	return json_is_null(v) ? NULL : v;
}

/* *out = obj[key]: 1 a string, 0 absent or null (*out NULL), -1 (err
 * set) anything else. prefix names the object in err ("occupant."). */
static int
opt_string(const json_t *obj, const char *prefix, const char *key,
    const char **out, char *err, size_t errlen)
{
	json_t *v = field(obj, key);

	*out = NULL;
	if (v == NULL)
		return 0;
	if (!json_is_string(v))
		return fail(err, errlen, "%s%s: must be a string", prefix, key);
	*out = json_string_value(v);
	return 1;
}

static int
req_string(const json_t *obj, const char *prefix, const char *key,
    const char **out, char *err, size_t errlen)
{
	json_t *v = field(obj, key);

	if (!json_is_string(v) || json_string_length(v) == 0)
		return fail(err, errlen, "%s%s: must be a non-empty string",
		    prefix, key);
	*out = json_string_value(v);
	return 0;
}

/* v as a whole number: a JSON integer, or a real with no fraction (a
 * Lua number may be written 1625823996.0). 0 or -1. */
static int
whole(const json_t *v, int64_t *out)
{
	double d;

	if (json_is_integer(v)) {
		*out = json_integer_value(v);
		return 0;
	}
	if (!json_is_real(v))
		return -1;
	d = json_real_value(v);
	/* past 2^53 a double has no fraction to check; NaN fails both */
	if (!(d >= -9007199254740992.0 && d <= 9007199254740992.0) ||
	    (double)(int64_t)d != d)
		return -1;
	*out = (int64_t)d;
	return 0;
}

/* obj[key] as Unix seconds, 1970 to 9999: 1, 0 absent or null, -1. */
static int
unix_secs(const json_t *obj, const char *prefix, const char *key,
    int64_t *sec, char *err, size_t errlen)
{
	json_t *v = field(obj, key);

	if (v == NULL)
		return 0;
	if (whole(v, sec) < 0)
		return fail(err, errlen, "%s%s: must be integer Unix seconds",
		    prefix, key);
	if (*sec < 0 || *sec > EVENT_SEC_MAX)
		return fail(err, errlen,
		    "%s%s: %lld is out of range (1970 to 9999)", prefix, key,
		    (long long)*sec);
	return 1;
}

/* A user id: a non-empty string, or a whole number in decimal (buf). */
static const char *
id_of(const json_t *obj, const char *key, char buf[24])
{
	json_t *v = field(obj, key);
	int64_t n;

	if (json_is_string(v))
		return json_string_length(v) > 0 ? json_string_value(v) : NULL;
	if (v != NULL && whole(v, &n) == 0) {
		snprintf(buf, 24, "%lld", (long long)n);
		return buf;
	}
	return NULL;
}

static const char *
name_of(const json_t *obj, const char *key)
{
	json_t *v = field(obj, key);

	return json_is_string(v) && json_string_length(v) > 0 ?
	    json_string_value(v) : NULL;
}

/* dst[k] = src[k] for every key of src but skip, in src's order. */
static void
copy_keys(json_t *dst, json_t *src, const char *skip)
{
	const char *k;
	json_t *v;

	if (!json_is_object(src))
		return;
	json_object_foreach(src, k, v)
		if (skip == NULL || strcmp(k, skip) != 0)
			json_object_set(dst, k, v);
}

/* --- the stored form ----------------------------------------------------- */

/* ev's element {"type","timestamp","data"} and its room and type. */
static int
finish(struct event *ev, const char *room, const char *type, json_t *data,
    int64_t received_us, char *err, size_t errlen)
{
	json_t *el = json_object();
	char ts[32];

	event_iso_us(received_us, ts);
	json_object_set_new(el, "type", json_string(type));
	json_object_set_new(el, "timestamp", json_string(ts));
	json_object_set(el, "data", data);
	ev->element = json_dumps(el, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(el);
	if (ev->element == NULL)
		return fail(err, errlen, "body: cannot be stored as JSON");
	ev->room = xstrdup(room);
	ev->type = xstrdup(type);
	ev->received_us = received_us;
	return 0;
}

/* "idem:" + the Idempotency-Key; one that is not printable UTF-8, or is
 * long, by its SHA-256: the dedup key is always a plain JSON string. */
static char *
idem_dedup(const char *key)
{
	char hex[HASH_HEX_LEN];
	size_t n;

	if (key == NULL || *key == '\0')
		return NULL;
	n = strlen(key);
	if (n <= EVENT_IDEM_MAX && text_printable(key))
		return xasprintf("idem:%s", key);
	hash_sha256_hex(key, n, hex);
	return xasprintf("idem-sha256:%s", hex);
}

static int
delta_of(const char *type)
{
	if (strcmp(type, "muc-occupant-joined") == 0)
		return 1;
	if (strcmp(type, "muc-occupant-left") == 0)
		return -1;
	return 0;
}

/* {"event","room","timestamp","data"}: data kept, with the time,
 * user_id (user_id, else occupant_id) and display_name (display_name,
 * else nick) it holds. */
static int
parse_seed(json_t *root, int64_t received_us, const char *idem_key,
    struct event *ev, char *err, size_t errlen)
{
	const char *type, *room, *ts, *uid, *name;
	char b1[24], b2[24];
	json_t *pdata, *data;
	struct evtime t;
	int r;

	if (req_string(root, "", "event", &type, err, errlen) < 0 ||
	    req_string(root, "", "room", &room, err, errlen) < 0 ||
	    (r = opt_string(root, "", "timestamp", &ts, err, errlen)) < 0)
		return -1;
	if (r == 0)
		evtime_from_us(received_us, &t);
	else if ((r = iso_parse(ts, &t)) == -1)
		return fail(err, errlen, "timestamp: not an ISO-8601 time: `%.64s'",
		    ts);
	else if (r < 0)
		return fail(err, errlen,
		    "timestamp: `%.64s' is out of range (1970 to 9999)", ts);
	pdata = field(root, "data");
	if (pdata != NULL && !json_is_object(pdata))
		return fail(err, errlen, "data: must be an object");

	data = json_object();
	copy_keys(data, pdata, NULL);
	ev->event_us = stamp(data, &t);
	if ((uid = id_of(pdata, "user_id", b1)) == NULL)
		uid = id_of(pdata, "occupant_id", b2);
	if ((name = name_of(pdata, "display_name")) == NULL)
		name = name_of(pdata, "nick");
	jsonx_set_str(data, "user_id", uid);
	jsonx_set_str(data, "display_name", name);
	/* who is not named cannot be counted */
	ev->delta = uid != NULL ? delta_of(type) : 0;
	ev->occupant = ev->delta != 0 ? xstrdup(uid) : NULL;
	ev->scope = xstrdup("");
	ev->dedup_key = idem_dedup(idem_key);
	r = finish(ev, room, type, data, received_us, err, errlen);
	json_decref(data);
	return r;
}

/* event_name, room_name, room_jid, is_breakout, breakout_room_id. */
static int
sync_room(json_t *root, enum event_shape shape, struct sync_room *sr,
    char *err, size_t errlen)
{
	const char *want = route_name[shape], *name, *other;
	json_t *b;
	int r;

	/* absent in older bodies: the route says which event it is */
	if ((r = opt_string(root, "", "event_name", &name, err, errlen)) < 0)
		return -1;
	if (r > 0 && strcmp(name, want) != 0)
		return fail(err, errlen,
		    "event_name: `%.64s' does not match this route (%s)", name,
		    want);
	if (req_string(root, "", "room_name", &sr->name, err, errlen) < 0 ||
	    opt_string(root, "", "room_jid", &sr->jid, err, errlen) < 0)
		return -1;
	if (sr->jid == NULL || *sr->jid == '\0')
		sr->jid = sr->name;
	b = field(root, "is_breakout");
	if (b != NULL && !json_is_boolean(b))
		return fail(err, errlen, "is_breakout: must be true or false");
	sr->scope = "";
	if (json_is_true(b))
		return req_string(root, "", "breakout_room_id", &sr->scope, err,
		    errlen);
	return opt_string(root, "", "breakout_room_id", &other, err, errlen) < 0 ?
	    -1 : 0;
}

/* "sync:" + SHA-256 of room, scope, type, occupant and time in seconds,
 * each ended by a NUL (no field holds one): what a retry repeats, in any
 * key order, and nothing else. */
static char *
sync_key(const struct sync_room *sr, const char *type, const char *occupant,
    int64_t event_us)
{
	struct hash_sha256 *h = hash_sha256_new();
	char sec[24], hex[HASH_HEX_LEN];
	const char *f[5];
	size_t i;

	snprintf(sec, sizeof(sec), "%lld", (long long)(event_us / 1000000));
	f[0] = sr->jid;
	f[1] = sr->scope;
	f[2] = type;
	f[3] = occupant != NULL ? occupant : "";
	f[4] = sec;
	for (i = 0; i < 5; i++)
		hash_sha256_update(h, f[i], strlen(f[i]) + 1);
	hash_sha256_final(h, NULL, hex);
	return xasprintf("sync:%s", hex);
}

static int
finish_sync(struct event *ev, const struct sync_room *sr,
    enum event_shape shape, const char *occupant, json_t *data,
    int64_t received_us, char *err, size_t errlen)
{
	const char *type = route_name[shape];
	int r;

	ev->occupant = occupant != NULL ? xstrdup(occupant) : NULL;
	ev->delta = occupant == NULL ? 0 : shape == EVENT_OCCUPANT_JOINED ?
	    1 : -1;
	ev->scope = xstrdup(sr->scope);
	ev->dedup_key = sync_key(sr, type, occupant, ev->event_us);
	r = finish(ev, sr->name, type, data, received_us, err, errlen);
	json_decref(data);
	return r;
}

/* room/created (created_at), room/destroyed (destroyed_at): data is the
 * body but event_name. */
static int
parse_room(json_t *root, enum event_shape shape, int64_t received_us,
    struct event *ev, char *err, size_t errlen)
{
	int64_t created = 0, destroyed = 0;
	struct sync_room sr;
	struct evtime t;
	json_t *data;
	int rc = 0, rd = 0;

	if (sync_room(root, shape, &sr, err, errlen) < 0 ||
	    (rc = unix_secs(root, "", "created_at", &created, err,
	    errlen)) < 0 ||
	    (shape == EVENT_ROOM_DESTROYED && (rd = unix_secs(root, "",
	    "destroyed_at", &destroyed, err, errlen)) < 0))
		return -1;
	if (shape == EVENT_ROOM_CREATED && rc > 0)
		evtime_from_sec(created, &t);
	else if (shape == EVENT_ROOM_DESTROYED && rd > 0)
		evtime_from_sec(destroyed, &t);
	else
		evtime_from_us(received_us, &t);
	data = json_object();
	copy_keys(data, root, "event_name");
	ev->event_us = stamp(data, &t);
	return finish_sync(ev, &sr, shape, NULL, data, received_us, err,
	    errlen);
}

/* occupant/joined (occupant.joined_at), occupant/left (occupant.left_at):
 * data is the occupant, then the room's fields, the time, user_id (id)
 * and display_name (name). A left without its occupant (Prosody lost
 * track of it) is kept, counting nobody. */
static int
parse_occupant(json_t *root, enum event_shape shape, int64_t received_us,
    struct event *ev, char *err, size_t errlen)
{
	static const char *const room_keys[] = { "active_occupants_count",
		"room_jid", "is_breakout", "breakout_room_id" };
	const char *jid = NULL, *uid = NULL, *name = NULL;
	int64_t count = -1, joined = 0, left = 0;
	struct sync_room sr;
	struct evtime t;
	json_t *occ, *data, *v;
	char buf[24];
	int rj = 0, rl = 0;
	size_t i;

	if (sync_room(root, shape, &sr, err, errlen) < 0)
		return -1;
	if ((v = field(root, "active_occupants_count")) != NULL &&
	    (whole(v, &count) < 0 || count < 0))
		return fail(err, errlen,
		    "active_occupants_count: must be a non-negative integer");
	ev->reported_count = v != NULL ? count : -1;
	occ = field(root, "occupant");
	if (occ != NULL && !json_is_object(occ))
		return fail(err, errlen, "occupant: must be an object");
	/* a left may come without it (Prosody lost track of who it was);
	 * a joined always names who joined */
	if (occ == NULL && shape == EVENT_OCCUPANT_JOINED)
		return fail(err, errlen, "occupant: must be an object");
	evtime_from_us(received_us, &t);
	if (occ != NULL) {
		if (req_string(occ, "occupant.", "occupant_jid", &jid, err,
		    errlen) < 0 ||
		    (rj = unix_secs(occ, "occupant.", "joined_at", &joined,
		    err, errlen)) < 0 ||
		    (rl = unix_secs(occ, "occupant.", "left_at", &left, err,
		    errlen)) < 0)
			return -1;
		if (shape == EVENT_OCCUPANT_JOINED && rj > 0)
			evtime_from_sec(joined, &t);
		else if (shape == EVENT_OCCUPANT_LEFT && rl > 0)
			evtime_from_sec(left, &t);
		uid = id_of(occ, "id", buf);
		name = name_of(occ, "name");
	}
	data = json_object();
	copy_keys(data, occ, NULL);
	for (i = 0; i < sizeof(room_keys) / sizeof(room_keys[0]); i++)
		jsonx_copy(data, room_keys[i], root, room_keys[i]);
	ev->event_us = stamp(data, &t);
	jsonx_set_str(data, "user_id", uid);
	jsonx_set_str(data, "display_name", name);
	return finish_sync(ev, &sr, shape, jid, data, received_us, err,
	    errlen);
}

int
event_parse(enum event_shape shape, const char *body, size_t len,
    int64_t received_us, const char *idem_key, struct event *ev, char *err,
    size_t errlen)
{
	json_t *root;
	int r;

	event_clear(ev);
	if ((root = load_object(body, len, err, errlen)) == NULL)
		return -1;
	switch (shape) {
	case EVENT_SEED:
		r = parse_seed(root, received_us, idem_key, ev, err, errlen);
		break;
	case EVENT_ROOM_CREATED:
	case EVENT_ROOM_DESTROYED:
		r = parse_room(root, shape, received_us, ev, err, errlen);
		break;
	case EVENT_OCCUPANT_JOINED:
	case EVENT_OCCUPANT_LEFT:
		r = parse_occupant(root, shape, received_us, ev, err, errlen);
		break;
	default:
		r = fail(err, errlen, "body: no event shape %d", (int)shape);
		break;
	}
	json_decref(root);
	if (r < 0)
		event_free(ev);
	return r;
}

/* --- recording-complete -------------------------------------------------- */

int
event_parse_recording(const char *body, size_t len,
    struct recording_complete *rc, char *err, size_t errlen)
{
	const char *room, *file, *status, *ts;
	json_t *root;

	memset(rc, 0, sizeof(*rc));
	if ((root = load_object(body, len, err, errlen)) == NULL)
		return -1;
	if (opt_string(root, "", "room_name", &room, err, errlen) < 0 ||
	    req_string(root, "", "recording_file", &file, err, errlen) < 0 ||
	    opt_string(root, "", "recording_status", &status, err,
	    errlen) < 0 ||
	    opt_string(root, "", "timestamp", &ts, err, errlen) < 0) {
		json_decref(root);
		return -1;
	}
	rc->room_name = xstrdup(room != NULL ? room : "");
	rc->recording_file = xstrdup(file);
	rc->recording_status = status != NULL ? xstrdup(status) : NULL;
	rc->timestamp = ts != NULL ? xstrdup(ts) : NULL;
	json_decref(root);
	return 0;
}

void
event_recording_free(struct recording_complete *rc)
{
	if (rc == NULL)
		return;
	free(rc->room_name);
	free(rc->recording_file);
	free(rc->recording_status);
	free(rc->timestamp);
	memset(rc, 0, sizeof(*rc));
}

void
event_from_recording(const struct recording_complete *rc, const char *job_id,
    int64_t received_us, struct event *ev)
{
	const char *room = rc->room_name != NULL ? rc->room_name : "";
	json_t *data = json_object();
	struct evtime t;

	event_clear(ev);
	if (rc->timestamp == NULL || iso_parse(rc->timestamp, &t) < 0)
		evtime_from_us(received_us, &t);
	jsonx_set_str(data, "room_name", room);
	jsonx_set_str(data, "recording_file", rc->recording_file);
	jsonx_set_str(data, "recording_status", rc->recording_status);
	ev->event_us = stamp(data, &t);
	jsonx_set_str(data, "job_id", job_id);
	ev->scope = xstrdup("");
	ev->dedup_key = job_id != NULL ? xasprintf("recording:%s", job_id) :
	    NULL;
	(void)finish(ev, room, "recording_completed", data, received_us, NULL, 0);
	json_decref(data);
}

/* --- the journal's line -------------------------------------------------- */

enum field_kind {
	F_STR,                   /* a string */
	F_STR_NULL,              /* a string or null */
	F_DELTA,                 /* int: -1, 0 or 1 */
	F_I64,                   /* int64_t */
};

/* Every field of struct event, in its order: one table for both ways. */
static const struct {
	const char *key;
	size_t off;
	enum field_kind kind;
} event_fields[] = {
	{ "room", offsetof(struct event, room), F_STR },
	{ "meeting_id", offsetof(struct event, meeting_id), F_STR_NULL },
	{ "type", offsetof(struct event, type), F_STR },
	{ "element", offsetof(struct event, element), F_STR },
	{ "dedup_key", offsetof(struct event, dedup_key), F_STR_NULL },
	{ "occupant", offsetof(struct event, occupant), F_STR_NULL },
	{ "scope", offsetof(struct event, scope), F_STR },
	{ "delta", offsetof(struct event, delta), F_DELTA },
	{ "event_us", offsetof(struct event, event_us), F_I64 },
	{ "received_us", offsetof(struct event, received_us), F_I64 },
	{ "reported_count", offsetof(struct event, reported_count), F_I64 },
};
#define NFIELDS (sizeof(event_fields) / sizeof(event_fields[0]))
#define FIELD(ev, i, type) ((type *)((char *)(ev) + event_fields[i].off))

char *
event_to_json(const struct event *ev)
{
	json_t *o = json_object(), *v;
	char *line = NULL, *s;
	size_t i;

	for (i = 0; i < NFIELDS; i++) {
		switch (event_fields[i].kind) {
		case F_STR:
		case F_STR_NULL:
			s = *FIELD(ev, i, char *const);
			v = s != NULL ? json_string(s) : json_null();
			break;
		case F_DELTA:
			v = json_integer(*FIELD(ev, i, const int));
			break;
		default:
			v = json_integer(*FIELD(ev, i, const int64_t));
			break;
		}
		/* NULL: a string that is not UTF-8, which no parse made */
		if (json_object_set_new(o, event_fields[i].key, v) < 0)
			goto out;
	}
	line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
out:
	json_decref(o);
	return line;
}

int
event_from_json(const char *line, size_t len, struct event *ev)
{
	json_t *o, *v;
	json_int_t n;
	size_t i;

	event_clear(ev);
	if ((o = json_loadb(line, len, JSON_REJECT_DUPLICATES, NULL)) == NULL)
		return -1;
	if (!json_is_object(o))
		goto bad;
	for (i = 0; i < NFIELDS; i++) {
		v = json_object_get(o, event_fields[i].key);
		switch (event_fields[i].kind) {
		case F_STR_NULL:
			if (json_is_null(v))
				break;
			/* FALLTHROUGH */
		case F_STR:
			if (!json_is_string(v))
				goto bad;
			*FIELD(ev, i, char *) = xstrdup(json_string_value(v));
			break;
		case F_DELTA:
			if (!json_is_integer(v) || (n = json_integer_value(v)) < -1 ||
			    n > 1)
				goto bad;
			*FIELD(ev, i, int) = (int)n;
			break;
		default:
			if (!json_is_integer(v))
				goto bad;
			*FIELD(ev, i, int64_t) = json_integer_value(v);
			break;
		}
	}
	json_decref(o);
	return 0;
bad:
	json_decref(o);
	event_free(ev);
	return -1;
}

void
event_free(struct event *ev)
{
	size_t i;

	if (ev == NULL)
		return;
	for (i = 0; i < NFIELDS; i++)
		if (event_fields[i].kind == F_STR ||
		    event_fields[i].kind == F_STR_NULL)
			free(*FIELD(ev, i, char *));
	event_clear(ev);
}
