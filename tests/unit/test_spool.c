/* test_spool.c -- requests (NUL-separated, atomic), job files, the daemon lock. */
#include "unit.h"
#include "base/fsutil.h"
#include "base/util.h"
#include "daemon/job.h"
#include "daemon/request.h"
#include "daemon/spool.h"

#include <dirent.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[] = "/tmp/jp-test-spool-XXXXXX";

static void
request_roundtrip(void)
{
	struct request r = { 0 }, back;
	char buf[REQUEST_MAX];
	int n;

	memcpy(r.kind, "file", 5);
	util_strlcpy(r.path, "/rec/a \"b\"\n\xe2\x9c\x93.mp4", sizeof(r.path));
	util_strlcpy(r.room, "room'; rm -rf /", sizeof(r.room));
	n = request_encode(&r, buf, sizeof(buf));
	CHECK(n > 0);
	CHECK(request_decode(buf, (size_t)n, &back) == 0);
	CHECK_STR(back.kind, "file");
	CHECK_STR(back.path, r.path);
	CHECK_STR(back.room, r.room);
	/* every truncation and a trailing byte are malformed */
	for (int cut = 0; cut < n; cut++)
		CHECK(request_decode(buf, (size_t)cut, &back) < 0);
	buf[n] = 'x';
	CHECK(request_decode(buf, (size_t)n + 1, &back) < 0);
	memcpy(r.kind, "evil", 5);
	n = request_encode(&r, buf, sizeof(buf));
	CHECK(request_decode(buf, (size_t)n, &back) < 0);
}

static bool
dot_or_dotdot(const char *name)
{
	return strcmp(name, ".") == 0 || strcmp(name, "..") == 0;
}

/* Entries of d other than "." and "..". */
static size_t
count_entries(const char *d)
{
	struct dirent *de;
	size_t n = 0;
	DIR *dh = opendir(d);

	while (dh && (de = readdir(dh)) != NULL)
		if (!dot_or_dotdot(de->d_name))
			n++;
	if (dh)
		closedir(dh);
	return n;
}

/* Entries of d that no operation should leave behind (named on stderr
 * when report): temporary files (fsutil's NAME.tmp, an older
 * NAME.tmp-RANDOM, request_write's .NAME), and anything not ending in one
 * of the given suffixes (NULL-terminated). */
static size_t
count_strays(const char *d, bool report, ...)
{
	struct dirent *de;
	const char *suffix;
	size_t n = 0;
	va_list ap;
	bool known;
	DIR *dh = opendir(d);

	while (dh && (de = readdir(dh)) != NULL) {
		if (dot_or_dotdot(de->d_name))
			continue;
		known = false;
		va_start(ap, report);
		while ((suffix = va_arg(ap, const char *)) != NULL)
			if (util_str_has_suffix(de->d_name, suffix))
				known = true;
		va_end(ap);
		if (known && de->d_name[0] != '.' &&
		    strstr(de->d_name, ".tmp") == NULL)
			continue;
		if (report)
			fprintf(stderr, "  stray file %s/%s\n", d, de->d_name);
		n++;
	}
	if (dh)
		closedir(dh);
	return n;
}

/* No stray in d (each one named on stderr); the number of them, quietly. */
#define NO_STRAYS(d, ...) \
	(count_strays((d), true, __VA_ARGS__, (const char *)NULL) == 0)
#define STRAYS(d, ...) \
	count_strays((d), false, __VA_ARGS__, (const char *)NULL)

/* The checker itself: in a scratch directory, each kind of leftover is
 * seen (else the checks below could never fail). */
static void
stray_checker(void)
{
	static const char *const strays[] = {
		"a.json.tmp", ".x.req", "b.json.tmp-Xy12ab", "c.txt",
	};
	char *scratch = xasprintf("%s/scratch", dir), *path;
	size_t i;

	CHECK_INT(fs_mkdirs(scratch, 0750), 0);
	path = xasprintf("%s/a.json", scratch);
	CHECK_INT(fs_write_atomic(path, "{}", 2, 0640, false), 0);
	free(path);
	CHECK_INT(count_entries(scratch), 1);
	CHECK(NO_STRAYS(scratch, ".json"));
	for (i = 0; i < sizeof(strays) / sizeof(strays[0]); i++) {
		path = xasprintf("%s/%s", scratch, strays[i]);
		CHECK_INT(fs_write_atomic(path, "x", 1, 0640, false), 0);
		free(path);
		/* the one just made, and those before it */
		CHECK_INT(STRAYS(scratch, ".json"), i + 1);
	}
	/* a suffix allowed is still a temporary file when it looks like one */
	CHECK_INT(STRAYS(scratch, ".json", ".req", ".txt", ".tmp"), 3);
	CHECK_INT(count_entries(scratch), 5);
	fs_remove_tree(scratch);
	free(scratch);
}

