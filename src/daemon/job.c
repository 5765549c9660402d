/* job.c -- one recording: identity, state machine, JSON document on disk. */
#include "daemon/job.h"
#include "base/hash.h"
#include "base/util.h"

#include <string.h>

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

void
job_id_for(const char *rel, char id[33])
{
	char hex[HASH_HEX_LEN];

	hash_sha256_hex(rel, strlen(rel), hex);
	memcpy(id, hex, 32);
	id[32] = '\0';
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

	json_object_set_new(j->doc, "updated_at",
	    json_string(util_iso8601_ms(util_now_ms(), ts)));
}

struct job *
job_new(const char *id, const char *source, const char *rel,
    const char *discovered_by)
{
	struct job *j = xcalloc(1, sizeof(*j));
	char ts[UTIL_ISO_LEN];

	util_strlcpy(j->id, id, sizeof(j->id));
	j->dir = source_dir(source);
	j->doc = json_object();
	json_object_set_new(j->doc, "id", json_string(id));
	json_object_set_new(j->doc, "source", json_string(source));
	json_object_set_new(j->doc, "rel", json_string(rel));
	json_object_set_new(j->doc, "discovered_by", json_string(discovered_by));
	json_object_set_new(j->doc, "created_at",
	    json_string(util_iso8601_ms(util_now_ms(), ts)));
	json_object_set_new(j->doc, "state", json_string("queued"));
	json_object_set_new(j->doc, "attempts", json_integer(0));
	touch(j);
	return j;
}

struct job *
job_from_doc(json_t *doc)
{
	const char *id = json_string_value(json_object_get(doc, "id"));
	enum job_state s;
	struct job *j;

	if (!json_is_object(doc) || id == NULL || strlen(id) != 32 ||
	    strspn(id, "0123456789abcdef") != 32 ||
	    json_string_value(json_object_get(doc, "source")) == NULL ||
	    job_state_parse(json_string_value(json_object_get(doc, "state")),
	    &s) < 0) {
		json_decref(doc);
		return NULL;
	}
	j = xcalloc(1, sizeof(*j));
	memcpy(j->id, id, 33);
	j->doc = doc;
	j->dir = source_dir(json_string_value(json_object_get(doc, "source")));
	return j;
}

void
job_free(struct job *j)
{
	if (j == NULL)
		return;
	json_decref(j->doc);
	free(j->dir);
	free(j);
}

enum job_state
job_state(const struct job *j)
{
	enum job_state s = JOB_FAILED;

	job_state_parse(job_str(j, "state"), &s);
	return s;
}

void
job_set_state(struct job *j, enum job_state s)
{
	json_object_set_new(j->doc, "state", json_string(job_state_name(s)));
	if (s != JOB_FAILED) {
		json_object_del(j->doc, "next_attempt_at");
		json_object_del(j->doc, "resume_step");
	}
	touch(j);
}

const char *
job_str(const struct job *j, const char *key)
{
	return json_string_value(json_object_get(j->doc, key));
}

int64_t
job_int(const struct job *j, const char *key)
{
	return (int64_t)json_integer_value(json_object_get(j->doc, key));
}

bool
job_bool(const struct job *j, const char *key)
{
	return json_is_true(json_object_get(j->doc, key));
}

json_t *
job_obj(struct job *j, const char *key)
{
	json_t *o = json_object_get(j->doc, key);

	if (!json_is_object(o)) {
		o = json_object();
		json_object_set_new(j->doc, key, o);
	}
	return o;
}

void
job_set_str(struct job *j, const char *key, const char *value)
{
	json_object_set_new(j->doc, key, value ? json_string(value) : json_null());
}

void
job_set_int(struct job *j, const char *key, int64_t value)
{
	json_object_set_new(j->doc, key, json_integer(value));
}

void
job_set_bool(struct job *j, const char *key, bool value)
{
	json_object_set_new(j->doc, key, json_boolean(value));
}

void
job_set(struct job *j, const char *key, json_t *value)
{
	json_object_set_new(j->doc, key, value);
}

void
job_fail(struct job *j, const char *reason, int64_t delay_ms)
{
	enum job_state s = job_state(j);

	if (s != JOB_FAILED)
		json_object_set_new(j->doc, "resume_step",
		    json_string(job_state_name(s)));
	json_object_set_new(j->doc, "state", json_string("failed"));
	job_set_int(j, "attempts", job_int(j, "attempts") + 1);
	job_set_str(j, "last_error", reason);
	if (delay_ms >= 0) {
		job_set_int(j, "next_attempt_at", util_now_ms() + delay_ms);
		json_object_del(j->doc, "error");
	} else {
		json_object_del(j->doc, "next_attempt_at");
		job_set_str(j, "error", reason);
	}
	touch(j);
}

void
job_resume(struct job *j)
{
	enum job_state s = JOB_QUEUED;

	if (job_state(j) == JOB_QUARANTINED) {
		/* the file changed, or an operator asked: probe again from the
		 * start. Its next webhook is a new delivery (another outcome),
		 * so it gets a new Idempotency-Key: ID.2, ID.3, ... */
		s = JOB_QUEUED;
		job_set_int(j, "generation", job_int(j, "generation") ?
		    job_int(j, "generation") + 1 : 2);
		json_object_del(j->doc, "quarantined");
		json_object_del(j->doc, "result");
		json_object_del(j->doc, "webhook");
		json_object_del(j->doc, "log_offset");
		json_object_del(j->doc, "logged");
	} else if (job_state_parse(job_str(j, "resume_step"), &s) < 0) {
		s = JOB_QUEUED;
	}
	if (s == JOB_NOTIFYING) {
		json_t *wh = json_object_get(j->doc, "webhook");
		json_object_del(wh, "first_attempt_at");
		json_object_del(wh, "attempts");
	}
	job_set_int(j, "attempts", 0);
	json_object_del(j->doc, "error");
	job_set_state(j, s);
}

void
job_wake(struct job *j)
{
	enum job_state s = JOB_QUEUED;

	job_state_parse(job_str(j, "resume_step"), &s);
	job_set_state(j, s);
}

int64_t
job_due(const struct job *j)
{
	enum job_state s = job_state(j);
	json_t *next;

	if (job_state_final(s))
		return -1;
	if (s != JOB_FAILED)
		return 0;
	next = json_object_get(j->doc, "next_attempt_at");
	return json_is_integer(next) ? (int64_t)json_integer_value(next) : -1;
}
