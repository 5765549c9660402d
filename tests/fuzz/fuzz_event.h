/* fuzz_event.h -- what the event harnesses share: a body through its parser, and the properties every stored event has. */
#ifndef JP_FUZZ_EVENT_H
#define JP_FUZZ_EVENT_H

#include "api/event.h"
#include "fuzz.h"

#include <stdbool.h>
#include <string.h>

#include <jansson.h>

#define FUZZ_EVENT_MAX 65536                 /* the endpoint's cap: 413 past it */
#define FUZZ_EVENT_RECV 1736937001250000LL   /* the receive time of every body */
#define FUZZ_EVENT_IDEM "fuzz-idem-1"
#define FUZZ_EVENT_JOB "0123456789abcdef0123456789abcdef"

/* An exact copy of the input: a read past it is a read past the buffer. */
static inline char *
fuzz_event_copy(const uint8_t *data, size_t size)
{
	char *in = malloc(size ? size : 1);

	FUZZ_CHECK(in != NULL, "malloc");
	memcpy(in, data, size);
	return in;
}

/* A 422's detail: said, and printable UTF-8 (it goes into JSON). */
static inline void
fuzz_event_err(const char *err)
{
	json_t *j = json_string(err);
	const char *p;

	FUZZ_CHECK(err[0] != '\0', "refused without a message");
	FUZZ_CHECK(j != NULL, "the message is not UTF-8: %s", err);
	for (p = err; *p != '\0'; p++)
		FUZZ_CHECK((unsigned char)*p >= 0x20 && *p != 0x7f,
		    "a control character in the message: %s", err);
	json_decref(j);
}

