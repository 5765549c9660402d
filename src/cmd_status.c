/* cmd_status.c -- jibri-pipeline status: the queue, read from the job files (works with the daemon stopped). */
#include "commands.h"
#include "config.h"
#include "job.h"
#include "spool.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct list {
	struct job **v;
	size_t n, cap;
};

static void
collect(struct job *j, void *ctx)
{
	struct list *l = ctx;

	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
	}
	l->v[l->n++] = j;
}

static int
by_created(const void *a, const void *b)
{
	const struct job *x = *(struct job *const *)a;
	const struct job *y = *(struct job *const *)b;
	const char *cx = job_str(x, "created_at"), *cy = job_str(y, "created_at");

	return strcmp(cx ? cx : "", cy ? cy : "");
}

/* How far storing got: outputs stored, and for a multipart upload in
 * progress (store_resume, see store_s3.c) its parts. */
static json_t *
progress(struct job *j)
{
	json_t *p = json_pack("{s:I, s:I}", "outputs_stored",
	    (json_int_t)json_object_size(json_object_get(j->doc, "objects")),
	    "outputs_total",
	    (json_int_t)json_object_size(json_object_get(j->doc, "outputs")));
	json_t *r;
	const char *name;

	json_object_foreach(json_object_get(j->doc, "store_resume"), name, r) {
		json_int_t size = json_integer_value(json_object_get(r, "size"));
		json_int_t part = json_integer_value(json_object_get(r,
		    "part_size"));
		if (part <= 0 || !json_is_array(json_object_get(r, "parts")))
			continue;
		json_object_set_new(p, "uploading", json_pack("{s:s, s:I, s:I}",
		    "output", name, "parts_done", (json_int_t)json_array_size(
		    json_object_get(r, "parts")), "parts_total",
		    (json_int_t)((size + part - 1) / part)));
	}
	return p;
}

/* What status shows of a job (also the JSON of `status --json`). */
static json_t *
summary(struct job *j)
{
	json_t *s = json_object(), *wh = json_object_get(j->doc, "webhook");
	static const char *const keys[] = { "id", "state", "resume_step",
		"room_name", "session_id", "source", "discovered_by", "attempts",
		"last_error", "error", "result", "quarantined", "no_audio",
		"created_at", "updated_at", "finished_at", "objects",
		"source_deleted_at" };
	char ts[UTIL_ISO_LEN];
	size_t i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		json_t *v = json_object_get(j->doc, keys[i]);
		if (v != NULL && !json_is_null(v))
			json_object_set(s, keys[i], v);
	}
	if (json_is_integer(json_object_get(j->doc, "next_attempt_at")))
		json_object_set_new(s, "next_attempt_at", json_string(
		    util_iso8601_ms(job_int(j, "next_attempt_at"), ts)));
	json_object_set_new(s, "progress", progress(j));
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
	return s;
}

static void
print_line(struct job *j)
{
	enum job_state st = job_state(j);
	const char *room = job_str(j, "room_name");
	char info[400] = "", ts[UTIL_ISO_LEN];
	json_t *wh = json_object_get(j->doc, "webhook");

	if (st == JOB_FAILED && json_is_integer(json_object_get(j->doc,
	    "next_attempt_at")))
		snprintf(info, sizeof(info), "%s: retry %lld at %s: %.200s",
		    job_str(j, "resume_step"), (long long)job_int(j, "attempts"),
		    util_iso8601_ms(job_int(j, "next_attempt_at"), ts),
		    job_str(j, "last_error") ? job_str(j, "last_error") : "");
	else if (st == JOB_FAILED)
		snprintf(info, sizeof(info), "%s: %.250s (jibri-pipeline retry "
		    "%.12s)", job_str(j, "resume_step"), job_str(j, "error") ?
		    job_str(j, "error") : "", j->id);
	else if (st == JOB_QUARANTINED)
		snprintf(info, sizeof(info), "%.300s", job_str(j, "error") ?
		    job_str(j, "error") : "");
	else if (st == JOB_DONE)
		snprintf(info, sizeof(info), "%zu objects, webhook %s",
		    json_object_size(json_object_get(j->doc, "objects")),
		    json_is_integer(json_object_get(wh, "status")) ?
		    "acknowledged" : "disabled");
	else if (st == JOB_STORING) {
		json_t *p = progress(j), *up = json_object_get(p, "uploading");
		snprintf(info, sizeof(info), "%lld/%lld outputs stored%s%s%s",
		    (long long)json_integer_value(json_object_get(p,
		    "outputs_stored")), (long long)json_integer_value(
		    json_object_get(p, "outputs_total")), up ? ", " : "",
		    up ? json_string_value(json_object_get(up, "output")) : "",
		    up ? " uploading" : "");
		if (up != NULL)
			snprintf(info + strlen(info), sizeof(info) - strlen(info),
			    " part %lld/%lld", (long long)json_integer_value(
			    json_object_get(up, "parts_done")),
			    (long long)json_integer_value(json_object_get(up,
			    "parts_total")));
		json_decref(p);
	}
	printf("%-12.12s  %-11s  %-24.24s  %-8.8s  %s\n", j->id,
	    job_state_name(st), room ? room : "-",
	    job_str(j, "session_id") ? job_str(j, "session_id") : "-", info);
}

