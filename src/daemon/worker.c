/* worker.c -- the daemon: worker threads, dispatch, timers, signals (admission is intake.c). */
#include "daemon/worker.h"
#include "api/api.h"
#include "base/fsutil.h"
#include "base/log.h"
#include "base/metrics.h"
#include "base/util.h"
#include "daemon/intake.h"
#include "daemon/job.h"
#include "daemon/jobtab.h"
#include "daemon/jobview.h"
#include "daemon/pipeline.h"
#include "daemon/spool.h"
#include "daemon/watch.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <systemd/sd-daemon.h>

#define SWEEP_INTERVAL_MS (60 * 1000)
/* RECORDINGS_DIR's free space is looked at this often (statvfs) */
#define DISK_INTERVAL_MS (10 * 1000)
/* job files past JOB_RETENTION are looked for this often */
#define RETENTION_INTERVAL_MS (3600 * 1000)
/* "nothing to delete" is said at most this often */
#define DISK_WARN_INTERVAL_MS (10 * 60 * 1000)
#define WATCH_REOPEN_MS (10 * 1000)

struct daemon {
	struct jobtab tab;           /* its mutex guards the table, the queue,
	                                busy and cfg (but cfg reads by the main
	                                thread) */
	struct intake in;            /* the doors' rules */
	pthread_cond_t cv;
	struct config *cfg;          /* current; workers take a reference */
	const char *config_path;
	struct spool sp;
	struct watch *watch;
	char *root;                  /* realpath of RECORDINGS_DIR, or NULL */
	int64_t watch_retry_at;      /* monotonic ms: try to open the watcher */
	int sigfd, wakefd, infd;

	struct job **queue;          /* handed to workers, FIFO */
	size_t qlen, qcap;
	pthread_t *threads;
	int nthreads;
	int busy;                    /* jobs a worker holds */
	atomic_bool stopping;
	int64_t next_sweep;          /* monotonic ms */
	int64_t next_disk, next_retention, disk_warned;
	atomic_bool disk_full;       /* below DISK_MIN_FREE with nothing
	                                finished to delete (health says so) */
	int64_t watchdog_usec;
	int64_t next_watchdog;

	struct api *api;             /* the HTTP endpoint, or NULL */
	pthread_rwlock_t api_lock;   /* workers reach api under it (read) */
	/* recordings the endpoint hands over, admitted by the main thread
	 * (which owns the watcher and RECORDINGS_DIR) */
	pthread_mutex_t adm_mu;
	pthread_cond_t adm_cv;
	struct admission *adm_head;
	bool doors_closed;
};

struct admission {
	const char *path, *room;
	char id[33];
	char why[700];
	int rc;
	bool done;
	struct admission *next;
};

static void
wake_main(struct daemon *d)
{
	uint64_t one = 1;

	if (write(d->wakefd, &one, sizeof(one)) < 0) {
		/* the counter is full: the main loop is awake anyway */
	}
}

/* ---- what the pipeline tells the endpoint --------------------------- */

static void
job_changed(void *ctx)
{
	struct daemon *d = ctx;

	pthread_rwlock_rdlock(&d->api_lock);
	api_job_changed(d->api);
	pthread_rwlock_unlock(&d->api_lock);
}

static json_t *
participants(void *ctx, const char *room, const char *meeting_url,
    int64_t from, int64_t to)
{
	struct daemon *d = ctx;
	json_t *p;

	pthread_rwlock_rdlock(&d->api_lock);
	p = api_participants(d->api, room, meeting_url, from, to);
	pthread_rwlock_unlock(&d->api_lock);
	return p;
}

/* GET /v1/recordings: the job files, as `status --json' reads them */
static json_t *
http_recordings(void *ctx, const char *id)
{
	struct daemon *d = ctx;

	return id == NULL ? jobview_list(&d->sp) : jobview_one(&d->sp, id);
}

/* ---- what /metrics shows of the pipeline -------------------------------- */

/* The metrics' state and kind labels are the job table's own names. */
static const char *metric_states[JOB_QUARANTINED + 1];
static const char *metric_kinds[JOB_NOUT];