struct seen {
	int n;
	int bad;
	char last[4096];
	int keep;
};

static int
on_request(const struct request *r, const char *name, void *ctx)
{
	struct seen *s = ctx;

	(void)name;
	s->n++;
	util_strlcpy(s->last, r->path, sizeof(s->last));
	return s->keep ? -1 : 0;
}

static void
on_bad(const char *path, const char *why, void *ctx)
{
	struct seen *s = ctx;

	(void)path; (void)why;
	s->bad++;
}

static void
spool_requests(void)
{
	struct spool sp;
	struct request r = { 0 };
	struct seen s = { 0 };
	char err[256], name[128], *bad, *aside;
	int i;

	CHECK(spool_open(&sp, dir, err, sizeof(err)) == 0);
	memcpy(r.kind, "session", 8);
	for (i = 0; i < 3; i++) {
		snprintf(r.path, sizeof(r.path), "/rec/session-%d", i);
		CHECK(request_write(sp.incoming, &r, i == 0, name, sizeof(name)) == 0);
		CHECK(util_str_has_suffix(name, ".req"));
	}
	/* no temporary file is ever left behind: the three requests alone */
	CHECK_INT(count_entries(sp.incoming), 3);
	CHECK(NO_STRAYS(sp.incoming, ".req"));
	bad = xasprintf("%s/garbage.req", sp.incoming);
	CHECK_INT(fs_write_atomic(bad, "not a request", 13, 0640, false), 0);
	CHECK_INT(count_entries(sp.incoming), 4);
	CHECK(NO_STRAYS(sp.incoming, ".req"));
	CHECK_INT(spool_pending_requests(&sp), 4);
	s.keep = 1;
	spool_each_request(&sp, on_request, on_bad, &s);
	CHECK_INT(s.n, 3);
	CHECK_INT(s.bad, 1);
	CHECK_INT(spool_pending_requests(&sp), 3); /* kept; the bad one aside */
	aside = xasprintf("%s.bad", bad);
	CHECK(access(aside, F_OK) == 0);
	CHECK_INT(count_entries(sp.incoming), 4);
	CHECK(NO_STRAYS(sp.incoming, ".req", ".req.bad"));
	s.keep = 0;
	s.n = 0;
	spool_each_request(&sp, on_request, on_bad, &s);
	CHECK_INT(s.n, 3);
	CHECK_STR(s.last, "/rec/session-2");  /* oldest first */
	CHECK_INT(spool_pending_requests(&sp), 0);
	/* only the bad one is left, aside */
	CHECK_INT(count_entries(sp.incoming), 1);
	CHECK(access(aside, F_OK) == 0);
	free(aside);
	free(bad);
	spool_close(&sp);
}

static void
collect(struct job *j, void *ctx)
{
	int *n = ctx;

	(*n)++;
	job_free(j);
}

static void
jobs_and_lock(void)
{
	struct spool sp, other;
	struct job *j, *back;
	char id[33], err[256];
	int n = 0;
	char *junk, *stray;

	CHECK(spool_open(&sp, dir, err, sizeof(err)) == 0);
	job_id_for("sess/room_2025-01-15-10-30-00.mp4", id);
	CHECK_INT(strlen(id), 32);
	j = job_new(id, "/rec/sess/room_2025-01-15-10-30-00.mp4",
	    "sess/room_2025-01-15-10-30-00.mp4", "finalize");
	job_set(&j->room_name, "a \"quoted\"\nroom ✓");
	CHECK(spool_save(&sp, j) == 0);
	back = spool_load(&sp, id);
	CHECK(back != NULL);
	if (back != NULL) {
		CHECK_STR(back->room_name, "a \"quoted\"\nroom ✓");
		CHECK_INT(back->state, JOB_QUEUED);
		job_free(back);
	}
	junk = xasprintf("%s/ffff.json", sp.jobs);
	CHECK_INT(fs_write_atomic(junk, "{", 1, 0640, false), 0);
	spool_each_job(&sp, collect, NULL, &n);
	CHECK_INT(n, 1);
	/* the job and the junk, no temporary file */
	CHECK_INT(count_entries(sp.jobs), 2);
	CHECK(NO_STRAYS(sp.jobs, ".json"));

	/* what a crash leaves (fsutil's ID.json.tmp, an older version's
	 * ID.json.tmp-RANDOM) the lock holder removes: nobody writes them */
	stray = xasprintf("%s/%s.json.tmp", sp.jobs, id);
	CHECK_INT(fs_write_atomic(stray, "{", 1, 0640, false), 0);
	free(stray);
	stray = xasprintf("%s/%s.json.tmp-Ab12Cd", sp.jobs, id);
	CHECK_INT(fs_write_atomic(stray, "{", 1, 0640, false), 0);
	free(stray);
	CHECK_INT(STRAYS(sp.jobs, ".json"), 2);
	CHECK(spool_lock(&sp, err, sizeof(err)) == 0);
	CHECK(NO_STRAYS(sp.jobs, ".json"));
	CHECK_INT(count_entries(sp.jobs), 2);
	CHECK(spool_open(&other, dir, err, sizeof(err)) == 0);
	CHECK(spool_lock(&other, err, sizeof(err)) < 0);
	CHECK(strstr(err, "another jibri-pipeline") != NULL);
	CHECK(spool_locked_by_other(&other));
	spool_close(&sp);
	CHECK(!spool_locked_by_other(&other));
	spool_close(&other);
	job_free(j);
	free(junk);
}

