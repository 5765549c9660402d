/* job.c -- one recording: identity, state machine, what the pipeline learnt and did. */
#include "daemon/job.h"
#include "base/config.h"
#include "base/hash.h"
#include "base/jsonx.h"
#include "base/util.h"

#include <stdlib.h>
#include <string.h>

const struct job_output_kind job_outputs[JOB_NOUT] = {
	{ "video", OUT_MP4, "recording.mp4", "video/mp4" },
	{ "audio", OUT_AUDIO, "audio.m4a", "audio/mp4" },
	{ "manifest", OUT_MANIFEST, "manifest.json", "application/json" },
};

static const char *const state_names[] = {
	"queued", "probing", "remuxing", "storing", "notifying", "finishing",
	"done", "failed", "quarantined",
};
#define NSTATES (sizeof(state_names) / sizeof(state_names[0]))

const char *
job_state_name(enum job_state s)
{
	return (size_t)s < NSTATES ? state_names[s] : "unknown";
}

int
job_state_parse(const char *s, enum job_state *out)
{
	size_t i;

	for (i = 0; s != NULL && i < NSTATES; i++) {
		if (strcmp(s, state_names[i]) == 0) {
			*out = (enum job_state)i;
			return 0;
		}
	}
	return -1;
}

bool
job_state_final(enum job_state s)
{
	return s == JOB_DONE || s == JOB_QUARANTINED;
}

int
job_out_find(const char *name)
{
	int i;

	for (i = 0; name != NULL && i < JOB_NOUT; i++)
		if (strcmp(job_outputs[i].name, name) == 0)
			return i;
	return -1;
}

void
job_id_for(const char *rel, char id[33])
{
	char hex[HASH_HEX_LEN];

	hash_sha256_hex(rel, strlen(rel), hex);
	memcpy(id, hex, 32);
	id[32] = '\0';
}

void
job_set(char **field, const char *value)
{
	char *old = *field;

	*field = value != NULL ? xstrdup(value) : NULL;
	free(old);
}

void
job_set_doc(json_t **field, json_t *value)
{
	json_decref(*field);
	*field = value;
}

static char *
source_dir(const char *source)
{
	const char *slash = strrchr(source, '/');

	return slash ? xstrndup(source, (size_t)(slash - source)) : xstrdup(".");
}

static void
touch(struct job *j)
{
	char ts[UTIL_ISO_LEN];

	job_set(&j->updated_at, util_iso8601_ms(util_now_ms(), ts));
}

struct job *
job_new(const char *id, const char *source, const char *rel,
    const char *discovered_by)
{
	struct job *j = xcalloc(1, sizeof(*j));
	char ts[UTIL_ISO_LEN];

	util_strlcpy(j->id, id, sizeof(j->id));
	j->source = xstrdup(source);
	j->rel = xstrdup(rel);
	j->dir = source_dir(source);
	j->discovered_by = xstrdup(discovered_by);
	j->created_at = xstrdup(util_iso8601_ms(util_now_ms(), ts));
	j->state = JOB_QUEUED;
	touch(j);
	return j;
}

static void
file_clear(struct job_file *f)
{
	free(f->file);
	free(f->store_key);
	free(f->key);
	free(f->content_type);
	memset(f, 0, sizeof(*f));
}

static void
object_clear(struct job_object *o)
{
	free(o->key);
	free(o->url);
	free(o->etag);
	memset(o, 0, sizeof(*o));
}

void
job_clear_outputs(struct job *j)
{
	int i;

	/* store_resume stays: an upload under way for an output made again
	 * is found stale by the store, which aborts it */
	for (i = 0; i < JOB_NOUT; i++)
		file_clear(&j->outputs[i]);
}