static inline bool
fuzz_event_same(const char *a, const char *b)
{
	return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* What every stored event holds: its element is {"type","timestamp",
 * "data"} with ev's type and receive time; one occupant iff it counts;
 * and its journal line gives it back field for field. */
static inline void
fuzz_event_check(const struct event *ev)
{
	struct event back;
	json_t *el, *data;
	char ts[32], *line;

	FUZZ_CHECK(ev->room != NULL && ev->type != NULL && ev->type[0] != '\0' &&
	    ev->element != NULL && ev->scope != NULL, "a field is missing");
	FUZZ_CHECK(ev->delta >= -1 && ev->delta <= 1 &&
	    (ev->delta == 0) == (ev->occupant == NULL),
	    "delta %d with occupant %s", ev->delta,
	    ev->occupant ? ev->occupant : "(none)");
	el = json_loads(ev->element, JSON_REJECT_DUPLICATES, NULL);
	FUZZ_CHECK(json_is_object(el) && json_object_size(el) == 3,
	    "element `%s'", ev->element);
	event_iso_us(ev->received_us, ts);
	data = json_object_get(el, "data");
	FUZZ_CHECK(fuzz_event_same(json_string_value(json_object_get(el,
	    "type")), ev->type) && fuzz_event_same(json_string_value(
	    json_object_get(el, "timestamp")), ts) && json_is_object(data) &&
	    json_is_string(json_object_get(data, "timestamp")),
	    "element `%s'", ev->element);
	json_decref(el);

	line = event_to_json(ev);
	FUZZ_CHECK(line != NULL && strchr(line, '\n') == NULL,
	    "no journal line");
	FUZZ_CHECK(event_from_json(line, strlen(line), &back) == 0,
	    "the journal line does not parse: %s", line);
	FUZZ_CHECK(fuzz_event_same(back.room, ev->room) &&
	    fuzz_event_same(back.meeting_id, ev->meeting_id) &&
	    fuzz_event_same(back.type, ev->type) &&
	    fuzz_event_same(back.element, ev->element) &&
	    fuzz_event_same(back.dedup_key, ev->dedup_key) &&
	    fuzz_event_same(back.occupant, ev->occupant) &&
	    fuzz_event_same(back.scope, ev->scope) &&
	    back.delta == ev->delta && back.event_us == ev->event_us &&
	    back.received_us == ev->received_us &&
	    back.reported_count == ev->reported_count,
	    "the journal line gives another event: %s", line);
	event_free(&back);
	free(line);
}

/* v with the keys of every object in the other order. */
static inline json_t *
fuzz_event_reversed(json_t *v)
{
	const char **keys;
	json_t *out, *x;
	const char *k;
	size_t i, n;

	if (json_is_array(v)) {
		out = json_array();
		json_array_foreach(v, i, x)
			json_array_append_new(out, fuzz_event_reversed(x));
		return out;
	}
	if (!json_is_object(v))
		return json_incref(v);
	n = json_object_size(v);
	keys = malloc((n ? n : 1) * sizeof(*keys));
	FUZZ_CHECK(keys != NULL, "malloc");
	i = 0;
	json_object_foreach(v, k, x)
		keys[i++] = k;
	out = json_object();
	while (i-- > 0)
		json_object_set_new(out, keys[i],
		    fuzz_event_reversed(json_object_get(v, keys[i])));
	free(keys);
	return out;
}

/* The same body with its keys in the other order is the same event
 * (what a retry from Prosody's Lua tables looks like). */
static inline void
fuzz_event_reorder(enum event_shape shape, const char *in, size_t size,
    const struct event *ev)
{
	json_t *body = json_loadb(in, size, JSON_REJECT_DUPLICATES, NULL);
	json_t *rev;
	struct event again;
	char err[256], *text;

	FUZZ_CHECK(body != NULL, "an accepted body does not load");
	rev = fuzz_event_reversed(body);
	text = json_dumps(rev, JSON_COMPACT);
	FUZZ_CHECK(text != NULL, "json_dumps");
	FUZZ_CHECK(event_parse(shape, text, strlen(text), ev->received_us,
	    FUZZ_EVENT_IDEM, &again, err, sizeof(err)) == 0,
	    "refused in the other key order: %s", err);
	FUZZ_CHECK(fuzz_event_same(again.dedup_key, ev->dedup_key) &&
	    fuzz_event_same(again.room, ev->room) &&
	    fuzz_event_same(again.type, ev->type) &&
	    fuzz_event_same(again.occupant, ev->occupant) &&
	    fuzz_event_same(again.scope, ev->scope) &&
	    again.delta == ev->delta && again.event_us == ev->event_us &&
	    again.reported_count == ev->reported_count,
	    "another event in the other key order: %s", text);
	event_free(&again);
	free(text);
	json_decref(rev);
	json_decref(body);
}

/* Any bytes as the body of shape's route. */
static inline void
fuzz_event_body(enum event_shape shape, const uint8_t *data, size_t size)
{
	struct event ev;
	char err[256];
	char *in;

	if (size > FUZZ_EVENT_MAX)
		return;
	in = fuzz_event_copy(data, size);
	memset(&ev, 0xa5, sizeof(ev));
	if (event_parse(shape, in, size, FUZZ_EVENT_RECV, FUZZ_EVENT_IDEM, &ev,
	    err, sizeof(err)) < 0) {
		fuzz_event_err(err);
		FUZZ_CHECK(ev.room == NULL && ev.type == NULL &&
		    ev.element == NULL && ev.dedup_key == NULL &&
		    ev.occupant == NULL && ev.scope == NULL,
		    "a refused body left a field set");
		free(in);
		return;
	}
	fuzz_event_check(&ev);
	if (shape == EVENT_SEED)
		FUZZ_CHECK(fuzz_event_same(ev.dedup_key,
		    "idem:" FUZZ_EVENT_IDEM), "dedup key %s", ev.dedup_key);
	else
		FUZZ_CHECK(ev.dedup_key != NULL && strlen(ev.dedup_key) == 69 &&
		    strncmp(ev.dedup_key, "sync:", 5) == 0, "dedup key %s",
		    ev.dedup_key ? ev.dedup_key : "(none)");
	fuzz_event_reorder(shape, in, size, &ev);
	event_free(&ev);
	free(in);
}

#endif