static void
job_states(void)
{
	struct job *j = job_new("0123456789abcdef0123456789abcdef", "/r/a.mp4",
	    "a.mp4", "watcher");
	json_t *doc;

	CHECK_INT(job_due(j), 0);
	job_set_state(j, JOB_STORING);
	job_fail(j, "connection refused", 5000);
	CHECK_INT(j->state, JOB_FAILED);
	CHECK(j->has_resume_step && j->resume_step == JOB_STORING);
	CHECK(job_due(j) > util_now_ms());
	CHECK_INT(j->attempts, 1);
	job_wake(j);
	CHECK_INT(j->state, JOB_STORING);
	CHECK_INT(j->attempts, 1);  /* backoff keeps growing */
	job_set_state(j, JOB_NOTIFYING);
	job_fail(j, "HTTP 400", -1);
	CHECK_INT(job_due(j), -1);
	CHECK_STR(j->error, "HTTP 400");
	job_resume(j);
	CHECK_INT(j->state, JOB_NOTIFYING);
	CHECK_INT(j->attempts, 0);
	CHECK(j->error == NULL);
	job_set_state(j, JOB_DONE);
	CHECK_INT(job_due(j), -1);
	CHECK(job_state_final(JOB_QUARANTINED));
	job_free(j);
	/* not a job: rejected */
	doc = json_loads("{\"id\":\"../../etc\",\"source\":\"x\","
	    "\"state\":\"queued\"}", 0, NULL);
	CHECK(job_from_json(doc) == NULL);
	json_decref(doc);
	doc = json_loads("[]", 0, NULL);
	CHECK(job_from_json(doc) == NULL);
	json_decref(doc);
}

/* A job file written before jobs were typed and pinned loads, and is
 * written back unchanged: every field kept, nothing added. */
static void
job_file_of_an_earlier_version(void)
{
	json_error_t e;
	json_t *doc = json_load_file("fixtures/job-before-pin.json", 0, &e), *out;
	struct job *j;

	CHECK(doc != NULL);
	if (doc == NULL)
		return;
	j = job_from_json(doc);
	CHECK(j != NULL);
	if (j != NULL) {
		CHECK_INT(j->state, JOB_DONE);
		CHECK(!j->pinned);
		CHECK(j->probed && j->source_size == 22462);
		CHECK(j->outputs[JOB_OUT_VIDEO].made && j->objects[JOB_OUT_AUDIO].stored);
		CHECK_STR(j->outputs[JOB_OUT_VIDEO].store_key,
		    "room-a/sess-1/recording.mp4");
		CHECK(j->webhook.disabled);
		out = job_to_json(j);
		CHECK(json_equal(out, doc));
		if (!json_equal(out, doc)) {
			char *a = json_dumps(out, JSON_SORT_KEYS);
			fprintf(stderr, "written back: %s\n", a);
			free(a);
		}
		json_decref(out);
		job_free(j);
	}
	/* keys of a later version are kept as they are */
	json_object_set_new(doc, "from_the_future", json_pack("{s:i}", "x", 1));
	j = job_from_json(doc);
	CHECK(j != NULL);
	if (j != NULL) {
		out = job_to_json(j);
		CHECK(json_equal(out, doc));
		json_decref(out);
		job_free(j);
	}
	json_decref(doc);
}

int
main(void)
{
	static const struct unit_test tests[] = {
		T(stray_checker), T(request_roundtrip), T(spool_requests),
		T(jobs_and_lock), T(job_states), T(job_file_of_an_earlier_version),
	};
	int rc;

	if (mkdtemp(dir) == NULL)
		return 1;
	rc = unit_run("spool", tests, sizeof(tests) / sizeof(tests[0]));
	fs_remove_tree(dir);
	return rc;
}