void
job_free(struct job *j)
{
	int i;

	if (j == NULL)
		return;
	free(j->source);
	free(j->rel);
	free(j->dir);
	free(j->discovered_by);
	free(j->created_at);
	free(j->legacy_room);
	free(j->session_suffix);
	free(j->last_error);
	free(j->updated_at);
	free(j->session_dir);
	free(j->session_id);
	free(j->room_name);
	free(j->room_source);
	free(j->meeting_url);
	json_decref(j->metadata);
	json_decref(j->event_participants);
	json_decref(j->salvage);
	free(j->metadata_error);
	json_decref(j->probe);
	job_clear_outputs(j);
	for (i = 0; i < JOB_NOUT; i++) {
		object_clear(&j->objects[i]);
		json_decref(j->store_resume[i]);
	}
	free(j->webhook.body);
	free(j->webhook.delivered_at);
	free(j->result);
	free(j->error);
	free(j->finished_at);
	free(j->source_deleted_at);
	json_decref(j->unknown);
	free(j);
}

/* ---- the JSON form ------------------------------------------------------ */

/* Every top-level key of the JSON form; what is not here is kept in
 * unknown and written back untouched. */
static const char *const known_keys[] = {
	"id", "source", "rel", "discovered_by", "created_at", "updated_at",
	"pin", "legacy_room", "session_suffix", "state", "resume_step",
	"attempts", "next_attempt_at", "last_error", "generation",
	"session_dir", "session_id", "room_name", "room_source", "meeting_url",
	"metadata", "metadata_error", "event_participants", "source_size",
	"source_mtime", "source_mtime_ns", "probe", "no_audio", "salvaged",
	"salvage", "outputs", "objects",
	"store_resume", "webhook", "result", "error", "quarantined",
	"log_offset", "logged", "finished_at", "finished_at_ms",
	"source_deleted_at",
};

static char *
get_str(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s != NULL ? xstrdup(s) : NULL;
}

static int64_t
get_int(const json_t *o, const char *key)
{
	return (int64_t)json_integer_value(json_object_get(o, key));
}

static void
get_sha(const json_t *o, char sha[65])
{
	util_strlcpy(sha, json_string_value(json_object_get(o, "sha256")) ?
	    json_string_value(json_object_get(o, "sha256")) : "", 65);
}

static json_t *
get_doc(const json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return v != NULL && !json_is_null(v) ? json_deep_copy(v) : NULL;
}

static void
outputs_from_json(struct job *j, const json_t *doc)
{
	const json_t *outs = json_object_get(doc, "outputs");
	const json_t *objs = json_object_get(doc, "objects");
	const json_t *res = json_object_get(doc, "store_resume");
	int i;

	for (i = 0; i < JOB_NOUT; i++) {
		const char *name = job_outputs[i].name;
		const json_t *o = json_object_get(outs, name);
		struct job_file *f = &j->outputs[i];
		struct job_object *ob = &j->objects[i];

		if (json_is_object(o)) {
			f->made = true;
			f->file = get_str(o, "file");
			f->key = get_str(o, "key");
			/* a job made before store_key existed stored at key */
			f->store_key = get_str(o, "store_key");
			if (f->store_key == NULL && f->key != NULL)
				f->store_key = xstrdup(f->key);
			f->content_type = get_str(o, "content_type");
			f->size = get_int(o, "size");
			get_sha(o, f->sha256);
		}
		o = json_object_get(objs, name);
		if (json_is_object(o)) {
			ob->stored = true;
			ob->key = get_str(o, "key");
			ob->url = get_str(o, "url");
			ob->etag = get_str(o, "etag");
			ob->size = get_int(o, "size");
			get_sha(o, ob->sha256);
		}
		if (json_is_object(json_object_get(res, name)))
			j->store_resume[i] = json_deep_copy(json_object_get(res,
			    name));
	}
}

static void
webhook_from_json(struct job_webhook *w, const json_t *o)
{
	const json_t *st = json_object_get(o, "status");

	w->body = get_str(o, "body");
	w->attempts = get_int(o, "attempts");
	w->first_attempt_at = get_int(o, "first_attempt_at");
	w->delivered_at = get_str(o, "delivered_at");
	w->status = json_is_integer(st) ? (long)json_integer_value(st) : 0;
	w->disabled = json_is_string(st) &&
	    strcmp(json_string_value(st), "disabled") == 0;
}