static void
metrics_tables(void)
{
	int i;

	for (i = 0; i <= JOB_QUARANTINED; i++)
		metric_states[i] = job_state_name((enum job_state)i);
	for (i = 0; i < JOB_NOUT; i++)
		metric_kinds[i] = job_outputs[i].name;
	metrics_dim_set(METRICS_DIM_STATE, metric_states, JOB_QUARANTINED + 1);
	metrics_dim_set(METRICS_DIM_KIND, metric_kinds, JOB_NOUT);
}

/* At each scrape (any thread): jobs by state; the spool's depth, requests
 * waiting plus jobs that go on by themselves (job_due: not final, not
 * failed for good); the age of the oldest of those. */
static void
collect_jobs(void *ctx)
{
	struct daemon *d = ctx;
	size_t by_state[JOB_QUARANTINED + 1] = { 0 }, pending = 0, i;
	char oldest[UTIL_ISO_LEN] = "";
	double age = 0;
	struct tm tm;
	time_t t;

	pthread_mutex_lock(&d->tab.mu);
	for (i = 0; i < d->tab.n; i++) {
		const struct job *j = d->tab.v[i];
		if ((unsigned)j->state <= JOB_QUARANTINED)
			by_state[j->state]++;
		if (job_due(j) < 0)
			continue;
		pending++;
		if (j->created_at != NULL && (oldest[0] == '\0' ||
		    strcmp(j->created_at, oldest) < 0))
			util_strlcpy(oldest, j->created_at, sizeof(oldest));
	}
	pthread_mutex_unlock(&d->tab.mu);
	for (i = 0; i <= JOB_QUARANTINED; i++)
		metrics_set(METRIC_JOBS, i, (double)by_state[i]);
	metrics_set(METRIC_SPOOL_DEPTH, 0,
	    (double)(spool_pending_requests(&d->sp) + pending));
	memset(&tm, 0, sizeof(tm));
	if (oldest[0] != '\0' && strptime(oldest, "%Y-%m-%dT%H:%M:%S", &tm) !=
	    NULL && (t = timegm(&tm)) != (time_t)-1)
		age = (double)util_now_ms() / 1000.0 - (double)t;
	metrics_set(METRIC_OLDEST_PENDING, 0, age > 0 ? age : 0);
}

/* ---- workers ----------------------------------------------------------- */

static void *
worker_thread(void *arg)
{
	struct daemon *d = arg;
	struct pipeline_ctx ctx;
	struct job *j;

	pthread_mutex_lock(&d->tab.mu);
	for (;;) {
		while (d->qlen == 0 && !atomic_load(&d->stopping))
			pthread_cond_wait(&d->cv, &d->tab.mu);
		if (atomic_load(&d->stopping))
			break;
		j = d->queue[0];
		memmove(d->queue, d->queue + 1, --d->qlen * sizeof(*d->queue));
		ctx.cfg = config_ref(d->cfg);
		ctx.sp = &d->sp;
		ctx.stopping = &d->stopping;
		ctx.changed = job_changed;
		ctx.participants = participants;
		ctx.hooks = d;
		pthread_mutex_unlock(&d->tab.mu);

		pipeline_run(&ctx, j);
		config_unref(ctx.cfg);

		pthread_mutex_lock(&d->tab.mu);
		j->running = false;
		d->busy--;
		wake_main(d);
	}
	pthread_mutex_unlock(&d->tab.mu);
	return NULL;
}

/* Hand due jobs to idle workers, oldest first. Returns the ms until the
 * next job becomes due (-1: none). Main thread. */
static int64_t
dispatch(struct daemon *d)
{
	int64_t now = util_now_ms(), next = -1, due;
	size_t i;

	pthread_mutex_lock(&d->tab.mu);
	for (i = 0; i < d->tab.n; i++) {
		struct job *j = d->tab.v[i];
		if (j->running)
			continue;
		due = job_due(j);
		if (due < 0)
			continue;
		if (due > now) {
			if (next < 0 || due - now < next)
				next = due - now;
			continue;
		}
		if (d->busy >= d->nthreads || atomic_load(&d->stopping))
			continue;
		if (d->qlen == d->qcap) {
			d->qcap = d->qcap ? d->qcap * 2 : 16;
			d->queue = xrealloc(d->queue, d->qcap * sizeof(*d->queue));
		}
		j->running = true;
		d->busy++;
		d->queue[d->qlen++] = j;
		pthread_cond_signal(&d->cv);
	}
	pthread_mutex_unlock(&d->tab.mu);
	return next;
}

