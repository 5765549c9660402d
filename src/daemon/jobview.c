/* jobview.c -- a job's summary for `status --json', GET /v1/recordings and the recording ledger. */
#include "daemon/jobview.h"

#include "base/util.h"
#include "store/store.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* How far storing got: outputs stored, and for a multipart upload in
 * progress (store_resume, read through store_progress) its parts; in
 * bytes, the outputs made and what of them is stored (an upload's
 * finished parts counted at its size / parts each). */
static json_t *
jobview_progress(struct job *j)
{
	json_int_t stored = 0, made = 0, bytes_total = 0, bytes_stored = 0;
	json_t *p;
	int o;

	for (o = 0; o < JOB_NOUT; o++) {
		stored += j->objects[o].stored;
		made += j->outputs[o].made;
		if (j->outputs[o].made)
			bytes_total += j->outputs[o].size;
		if (j->objects[o].stored)
			bytes_stored += j->objects[o].size;
	}
	p = json_pack("{s:I, s:I}", "outputs_stored", stored, "outputs_total",
	    made);
	for (o = 0; o < JOB_NOUT; o++) {
		int64_t done, total;

		if (j->store_resume[o] == NULL ||
		    store_progress(j->store_resume[o], &done, &total) < 0)
			continue;
		json_object_set_new(p, "uploading", json_pack("{s:s, s:I, s:I}",
		    "output", job_outputs[o].name, "parts_done", (json_int_t)done,
		    "parts_total", (json_int_t)total));
		if (!j->objects[o].stored && total > 0 && done <= total)
			bytes_stored += j->outputs[o].size / total * done;
	}
	if (bytes_stored > bytes_total)
		bytes_stored = bytes_total;
	json_object_set_new(p, "bytes_stored", json_integer(bytes_stored));
	json_object_set_new(p, "bytes_total", json_integer(bytes_total));
	return p;
}

const char *
jobview_ledger_status(enum job_state st)
{
	switch (st) {
	case JOB_QUEUED:
		return "pending";
	case JOB_DONE:
		return "completed";
	case JOB_FAILED:
	case JOB_QUARANTINED:
		return "failed";
	default:
		return "processing";
	}
}

/* When Jibri started the recording: its file name ends
 * _yyyy-MM-dd-HH-mm-ss.mp4 (Jibri's local time, which is this host's);
 * else when the job was made. ts gets ISO-8601 UTC. */
static const char *
jobview_recorded_at(const struct job *j, char ts[UTIL_ISO_LEN])
{
	const char *base = strrchr(j->rel, '/'), *p;
	struct tm tm;
	time_t t;

	base = base != NULL ? base + 1 : j->rel;
	p = strrchr(base, '_');
	memset(&tm, 0, sizeof(tm));
	if (p != NULL && strlen(p) >= 20 && (p = strptime(p + 1,
	    "%Y-%m-%d-%H-%M-%S", &tm)) != NULL && (*p == '.' || *p == '\0')) {
		tm.tm_isdst = -1;
		if ((t = mktime(&tm)) != (time_t)-1)
			return util_iso8601_ms((int64_t)t * 1000, ts);
	}
	return j->created_at;
}

json_t *
jobview_summary(struct job *j)
{
	json_t *doc = job_to_json(j), *s = json_object();
	json_t *wh = json_object_get(doc, "webhook");
	static const char *const keys[] = { "id", "state", "resume_step",
		"room_name", "session_id", "source", "discovered_by", "attempts",
		"last_error", "error", "result", "quarantined", "no_audio",
		"created_at", "updated_at", "finished_at", "objects",
		"source_deleted_at", "meeting_url", "salvaged", "salvage" };
	char ts[UTIL_ISO_LEN];
	const char *rec;
	size_t i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		json_t *v = json_object_get(doc, keys[i]);
		if (v != NULL && !json_is_null(v))
			json_object_set(s, keys[i], v);
	}
	for (i = 0; i < 2; i++) {
		const char *k = i == 0 ? "last_error" : "error";
		char *e;
		if (!json_is_string(json_object_get(s, k)))
			continue;
		e = util_url_redact(json_string_value(json_object_get(s, k)));
		json_object_set_new(s, k, json_string(e));
		free(e);
	}
	if (j->next_attempt_at > 0)
		json_object_set_new(s, "next_attempt_at", json_string(
		    util_iso8601_ms(j->next_attempt_at, ts)));
	if (json_is_number(json_object_get(j->probe, "duration")))
		json_object_set(s, "duration_seconds",
		    json_object_get(j->probe, "duration"));
	if (j->probed)
		json_object_set_new(s, "source_size",
		    json_integer(j->source_size));
	json_object_set_new(s, "progress", jobview_progress(j));
	if (wh != NULL) {
		json_t *w = json_object();
		json_t *v;
		if ((v = json_object_get(wh, "attempts")) != NULL)
			json_object_set(w, "attempts", v);
		if ((v = json_object_get(wh, "status")) != NULL)
			json_object_set(w, "status", v);
		if ((v = json_object_get(wh, "delivered_at")) != NULL)
			json_object_set(w, "delivered_at", v);
		json_object_set_new(s, "webhook", w);
	}
	if ((rec = jobview_recorded_at(j, ts)) != NULL)
		json_object_set_new(s, "recorded_at", json_string(rec));
	json_object_set_new(s, "ledger_status",
	    json_string(jobview_ledger_status(j->state)));
	json_decref(doc);
	return s;
}

struct jobview_list {
	struct job **v;
	size_t n, cap;
};

static void
jobview_collect(struct job *j, void *ctx)
{
	struct jobview_list *l = ctx;

	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
	}
	l->v[l->n++] = j;
}

static int
jobview_by_created(const void *a, const void *b)
{
	const struct job *x = *(struct job *const *)a;
	const struct job *y = *(struct job *const *)b;
	const char *cx = x->created_at, *cy = y->created_at;

	return strcmp(cx ? cx : "", cy ? cy : "");
}

struct job **
jobview_jobs(const struct spool *sp, size_t *n)
{
	struct jobview_list l = { 0 };

	spool_each_job(sp, jobview_collect, NULL, &l);
	if (l.n > 1)
		qsort(l.v, l.n, sizeof(*l.v), jobview_by_created);
	*n = l.n;
	return l.v;
}

void
jobview_jobs_free(struct job **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		job_free(v[i]);
	free(v);
}

json_t *
jobview_list(const struct spool *sp)
{
	json_t *out = json_array();
	size_t i, n;
	struct job **v = jobview_jobs(sp, &n);

	for (i = 0; i < n; i++)
		json_array_append_new(out, jobview_summary(v[i]));
	jobview_jobs_free(v, n);
	return out;
}

json_t *
jobview_one(const struct spool *sp, const char *id)
{
	struct job *j;
	json_t *s;
	size_t n;

	for (n = 0; id[n] != '\0'; n++)
		if (!((id[n] >= '0' && id[n] <= '9') ||
		    (id[n] >= 'a' && id[n] <= 'f')))
			return NULL;
	if (n != 32 || (j = spool_load(sp, id)) == NULL)
		return NULL;
	s = jobview_summary(j);
	job_free(j);
	return s;
}