struct job *
job_from_json(const json_t *doc)
{
	const char *id = json_string_value(json_object_get(doc, "id"));
	const char *source = json_string_value(json_object_get(doc, "source"));
	const char *k;
	enum job_state s;
	struct job *j;
	json_t *v;
	size_t i;

	if (!json_is_object(doc) || id == NULL || strlen(id) != 32 ||
	    strspn(id, "0123456789abcdef") != 32 || source == NULL ||
	    job_state_parse(json_string_value(json_object_get(doc, "state")),
	    &s) < 0)
		return NULL;
	j = xcalloc(1, sizeof(*j));
	memcpy(j->id, id, 33);
	j->source = xstrdup(source);
	j->dir = source_dir(source);
	j->rel = get_str(doc, "rel");
	j->discovered_by = get_str(doc, "discovered_by");
	j->created_at = get_str(doc, "created_at");
	j->updated_at = get_str(doc, "updated_at");
	j->pinned = pin_from_json(json_object_get(doc, "pin"), &j->pin) == 0;
	j->legacy_room = get_str(doc, "legacy_room");
	j->session_suffix = get_str(doc, "session_suffix");
	j->state = s;
	j->has_resume_step = job_state_parse(json_string_value(
	    json_object_get(doc, "resume_step")), &j->resume_step) == 0;
	j->attempts = get_int(doc, "attempts");
	j->next_attempt_at = get_int(doc, "next_attempt_at");
	j->last_error = get_str(doc, "last_error");
	j->generation = get_int(doc, "generation");
	j->session_dir = get_str(doc, "session_dir");
	j->session_id = get_str(doc, "session_id");
	j->room_name = get_str(doc, "room_name");
	j->room_source = get_str(doc, "room_source");
	j->meeting_url = get_str(doc, "meeting_url");
	j->metadata = get_doc(doc, "metadata");
	j->event_participants = get_doc(doc, "event_participants");
	j->metadata_error = get_str(doc, "metadata_error");
	j->probed = json_is_integer(json_object_get(doc, "source_size"));
	j->source_size = get_int(doc, "source_size");
	j->source_mtime = get_int(doc, "source_mtime");
	j->source_mtime_ns = get_int(doc, "source_mtime_ns");
	j->probe = get_doc(doc, "probe");
	j->salvaged = json_is_true(json_object_get(doc, "salvaged"));
	j->salvage = get_doc(doc, "salvage");
	j->no_audio = json_is_true(json_object_get(doc, "no_audio"));
	outputs_from_json(j, doc);
	webhook_from_json(&j->webhook, json_object_get(doc, "webhook"));
	j->result = get_str(doc, "result");
	j->error = get_str(doc, "error");
	j->quarantined = json_is_true(json_object_get(doc, "quarantined"));
	j->has_log_offset = json_is_integer(json_object_get(doc, "log_offset"));
	j->log_offset = get_int(doc, "log_offset");
	j->logged = json_is_true(json_object_get(doc, "logged"));
	j->finished_at = get_str(doc, "finished_at");
	j->finished_at_ms = get_int(doc, "finished_at_ms");
	j->source_deleted_at = get_str(doc, "source_deleted_at");
	json_object_foreach((json_t *)doc, k, v) {
		for (i = 0; i < sizeof(known_keys) / sizeof(known_keys[0]); i++)
			if (strcmp(k, known_keys[i]) == 0)
				break;
		if (i < sizeof(known_keys) / sizeof(known_keys[0]))
			continue;
		if (j->unknown == NULL)
			j->unknown = json_object();
		json_object_set(j->unknown, k, v);
	}
	return j;
}

static void
put_doc(json_t *o, const char *key, const json_t *v)
{
	if (v != NULL)
		json_object_set_new(o, key, json_deep_copy(v));
}