/* ---- the doors ------------------------------------------------------- */

static void
watcher_take(const char *path, void *ctx)
{
	struct daemon *d = ctx;

	intake_file(&d->in, path, NULL, "watcher", NULL);
}

/* A request named path: the watcher need not wait for it any more. */
static void
request_taken(const char *path, void *ctx)
{
	struct daemon *d = ctx;

	if (d->watch != NULL)
		watch_forget(d->watch, path);
}

/* The endpoint's door (any thread): hand path to the main thread and
 * wait for its answer. */
static int
http_admit(void *ctx, const char *path, const char *room, char id[33],
    char *why, size_t whylen)
{
	struct daemon *d = ctx;
	struct admission a = { .path = path, .room = room };

	pthread_mutex_lock(&d->adm_mu);
	if (d->doors_closed) {
		pthread_mutex_unlock(&d->adm_mu);
		return 1;
	}
	a.next = d->adm_head;
	d->adm_head = &a;
	wake_main(d);
	while (!a.done)
		pthread_cond_wait(&d->adm_cv, &d->adm_mu);
	pthread_mutex_unlock(&d->adm_mu);
	if (a.rc == 0)
		memcpy(id, a.id, sizeof(a.id));
	else
		snprintf(why, whylen, "%s", a.why);
	return a.rc;
}

/* The part of path below RECORDINGS_DIR, named either as configured
 * (which may itself be a symlink, e.g. to a data disk) or resolved;
 * NULL when path is not below it or climbs out with "..". */
static const char *
below_recordings(struct daemon *d, const char *path)
{
	const char *dirs[2] = { d->root, d->cfg->recordings_dir }, *rel, *p;
	size_t i, n;

	for (i = 0; i < 2; i++) {
		n = strlen(dirs[i]);
		while (n > 1 && dirs[i][n - 1] == '/')
			n--;
		if (strncmp(path, dirs[i], n) != 0 || path[n] != '/')
			continue;
		rel = path + n;
		while (*rel == '/')
			rel++;
		for (p = rel; *p != '\0'; p += strcspn(p, "/"), p += *p == '/')
			if (strncmp(p, "..", 2) == 0 && (p[2] == '/' ||
			    p[2] == '\0'))
				return NULL;
		return *rel != '\0' ? rel : NULL;
	}
	return NULL;
}

/* Admit one recording the endpoint named, as jibri-finalize FILE ROOM
 * would have it admitted; but the path must name it below
 * RECORDINGS_DIR without a symlink (intake's pin refuses one). Main
 * thread. */
static void
admit_one(struct daemon *d, struct admission *a)
{
	struct intake_result res;
	const char *rel;
	char *real;

	a->rc = -1;
	if (d->root == NULL) {
		(void)util_snprintf(a->why, sizeof(a->why), "recording_file: "
		    "RECORDINGS_DIR (%s) is missing", d->cfg->recordings_dir);
		return;
	}
	if (a->path[0] != '/' || (rel = below_recordings(d, a->path)) == NULL) {
		(void)util_snprintf(a->why, sizeof(a->why), "recording_file: "
		    "`%s' is not a file inside RECORDINGS_DIR (%s)", a->path,
		    d->cfg->recordings_dir);
		return;
	}
	real = xasprintf("%s%s%s", d->root, strcmp(d->root, "/") ? "/" : "",
	    rel);
	request_taken(real, d);
	if (intake_file(&d->in, real, a->room, "http", &res) < 0) {
		(void)util_snprintf(a->why, sizeof(a->why), "recording_file: "
		    "`%s': %s", a->path, res.why);
		free(real);
		return;
	}
	free(real);
	memcpy(a->id, res.id, sizeof(a->id));
	a->rc = 0;
}