int
status_main(int argc, char **argv)
{
	struct list l = { 0 };
	struct config *cfg;
	struct spool sp;
	bool as_json = false, all = false;
	size_t i, pending, shown = 0, counts[JOB_QUARANTINED + 1] = { 0 };
	int a, running;

	for (a = 1; a < argc; a++) {
		if (strcmp(argv[a], "--json") == 0)
			as_json = true;
		else if (strcmp(argv[a], "--all") == 0)
			all = true;
		else {
			fprintf(stderr, "usage: jibri-pipeline [-c ENV_FILE] status "
			    "[--json] [--all]\n");
			return 2;
		}
	}
	cfg = cmd_open_spool(&sp);
	if (cfg == NULL)
		return 1;
	spool_each_job(&sp, collect, NULL, &l);
	if (l.n > 1)
		qsort(l.v, l.n, sizeof(*l.v), by_created);
	pending = spool_pending_requests(&sp);
	running = spool_locked_by_other(&sp);
	for (i = 0; i < l.n; i++)
		counts[job_state(l.v[i])]++;

	if (as_json) {
		json_t *out = json_object(), *jobs = json_array(), *c = json_object();
		char *text;
		for (i = 0; i < l.n; i++)
			json_array_append_new(jobs, summary(l.v[i]));
		for (i = 0; i <= JOB_QUARANTINED; i++)
			json_object_set_new(c, job_state_name((enum job_state)i),
			    json_integer((json_int_t)counts[i]));
		json_object_set_new(out, "daemon_running", json_boolean(running));
		json_object_set_new(out, "state_dir", json_string(cfg->state_dir));
		json_object_set_new(out, "pending_requests",
		    json_integer((json_int_t)pending));
		json_object_set_new(out, "counts", c);
		json_object_set_new(out, "jobs", jobs);
		text = json_dumps(out, JSON_INDENT(2));
		printf("%s\n", text);
		free(text);
		json_decref(out);
	} else {
		printf("daemon: %s; %zu jobs (%zu done, %zu failed, %zu "
		    "quarantined); %zu requests waiting in %s\n",
		    running ? "running" : "stopped", l.n, counts[JOB_DONE],
		    counts[JOB_FAILED], counts[JOB_QUARANTINED], pending,
		    sp.incoming);
		if (l.n > 0)
			printf("\n%-12s  %-11s  %-24s  %-8s  %s\n", "ID", "STATE",
			    "ROOM", "SESSION", "INFO");
		/* finished jobs pile up: show the unfinished, then the last 20 */
		for (i = 0; i < l.n; i++) {
			enum job_state s = job_state(l.v[i]);
			if (all || s != JOB_DONE || i + 20 >= l.n) {
				print_line(l.v[i]);
				shown++;
			}
		}
		if (shown < l.n)
			printf("(%zu older finished jobs not shown: --all)\n",
			    l.n - shown);
	}
	for (i = 0; i < l.n; i++)
		job_free(l.v[i]);
	free(l.v);
	spool_close(&sp);
	config_unref(cfg);
	return 0;
}