static void
outputs_to_json(const struct job *j, json_t *doc)
{
	json_t *outs = json_object(), *objs = json_object(), *res = json_object();
	int i;

	for (i = 0; i < JOB_NOUT; i++) {
		const struct job_file *f = &j->outputs[i];
		const struct job_object *ob = &j->objects[i];
		const char *name = job_outputs[i].name;

		if (f->made) {
			json_t *o = json_pack("{s:I, s:s}", "size",
			    (json_int_t)f->size, "sha256", f->sha256);
			jsonx_set_str(o, "file", f->file);
			jsonx_set_str(o, "store_key", f->store_key);
			jsonx_set_str(o, "key", f->key);
			jsonx_set_str(o, "content_type", f->content_type);
			json_object_set_new(outs, name, o);
		}
		if (ob->stored) {
			json_t *o = json_pack("{s:I, s:s}", "size",
			    (json_int_t)ob->size, "sha256", ob->sha256);
			jsonx_set_str(o, "key", ob->key);
			jsonx_set_str(o, "url", ob->url);
			json_object_set_new(o, "etag", json_string(ob->etag ?
			    ob->etag : ""));
			json_object_set_new(objs, name, o);
		}
		put_doc(res, name, j->store_resume[i]);
	}
	if (json_object_size(outs) > 0)
		json_object_set(doc, "outputs", outs);
	if (json_object_size(objs) > 0)
		json_object_set(doc, "objects", objs);
	if (json_object_size(res) > 0)
		json_object_set(doc, "store_resume", res);
	json_decref(outs);
	json_decref(objs);
	json_decref(res);
}

json_t *
job_objects_to_json(const struct job *j)
{
	json_t *d = json_object(), *objs;

	outputs_to_json(j, d);
	objs = json_incref(json_object_get(d, "objects"));
	json_decref(d);
	return objs != NULL ? objs : json_object();
}

static json_t *
webhook_to_json(const struct job_webhook *w)
{
	json_t *o = json_object();

	jsonx_set_str(o, "body", w->body);
	if (w->attempts > 0)
		json_object_set_new(o, "attempts", json_integer(w->attempts));
	if (w->first_attempt_at > 0)
		json_object_set_new(o, "first_attempt_at",
		    json_integer(w->first_attempt_at));
	jsonx_set_str(o, "delivered_at", w->delivered_at);
	if (w->disabled)
		json_object_set_new(o, "status", json_string("disabled"));
	else if (w->attempts > 0 || w->status != 0)
		json_object_set_new(o, "status", json_integer(w->status));
	return o;
}