static void
take_admissions(struct daemon *d)
{
	struct admission *list, *a, *rev = NULL;

	pthread_mutex_lock(&d->adm_mu);
	list = d->adm_head;
	d->adm_head = NULL;
	pthread_mutex_unlock(&d->adm_mu);
	if (list == NULL)
		return;
	/* oldest first */
	while (list != NULL) {
		a = list;
		list = list->next;
		a->next = rev;
		rev = a;
	}
	for (a = rev; a != NULL; a = a->next)
		admit_one(d, a);
	pthread_mutex_lock(&d->adm_mu);
	for (a = rev; a != NULL; ) {
		struct admission *next = a->next;
		a->done = true;
		a = next;
	}
	pthread_cond_broadcast(&d->adm_cv);
	pthread_mutex_unlock(&d->adm_mu);
}

/* No more admissions: the waiting ones are answered "stopping". */
static void
close_doors(struct daemon *d)
{
	struct admission *a, *next;

	pthread_mutex_lock(&d->adm_mu);
	d->doors_closed = true;
	for (a = d->adm_head; a != NULL; a = next) {
		next = a->next;
		a->rc = 1;
		a->done = true;
	}
	d->adm_head = NULL;
	pthread_cond_broadcast(&d->adm_cv);
	pthread_mutex_unlock(&d->adm_mu);
}

static void
bad_request(const char *path, const char *why, void *ctx)
{
	(void)ctx;
	log_warn("malformed request moved aside", "path", path, "error", why);
}

static void
take_requests(struct daemon *d)
{
	spool_each_request(&d->sp, intake_request, bad_request, &d->in);
}

/* ---- RECORDINGS_DIR ---------------------------------------------------- */

static void
open_watch(struct daemon *d)
{
	char err[512], real[PATH_MAX];

	watch_close(d->watch);
	d->watch = NULL;
	free(d->root);
	d->root = NULL;
	d->in.root = NULL;
	if (realpath(d->cfg->recordings_dir, real) == NULL) {
		log_error("RECORDINGS_DIR missing: retrying every 10 s", "dir",
		    d->cfg->recordings_dir, "error", strerror(errno));
		d->watch_retry_at = util_mono_ms() + WATCH_REOPEN_MS;
		return;
	}
	d->root = xstrdup(real);
	d->in.root = d->root;
	d->watch = watch_open(real, d->cfg->stable_seconds * 1000, err,
	    sizeof(err));
	if (d->watch == NULL) {
		log_error("cannot watch RECORDINGS_DIR: retrying every 10 s",
		    "error", err);
		d->watch_retry_at = util_mono_ms() + WATCH_REOPEN_MS;
		return;
	}
	log_info("watching recordings", "dir", real);
}

/* A finished job whose source is gone can never be asked about again by
 * a door: it leaves the table, which would otherwise grow for ever. */
static bool
prunable(const struct job *j)
{
	struct stat st;

	if (j->running || !job_state_final(j->state))
		return false;
	if (j->source_deleted_at != NULL)
		return true;
	return lstat(j->source, &st) < 0 && errno == ENOENT;
}

/* ---- a disk that never fills ----------------------------------------- */

static int
by_finished(const void *a, const void *b)
{
	const struct job *x = *(struct job *const *)a;
	const struct job *y = *(struct job *const *)b;

	return x->finished_at_ms < y->finished_at_ms ? -1 :
	    x->finished_at_ms > y->finished_at_ms;
}

/* Bytes free on RECORDINGS_DIR and the least DISK_MIN_FREE allows; -1
 * when statvfs fails. */
static int
disk_room(struct daemon *d, uint64_t *avail, uint64_t *min)
{
	struct statvfs sv;

	if (statvfs(d->cfg->recordings_dir, &sv) < 0)
		return -1;
	*avail = (uint64_t)sv.f_bavail * sv.f_frsize;
	*min = d->cfg->disk_min_free_bytes ? d->cfg->disk_min_free_bytes :
	    (uint64_t)sv.f_blocks * sv.f_frsize / 100 *
	    (uint64_t)d->cfg->disk_min_free_pct;
	return 0;
}

