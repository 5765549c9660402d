/* test_spool.c -- requests (NUL-separated, atomic), job files, the daemon lock. */
#include "unit.h"
#include "base/fsutil.h"
#include "daemon/job.h"
#include "daemon/request.h"
#include "daemon/spool.h"
#include "base/util.h"

#include <dirent.h>
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

static size_t
count_entries(const char *d, const char *prefix)
{
	struct dirent *de;
	size_t n = 0;
	DIR *dh = opendir(d);

	while (dh && (de = readdir(dh)) != NULL)
		if (strncmp(de->d_name, prefix, strlen(prefix)) == 0)
			n++;
	if (dh)
		closedir(dh);
	return n;
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
	char err[256], name[128], *bad;
	int i;

	CHECK(spool_open(&sp, dir, err, sizeof(err)) == 0);
	memcpy(r.kind, "session", 8);
	for (i = 0; i < 3; i++) {
		snprintf(r.path, sizeof(r.path), "/rec/session-%d", i);
		CHECK(request_write(sp.incoming, &r, i == 0, name, sizeof(name)) == 0);
		CHECK(util_str_has_suffix(name, ".req"));
	}
	/* no temporary file is ever left behind */
	CHECK_INT(count_entries(sp.incoming, "."), 2); /* "." and ".." */
	bad = xasprintf("%s/garbage.req", sp.incoming);
	fs_write_atomic(bad, "not a request", 13, 0640, false);
	CHECK_INT(spool_pending_requests(&sp), 4);
	s.keep = 1;
	spool_each_request(&sp, on_request, on_bad, &s);
	CHECK_INT(s.n, 3);
	CHECK_INT(s.bad, 1);
	CHECK_INT(spool_pending_requests(&sp), 3); /* kept; the bad one aside */
	s.keep = 0;
	s.n = 0;
	spool_each_request(&sp, on_request, on_bad, &s);
	CHECK_INT(s.n, 3);
	CHECK_STR(s.last, "/rec/session-2");  /* oldest first */
	CHECK_INT(spool_pending_requests(&sp), 0);
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
	char *junk;

	CHECK(spool_open(&sp, dir, err, sizeof(err)) == 0);
	job_id_for("sess/room_2025-01-15-10-30-00.mp4", id);
	CHECK_INT(strlen(id), 32);
	j = job_new(id, "/rec/sess/room_2025-01-15-10-30-00.mp4",
	    "sess/room_2025-01-15-10-30-00.mp4", "finalize");
	job_set_str(j, "room_name", "a \"quoted\"\nroom ✓");
	CHECK(spool_save(&sp, j) == 0);
	back = spool_load(&sp, id);
	CHECK(back != NULL);
	if (back != NULL) {
		CHECK_STR(job_str(back, "room_name"), "a \"quoted\"\nroom ✓");
		CHECK_INT(job_state(back), JOB_QUEUED);
		job_free(back);
	}
	junk = xasprintf("%s/ffff.json", sp.jobs);
	fs_write_atomic(junk, "{", 1, 0640, false);
	spool_each_job(&sp, collect, NULL, &n);
	CHECK_INT(n, 1);
	CHECK_INT(count_entries(sp.jobs, "."), 2);

	CHECK(spool_lock(&sp, err, sizeof(err)) == 0);
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

	CHECK_INT(job_due(j), 0);
	job_set_state(j, JOB_STORING);
	job_fail(j, "connection refused", 5000);
	CHECK_INT(job_state(j), JOB_FAILED);
	CHECK_STR(job_str(j, "resume_step"), "storing");
	CHECK(job_due(j) > util_now_ms());
	CHECK_INT(job_int(j, "attempts"), 1);
	job_wake(j);
	CHECK_INT(job_state(j), JOB_STORING);
	CHECK_INT(job_int(j, "attempts"), 1);  /* backoff keeps growing */
	job_set_state(j, JOB_NOTIFYING);
	job_fail(j, "HTTP 400", -1);
	CHECK_INT(job_due(j), -1);
	CHECK_STR(job_str(j, "error"), "HTTP 400");
	job_resume(j);
	CHECK_INT(job_state(j), JOB_NOTIFYING);
	CHECK_INT(job_int(j, "attempts"), 0);
	CHECK(job_str(j, "error") == NULL);
	job_set_state(j, JOB_DONE);
	CHECK_INT(job_due(j), -1);
	CHECK(job_state_final(JOB_QUARANTINED));
	job_free(j);
	/* not a job: rejected */
	CHECK(job_from_doc(json_loads("{\"id\":\"../../etc\",\"source\":\"x\","
	    "\"state\":\"queued\"}", 0, NULL)) == NULL);
	CHECK(job_from_doc(json_loads("[]", 0, NULL)) == NULL);
}

int
main(void)
{
	static const struct unit_test tests[] = {
		T(request_roundtrip), T(spool_requests), T(jobs_and_lock),
		T(job_states),
	};
	int rc;

	if (mkdtemp(dir) == NULL)
		return 1;
	rc = unit_run("spool", tests, sizeof(tests) / sizeof(tests[0]));
	fs_remove_tree(dir);
	return rc;
}