json_t *
job_to_json(const struct job *j)
{
	json_t *d = json_object(), *wh;

	/* unknown keys first: a known key of the same name always wins */
	if (j->unknown != NULL)
		json_object_update(d, j->unknown);
	json_object_set_new(d, "id", json_string(j->id));
	jsonx_set_str(d, "source", j->source);
	jsonx_set_str(d, "rel", j->rel);
	jsonx_set_str(d, "discovered_by", j->discovered_by);
	jsonx_set_str(d, "created_at", j->created_at);
	jsonx_set_str(d, "updated_at", j->updated_at);
	if (j->pinned)
		json_object_set_new(d, "pin", pin_to_json(&j->pin));
	jsonx_set_str(d, "legacy_room", j->legacy_room);
	jsonx_set_str(d, "session_suffix", j->session_suffix);
	json_object_set_new(d, "state", json_string(job_state_name(j->state)));
	if (j->has_resume_step)
		jsonx_set_str(d, "resume_step", job_state_name(j->resume_step));
	json_object_set_new(d, "attempts", json_integer(j->attempts));
	if (j->next_attempt_at > 0)
		json_object_set_new(d, "next_attempt_at",
		    json_integer(j->next_attempt_at));
	jsonx_set_str(d, "last_error", j->last_error);
	if (j->generation > 0)
		json_object_set_new(d, "generation", json_integer(j->generation));
	jsonx_set_str(d, "session_dir", j->session_dir);
	jsonx_set_str(d, "session_id", j->session_id);
	jsonx_set_str(d, "room_name", j->room_name);
	jsonx_set_str(d, "room_source", j->room_source);
	jsonx_set_str(d, "meeting_url", j->meeting_url);
	put_doc(d, "metadata", j->metadata);
	put_doc(d, "event_participants", j->event_participants);
	jsonx_set_str(d, "metadata_error", j->metadata_error);
	if (j->probed) {
		json_object_set_new(d, "source_size", json_integer(j->source_size));
		json_object_set_new(d, "source_mtime",
		    json_integer(j->source_mtime));
		json_object_set_new(d, "source_mtime_ns",
		    json_integer(j->source_mtime_ns));
	}
	put_doc(d, "probe", j->probe);
	if (j->salvaged)
		json_object_set_new(d, "salvaged", json_true());
	put_doc(d, "salvage", j->salvage);
	if (j->probed || j->no_audio)
		json_object_set_new(d, "no_audio", json_boolean(j->no_audio));
	outputs_to_json(j, d);
	wh = webhook_to_json(&j->webhook);
	if (json_object_size(wh) > 0)
		json_object_set(d, "webhook", wh);
	json_decref(wh);
	jsonx_set_str(d, "result", j->result);
	jsonx_set_str(d, "error", j->error);
	if (j->quarantined)
		json_object_set_new(d, "quarantined", json_true());
	if (j->has_log_offset)
		json_object_set_new(d, "log_offset", json_integer(j->log_offset));
	if (j->logged)
		json_object_set_new(d, "logged", json_true());
	jsonx_set_str(d, "finished_at", j->finished_at);
	if (j->finished_at_ms > 0)
		json_object_set_new(d, "finished_at_ms",
		    json_integer(j->finished_at_ms));
	jsonx_set_str(d, "source_deleted_at", j->source_deleted_at);
	return d;
}

/* ---- the state machine -------------------------------------------------- */

void
job_set_state(struct job *j, enum job_state s)
{
	j->state = s;
	if (s != JOB_FAILED) {
		j->next_attempt_at = 0;
		j->has_resume_step = false;
	}
	touch(j);
}

void
job_fail(struct job *j, const char *reason, int64_t delay_ms)
{
	if (j->state != JOB_FAILED) {
		j->resume_step = j->state;
		j->has_resume_step = true;
	}
	j->state = JOB_FAILED;
	j->attempts++;
	job_set(&j->last_error, reason);
	if (delay_ms >= 0) {
		j->next_attempt_at = util_now_ms() + delay_ms;
		job_set(&j->error, NULL);
	} else {
		j->next_attempt_at = 0;
		job_set(&j->error, reason);
	}
	touch(j);
}

void
job_resume(struct job *j)
{
	enum job_state s = JOB_QUEUED;

	if (j->state == JOB_QUARANTINED) {
		/* the file changed, or an operator asked: probe again from the
		 * start. Its next webhook is a new delivery (another outcome),
		 * so it gets a new Idempotency-Key: ID.2, ID.3, ... */
		j->generation = j->generation ? j->generation + 1 : 2;
		j->quarantined = false;
		job_set(&j->result, NULL);
		free(j->webhook.body);
		free(j->webhook.delivered_at);
		memset(&j->webhook, 0, sizeof(j->webhook));
		j->has_log_offset = false;
		j->log_offset = 0;
		j->logged = false;
	} else if (j->has_resume_step) {
		s = j->resume_step;
	}
	if (s == JOB_NOTIFYING) {
		j->webhook.first_attempt_at = 0;
		j->webhook.attempts = 0;
	}
	j->attempts = 0;
	job_set(&j->error, NULL);
	job_set_state(j, s);
}

void
job_wake(struct job *j)
{
	job_set_state(j, j->has_resume_step ? j->resume_step : JOB_QUEUED);
}

int64_t
job_due(const struct job *j)
{
	if (job_state_final(j->state))
		return -1;
	if (j->state != JOB_FAILED)
		return 0;
	return j->next_attempt_at > 0 ? j->next_attempt_at : -1;
}