/*
 * Below DISK_MIN_FREE on RECORDINGS_DIR: delete the sources of finished
 * recordings (objects verified, webhook acknowledged or disabled), oldest
 * first, until it is above; KEEP_LOCAL=keep notwithstanding, since a full
 * disk fails Jibri's next recording. Never a recording not finished, a
 * quarantined one or a salvaged original (pipeline_delete_source says no
 * to those too). Nothing to delete: a warning, and health says so.
 */
static void
disk_policy(struct daemon *d)
{
	uint64_t avail, min;
	struct job **v;
	size_t i, n = 0;
	char a[32], m[32];
	bool freed = false;

	if (disk_room(d, &avail, &min) < 0 || avail >= min) {
		atomic_store(&d->disk_full, false);
		return;
	}
	pthread_mutex_lock(&d->tab.mu);
	v = xcalloc(d->tab.n + 1, sizeof(*v));
	for (i = 0; i < d->tab.n; i++) {
		struct job *j = d->tab.v[i];
		if (j->running || j->state != JOB_DONE || j->salvaged ||
		    j->quarantined || j->source_deleted_at != NULL)
			continue;
		j->running = true;
		v[n++] = j;
	}
	pthread_mutex_unlock(&d->tab.mu);
	if (n > 1)
		qsort(v, n, sizeof(*v), by_finished);
	for (i = 0; i < n && avail < min; i++) {
		if (pipeline_delete_source(v[i]) <= 0)
			continue;
		spool_save(&d->sp, v[i]);
		freed = true;
		metrics_count(METRIC_DISK_DELETIONS);
		log_warn("RECORDINGS_DIR below DISK_MIN_FREE: deleted a finished "
		    "recording's source (stored and announced)", "id", v[i]->id,
		    "source", v[i]->source, "free_bytes", log_i64(a,
		    (int64_t)avail), "min_free_bytes", log_i64(m, (int64_t)min));
		if (disk_room(d, &avail, &min) < 0)
			break;
	}
	pthread_mutex_lock(&d->tab.mu);
	for (i = 0; i < n; i++)
		v[i]->running = false;
	pthread_mutex_unlock(&d->tab.mu);
	free(v);
	atomic_store(&d->disk_full, avail < min);
	if (avail < min && util_mono_ms() - d->disk_warned >=
	    DISK_WARN_INTERVAL_MS) {
		d->disk_warned = util_mono_ms();
		log_warn(freed ? "RECORDINGS_DIR still below DISK_MIN_FREE after "
		    "deleting every finished source: Jibri's next recording "
		    "may fail" : "RECORDINGS_DIR below DISK_MIN_FREE and no "
		    "finished recording to delete: Jibri's next recording may "
		    "fail", "dir", d->cfg->recordings_dir, "free_bytes",
		    log_i64(a, (int64_t)avail), "min_free_bytes",
		    log_i64(m, (int64_t)min));
	}
}

/* Job files of finished jobs whose source is gone, older than
 * JOB_RETENTION: removed (not in the table any more: prunable). */
struct retention {
	struct daemon *d;
	int64_t before;              /* finished before this (ms) */
	size_t removed;
};

static void
retention_one(struct job *j, void *ctx)
{
	struct retention *r = ctx;
	struct stat st;

	if (job_state_final(j->state) && j->finished_at_ms > 0 &&
	    j->finished_at_ms < r->before && (j->source_deleted_at != NULL ||
	    (lstat(j->source, &st) < 0 && errno == ENOENT)) &&
	    jobtab_find(&r->d->tab, j->id) == NULL &&
	    spool_forget(&r->d->sp, j->id) == 0)
		r->removed++;
	job_free(j);
}

static void
retention_sweep(struct daemon *d)
{
	struct retention r = { d, util_now_ms() - d->cfg->job_retention *
	    1000, 0 };
	char n[24];

	spool_each_job(&d->sp, retention_one, NULL, &r);
	if (r.removed > 0)
		log_info("finished jobs past JOB_RETENTION removed", "jobs",
		    log_i64(n, (int64_t)r.removed));
}

static int
door_disk_full(void *ctx)
{
	struct daemon *d = ctx;

	return atomic_load(&d->disk_full) ? 1 : 0;
}

/* Every SWEEP_INTERVAL: KEEP_LOCAL=<age> deletes the sources of completed
 * jobs once old enough (claimed while it deletes and saves, outside the
 * lock); finished jobs without a source are pruned. */
static void
sweep(struct daemon *d)
{
	int64_t now = util_now_ms();
	struct job **due = NULL;
	size_t i, n = 0;

	pthread_mutex_lock(&d->tab.mu);
	if (d->cfg->keep_local == KEEP_AGE)
		due = xcalloc(d->tab.n + 1, sizeof(*due));
	for (i = 0; due != NULL && i < d->tab.n; i++) {
		struct job *j = d->tab.v[i];
		if (j->running || j->state != JOB_DONE ||
		    j->source_deleted_at != NULL ||
		    j->finished_at_ms + d->cfg->keep_local_age * 1000 >
		    now)
			continue;
		j->running = true;
		due[n++] = j;
	}
	pthread_mutex_unlock(&d->tab.mu);
	for (i = 0; i < n; i++)
		if (pipeline_delete_source(due[i]) > 0)
			spool_save(&d->sp, due[i]);
	pthread_mutex_lock(&d->tab.mu);
	for (i = 0; i < n; i++)
		due[i]->running = false;
	for (i = 0; i < d->tab.n; ) {
		if (prunable(d->tab.v[i]))
			jobtab_remove_at(&d->tab, i);
		else
			i++;
	}
	pthread_mutex_unlock(&d->tab.mu);
	free(due);
}

static bool
same_str(const char *a, const char *b)
{
	return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static void
reload(struct daemon *d)
{
	struct config_msgs errors = { 0 }, warnings = { 0 };
	struct config *cfg, *old;
	size_t i;

	cfg = config_load(d->config_path, &errors, &warnings);
	for (i = 0; i < warnings.n; i++)
		log_warn("configuration", "warning", warnings.v[i]);
	for (i = 0; i < errors.n; i++)
		log_error("configuration not reloaded", "error", errors.v[i]);
	config_msgs_free(&errors);
	config_msgs_free(&warnings);
	if (cfg == NULL)
		return;
	if (strcmp(cfg->state_dir, d->cfg->state_dir) != 0)
		log_warn("STATE_DIR changes need a restart; keeping the old one",
		    "state_dir", d->cfg->state_dir);
	if (cfg->workers != d->cfg->workers)
		log_warn("WORKERS changes need a restart");
	if (!same_str(cfg->listen, d->cfg->listen) ||
	    !same_str(cfg->database_url, d->cfg->database_url))
		log_warn("LISTEN and DATABASE_URL changes need a restart; the "
		    "endpoint keeps the old ones (tokens and secrets are "
		    "reloaded)");
	pthread_mutex_lock(&d->tab.mu);
	old = d->cfg;
	d->cfg = cfg;
	pthread_mutex_unlock(&d->tab.mu);
	log_setup(cfg->log_format, cfg->log_level);
	if (strcmp(old->recordings_dir, cfg->recordings_dir) != 0 ||
	    old->stable_seconds != cfg->stable_seconds)
		open_watch(d);
	api_reload(d->api, cfg);
	config_unref(old);
	log_info("configuration reloaded", "source", cfg->source);
}

static void
notify_status(struct daemon *d)
{
	size_t i, waiting = 0, failed = 0, done = 0;
	char status[200];

	pthread_mutex_lock(&d->tab.mu);
	for (i = 0; i < d->tab.n; i++) {
		enum job_state s;
		if (d->tab.v[i]->running)
			continue;
		s = d->tab.v[i]->state;
		if (s == JOB_FAILED)
			failed++;
		else if (job_state_final(s))
			done++;
		else
			waiting++;
	}
	snprintf(status, sizeof(status), "STATUS=%d processing, %zu waiting, "
	    "%zu failed, %zu finished%s", d->busy, waiting, failed, done,
	    d->watch ? "" : "; RECORDINGS_DIR not watched");
	pthread_mutex_unlock(&d->tab.mu);
	sd_notify(0, status);
}

/* ---- set-up and the loop ----------------------------------------------- */

static void
load_job(struct job *j, void *ctx)
{
	struct daemon *d = ctx;

	if (jobtab_find(&d->tab, j->id) != NULL) {
		job_free(j);
		return;
	}
	jobtab_add(&d->tab, j);
}

static void
bad_job(const char *path, const char *why, void *ctx)
{
	(void)ctx;
	log_error("unreadable job file skipped (its recording is kept)",
	    "path", path, "error", why);
}

static int
setup(struct daemon *d, struct config *cfg, const char *config_path)
{
	struct api_doors doors;
	char err[512];
	sigset_t mask;
	int i;
	uint64_t usec = 0;

	memset(d, 0, sizeof(*d));
	jobtab_init(&d->tab);
	pthread_cond_init(&d->cv, NULL);
	d->cfg = cfg;
	d->config_path = config_path;
	d->sigfd = d->wakefd = d->infd = -1;
	d->in = (struct intake){ .tab = &d->tab, .sp = &d->sp,
	    .taken = request_taken, .ctx = d };
	atomic_init(&d->stopping, false);
	pthread_mutex_init(&d->adm_mu, NULL);
	pthread_cond_init(&d->adm_cv, NULL);
	pthread_rwlock_init(&d->api_lock, NULL);

	if (spool_open(&d->sp, cfg->state_dir, err, sizeof(err)) < 0 ||
	    spool_lock(&d->sp, err, sizeof(err)) < 0) {
		log_error("cannot start", "error", err);
		return -1;
	}
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	d->sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	d->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	d->infd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (d->sigfd < 0 || d->wakefd < 0 || d->infd < 0 ||
	    inotify_add_watch(d->infd, d->sp.incoming, IN_MOVED_TO |
	    IN_CLOSE_WRITE | IN_ONLYDIR) < 0) {
		log_error("cannot start", "error", strerror(errno));
		return -1;
	}

	spool_each_job(&d->sp, load_job, bad_job, d);
	open_watch(d);
	take_requests(d);

	d->nthreads = cfg->workers;
	d->threads = xcalloc((size_t)d->nthreads, sizeof(pthread_t));
	for (i = 0; i < d->nthreads; i++)
		if (pthread_create(&d->threads[i], NULL, worker_thread, d) != 0) {
			log_error("cannot start worker threads");
			d->nthreads = i;
			return -1;
		}
	if (sd_watchdog_enabled(0, &usec) > 0)
		d->watchdog_usec = (int64_t)usec;
	metrics_tables();
	metrics_collector_add(collect_jobs, d);
	doors = (struct api_doors){ .admit = http_admit,
	    .recordings = http_recordings, .disk_full = door_disk_full,
	    .ctx = d };
	pthread_rwlock_wrlock(&d->api_lock);
	d->api = api_start(cfg, &doors, err, sizeof(err));
	pthread_rwlock_unlock(&d->api_lock);
	if (d->api == NULL) {
		log_error("cannot start", "error", err);
		return -1;
	}
	return 0;
}

static void
teardown(struct daemon *d)
{
	size_t i;
	int t;

	/* the endpoint first: what it accepted is answered and stored */
	close_doors(d);
	pthread_rwlock_wrlock(&d->api_lock);
	api_stop(d->api);
	d->api = NULL;
	pthread_rwlock_unlock(&d->api_lock);
	metrics_collector_remove(collect_jobs, d);
	atomic_store(&d->stopping, true);
	pthread_mutex_lock(&d->tab.mu);
	pthread_cond_broadcast(&d->cv);
	/* queued but not started: nothing happened to them yet */
	for (i = 0; i < d->qlen; i++) {
		d->queue[i]->running = false;
		d->busy--;
	}
	d->qlen = 0;
	pthread_mutex_unlock(&d->tab.mu);
	for (t = 0; t < d->nthreads; t++)
		pthread_join(d->threads[t], NULL);
	free(d->threads);
	watch_close(d->watch);
	free(d->queue);
	free(d->root);
	if (d->sigfd >= 0)
		close(d->sigfd);
	if (d->wakefd >= 0)
		close(d->wakefd);
	if (d->infd >= 0)
		close(d->infd);
	spool_close(&d->sp);
	config_unref(d->cfg);
	jobtab_destroy(&d->tab);
	pthread_cond_destroy(&d->cv);
	pthread_mutex_destroy(&d->adm_mu);
	pthread_cond_destroy(&d->adm_cv);
}

static void
drain(int fd)
{
	char buf[4096];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

static int64_t
min_wait(int64_t a, int64_t b)
{
	if (a < 0)
		return b;
	if (b < 0)
		return a;
	return a < b ? a : b;
}

int
worker_main(struct config *cfg, const char *config_path)
{
	struct signalfd_siginfo si;
	struct daemon d;
	struct pollfd pfd[4];
	int64_t wait, now;
	int nfd, stop = 0;
	char workers[16], *shown;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (setup(&d, cfg, config_path) < 0) {
		teardown(&d);
		curl_global_cleanup();
		return 1;
	}
	shown = util_url_redact(cfg->webhook_url ? cfg->webhook_url : "none");
	log_info("jibri-pipeline started", "version", JP_VERSION, "state_dir",
	    cfg->state_dir, "storage", cfg->storage_url, "webhook", shown,
	    "workers", log_i64(workers, cfg->workers));
	free(shown);
	sd_notify(0, "READY=1");
	d.next_sweep = d.next_disk = d.next_retention = util_mono_ms();

	while (!stop) {
		now = util_mono_ms();
		if (d.watch == NULL && now >= d.watch_retry_at)
			open_watch(&d);
		wait = -1;
		if (d.watch != NULL)
			wait = watch_poll(d.watch, now, watcher_take, &d);
		/* after the watcher: what it just admitted starts now */
		wait = min_wait(wait, dispatch(&d));
		if (now >= d.next_sweep) {
			sweep(&d);
			d.next_sweep = now + SWEEP_INTERVAL_MS;
		}
		if (now >= d.next_disk) {
			disk_policy(&d);
			d.next_disk = now + DISK_INTERVAL_MS;
		}
		if (now >= d.next_retention) {
			retention_sweep(&d);
			d.next_retention = now + RETENTION_INTERVAL_MS;
		}
		if (d.watchdog_usec > 0 && now >= d.next_watchdog) {
			sd_notify(0, "WATCHDOG=1");
			d.next_watchdog = now + d.watchdog_usec / 2000;
		}
		notify_status(&d);
		wait = min_wait(wait, d.next_sweep - now);
		wait = min_wait(wait, d.next_disk - now);
		wait = min_wait(wait, d.next_retention - now);
		if (d.watch == NULL)
			wait = min_wait(wait, d.watch_retry_at - now);
		if (d.watchdog_usec > 0)
			wait = min_wait(wait, d.next_watchdog - now);
		if (wait < 0)
			wait = 0;
		/* another pass right away may admit what a take just made due */
		if (wait == 0)
			wait = 1;

		nfd = 0;
		pfd[nfd++] = (struct pollfd){ .fd = d.sigfd, .events = POLLIN };
		pfd[nfd++] = (struct pollfd){ .fd = d.wakefd, .events = POLLIN };
		pfd[nfd++] = (struct pollfd){ .fd = d.infd, .events = POLLIN };
		if (d.watch != NULL)
			pfd[nfd++] = (struct pollfd){ .fd = watch_fd(d.watch),
			    .events = POLLIN };
		if (poll(pfd, (nfds_t)nfd, (int)(wait > 60000 ? 60000 : wait)) < 0 &&
		    errno != EINTR) {
			log_error("poll failed", "error", strerror(errno));
			break;
		}
		while (read(d.sigfd, &si, sizeof(si)) == sizeof(si)) {
			if (si.ssi_signo == SIGHUP) {
				sd_notify(0, "RELOADING=1");
				reload(&d);
				sd_notify(0, "READY=1");
			} else {
				stop = 1;
			}
		}
		if (pfd[1].revents & POLLIN)
			drain(d.wakefd);
		take_admissions(&d);
		if (pfd[2].revents & POLLIN) {
			drain(d.infd);
			take_requests(&d);
		}
		if (nfd > 3 && (pfd[3].revents & POLLIN))
			watch_handle(d.watch);
	}
	log_info("stopping: letting running steps finish");
	sd_notify(0, "STOPPING=1");
	teardown(&d);
	curl_global_cleanup();
	log_info("jibri-pipeline stopped");
	return 0;
}
