/* worker.c -- the daemon: job table, worker threads, discovery doors, timers, signals. */
#include "daemon/worker.h"
#include "base/fsutil.h"
#include "daemon/job.h"
#include "base/log.h"
#include "daemon/pin.h"
#include "daemon/pipeline.h"
#include "daemon/request.h"
#include "daemon/session.h"
#include "daemon/spool.h"
#include "base/util.h"
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
#include <unistd.h>

#include <curl/curl.h>
#include <systemd/sd-daemon.h>

#define SWEEP_INTERVAL_MS (60 * 1000)
#define WATCH_REOPEN_MS (10 * 1000)

struct daemon {
	pthread_mutex_t mu;          /* guards everything below but cfg reads
	                                by the main thread */
	pthread_cond_t cv;
	struct config *cfg;          /* current; workers take a reference */
	const char *config_path;
	struct spool sp;
	struct watch *watch;
	char *root;                  /* realpath of RECORDINGS_DIR, or NULL */
	int64_t watch_retry_at;      /* monotonic ms: try to open the watcher */
	int sigfd, wakefd, infd;

	struct job **jobs;           /* every job but finished ones whose
	                                source is gone (pruned) */
	size_t njobs, capjobs;
	json_t *index;               /* id -> position in jobs */

	struct job **queue;          /* handed to workers, FIFO */
	size_t qlen, qcap;
	pthread_t *threads;
	int nthreads;
	int busy;                    /* jobs a worker holds */
	atomic_bool stopping;
	int64_t next_sweep;          /* monotonic ms */
	int64_t watchdog_usec;
	int64_t next_watchdog;
};

static struct job *
find_job(struct daemon *d, const char *id)
{
	json_t *pos = json_object_get(d->index, id);

	return pos ? d->jobs[json_integer_value(pos)] : NULL;
}

static void
add_job(struct daemon *d, struct job *j)
{
	if (d->njobs == d->capjobs) {
		d->capjobs = d->capjobs ? d->capjobs * 2 : 64;
		d->jobs = xrealloc(d->jobs, d->capjobs * sizeof(*d->jobs));
	}
	json_object_set_new(d->index, j->id, json_integer((json_int_t)d->njobs));
	d->jobs[d->njobs++] = j;
}

static void
wake_main(struct daemon *d)
{
	uint64_t one = 1;

	if (write(d->wakefd, &one, sizeof(one)) < 0) {
		/* the counter is full: the main loop is awake anyway */
	}
}

/* ---- workers ----------------------------------------------------------- */

static void *
worker_thread(void *arg)
{
	struct daemon *d = arg;
	struct pipeline_ctx ctx;
	struct job *j;

	pthread_mutex_lock(&d->mu);
	for (;;) {
		while (d->qlen == 0 && !atomic_load(&d->stopping))
			pthread_cond_wait(&d->cv, &d->mu);
		if (atomic_load(&d->stopping))
			break;
		j = d->queue[0];
		memmove(d->queue, d->queue + 1, --d->qlen * sizeof(*d->queue));
		ctx.cfg = config_ref(d->cfg);
		ctx.sp = &d->sp;
		ctx.stopping = &d->stopping;
		pthread_mutex_unlock(&d->mu);

		pipeline_run(&ctx, j);
		config_unref(ctx.cfg);

		pthread_mutex_lock(&d->mu);
		j->running = false;
		d->busy--;
		wake_main(d);
	}
	pthread_mutex_unlock(&d->mu);
	return NULL;
}

/* Hand due jobs to idle workers, oldest first. Returns the ms until the
 * next job becomes due (-1: none). Main thread. */
static int64_t
dispatch(struct daemon *d)
{
	int64_t now = util_now_ms(), next = -1, due;
	size_t i;

	pthread_mutex_lock(&d->mu);
	for (i = 0; i < d->njobs; i++) {
		struct job *j = d->jobs[i];
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
	pthread_mutex_unlock(&d->mu);
	return next;
}

/* ---- the two doors ----------------------------------------------------- */

static bool
valid_utf8_json(const char *s)
{
	json_t *t = json_string(s);
	bool ok = t != NULL;

	json_decref(t);
	return ok;
}

/* Whether another job's recording lies in directory dir. Caller holds mu;
 * reads only the immutable part of jobs. */
static bool
shares_session(struct daemon *d, const char *dir)
{
	size_t i;

	for (i = 0; i < d->njobs; i++)
		if (strcmp(d->jobs[i]->dir, dir) == 0)
			return true;
	return false;
}

/* Whether a job, in memory or on disk (pruned from memory), has id. */
static bool
id_taken(struct daemon *d, const char *id)
{
	return find_job(d, id) != NULL || spool_has_job(&d->sp, id);
}

/* The job of the recording at rel that is the file pinned as pin: the
 * same device and inode (and, once done, the same size and time: a file
 * rewritten in place after it was stored is a new recording). A job made
 * before pins existed matches by name, as it always did. NULL when the
 * file is new, also when another file now lies at a known path (the
 * legacy finalize script's fixed names). Caller holds mu. */
static struct job *
known_job(struct daemon *d, const char *rel, const struct pin *pin)
{
	struct pin p;
	size_t i;

	for (i = 0; i < d->njobs; i++) {
		struct job *j = d->jobs[i];
		const char *r = job_str(j, "rel");

		if (r == NULL || strcmp(r, rel) != 0)
			continue;
		if (pin_from_json(json_object_get(j->doc, "pin"), &p) < 0) {
			/* made before pins: by name, unless done and changed */
			if (!j->running && job_state(j) == JOB_DONE &&
			    json_object_get(j->doc, "source_size") != NULL &&
			    (job_int(j, "source_size") != pin->size ||
			    job_int(j, "source_mtime_ns") != pin->mtime_ns))
				continue;
			return j;
		}
		if (!pin_same_file(&p, pin))
			continue;
		if (!j->running && job_state(j) == JOB_DONE &&
		    (job_int(j, "source_size") != pin->size ||
		    job_int(j, "source_mtime_ns") != pin->mtime_ns))
			continue;
		return j;
	}
	return NULL;
}

/* The id of a new recording at rel: the hash of rel for the first one
 * (what every earlier version used), else the hash of rel and the file's
 * identity: stable across restarts, distinct per recording. */
static void
new_job_id(struct daemon *d, const char *rel, const struct pin *pin,
    char id[33])
{
	char *key;
	int n;

	job_id_for(rel, id);
	for (n = 0; id_taken(d, id); n++) {
		key = xasprintf("%s\n%lld:%lld:%lld:%lld:%d", rel,
		    (long long)pin->dev, (long long)pin->ino, (long long)pin->size,
		    (long long)pin->mtime_ns, n);
		job_id_for(key, id);
		free(key);
	}
}

/* Make (or find) the job of the media file at path, which must be a
 * regular file inside RECORDINGS_DIR, reached without a symlink. Main
 * thread. */
static void
admit(struct daemon *d, const char *path, const char *legacy_room,
    const char *door)
{
	char id[33], primary[33], err[700];
	struct pin pin;
	struct job *j;
	const char *rel;

	if (d->root == NULL || !fs_path_inside(d->root, path)) {
		log_warn("not inside RECORDINGS_DIR: ignored", "path", path,
		    "door", door);
		return;
	}
	if (!valid_utf8_json(path)) {
		log_error("file name is not valid UTF-8: rename it to be "
		    "processed", "path", path);
		return;
	}
	rel = path + strlen(d->root) + (strcmp(d->root, "/") != 0);
	/* what is admitted is this file, found now without following any
	 * link; every later step checks it is still the one */
	if (pin_take(d->root, rel, &pin, err, sizeof(err)) < 0) {
		log_warn("not a regular file reached without a symlink: ignored",
		    "path", path, "door", door, "error", err);
		return;
	}
	if (d->watch != NULL)
		watch_forget(d->watch, path);
	pthread_mutex_lock(&d->mu);
	j = known_job(d, rel, &pin);
	if (j != NULL) {
		/* A quarantined file that changed since (Jibri's ffmpeg was
		 * still writing when the watcher's quiet time ran out) is a new
		 * recording to look at; anything else is a duplicate. */
		if (!j->running && job_state(j) == JOB_QUARANTINED &&
		    (pin.size != job_int(j, "source_size") ||
		    pin.mtime_ns != job_int(j, "source_mtime_ns"))) {
			job_resume(j);
			spool_save(&d->sp, j);
			log_info("quarantined recording changed: probing again", "id",
			    j->id, "source", path, "door", door);
		} else {
			log_debug("recording already known", "id", j->id, "door",
			    door, "state", j->running ? "running" :
			    job_state_name(job_state(j)));
		}
		pthread_mutex_unlock(&d->mu);
		return;
	}
	job_id_for(rel, primary);
	new_job_id(d, rel, &pin, id);
	j = job_new(id, path, rel, door);
	job_set(j, "pin", pin_to_json(&pin));
	if (strcmp(id, primary) != 0) {
		/* another file at a path that had a recording: its own keys */
		char suffix[9];
		memcpy(suffix, id, 8);
		suffix[8] = '\0';
		job_set_str(j, "session_suffix", suffix);
		log_info("another file at a known path: a new recording", "id", id,
		    "source", path);
	} else if (strcmp(j->dir, d->root) != 0 && shares_session(d, j->dir)) {
		/* Jibri writes one file per session; a second one must not
		 * land on the first one's keys */
		const char *base = strrchr(path, '/') + 1;
		const char *dot = strrchr(base, '.');
		char *stem = xstrndup(base, dot && dot != base ?
		    (size_t)(dot - base) : strlen(base));
		job_set_str(j, "session_suffix", stem);
		free(stem);
	}
	if (legacy_room != NULL && *legacy_room != '\0' &&
	    valid_utf8_json(legacy_room))
		job_set_str(j, "legacy_room", legacy_room);
	if (spool_save(&d->sp, j) < 0) {
		log_error("cannot save new job (the recording stays where it is "
		    "and is found again)", "id", id, "error", strerror(errno));
		job_free(j);
		pthread_mutex_unlock(&d->mu);
		return;
	}
	add_job(d, j);
	pthread_mutex_unlock(&d->mu);
	log_info("new recording", "id", id, "source", path, "door", door);
}

static void
watcher_take(const char *path, void *ctx)
{
	admit(ctx, path, NULL, "watcher");
}

static void
retry_job(struct daemon *d, struct job *j, bool quiet)
{
	enum job_state s;

	if (j->running) {
		if (!quiet)
			log_info("retry: job is running", "id", j->id);
		return;
	}
	s = job_state(j);
	if (s != JOB_FAILED && s != JOB_QUARANTINED) {
		if (!quiet)
			log_info("retry: job is not failed", "id", j->id, "state",
			    job_state_name(s));
		return;
	}
	job_resume(j);
	spool_save(&d->sp, j);
	log_info("retry requested", "id", j->id, "step",
	    job_state_name(job_state(j)));
}

static int
take_request(const struct request *r, const char *name, void *ctx)
{
	struct daemon *d = ctx;
	char real[PATH_MAX];
	size_t n, i;

	if (strcmp(r->kind, "retry") == 0) {
		pthread_mutex_lock(&d->mu);
		if (strcmp(r->path, "--failed") == 0) {
			for (i = 0; i < d->njobs; i++)
				if (!d->jobs[i]->running &&
				    job_state(d->jobs[i]) == JOB_FAILED)
					retry_job(d, d->jobs[i], true);
		} else {
			struct job *j = find_job(d, r->path);
			if (j != NULL)
				retry_job(d, j, false);
			else
				log_warn("retry: no such job", "id", r->path);
		}
		pthread_mutex_unlock(&d->mu);
		return 0;
	}
	/* The spool is writable by Jibri's group: check again, trust nothing. */
	if (realpath(r->path, real) == NULL) {
		log_warn("request names a missing path: dropped (the watcher "
		    "still finds recordings)", "request", name, "path", r->path,
		    "error", strerror(errno));
		return 0;
	}
	if (strcmp(r->kind, "session") == 0) {
		char **files;
		if (d->root == NULL || !fs_path_inside(d->root, real)) {
			log_warn("session outside RECORDINGS_DIR: dropped", "path",
			    real);
			return 0;
		}
		files = session_media_files(real, &n);
		if (files == NULL || n == 0)
			log_warn("session directory holds no recording", "dir", real,
			    "error", files == NULL ? strerror(errno) : NULL);
		for (i = 0; i < n; i++)
			admit(d, files[i], NULL, "finalize");
		session_free_list(files, n);
		return 0;
	}
	admit(d, real, r->room, "finalize");
	return 0;
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
	spool_each_request(&d->sp, take_request, bad_request, d);
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
	if (realpath(d->cfg->recordings_dir, real) == NULL) {
		log_error("RECORDINGS_DIR missing: retrying every 10 s", "dir",
		    d->cfg->recordings_dir, "error", strerror(errno));
		d->watch_retry_at = util_mono_ms() + WATCH_REOPEN_MS;
		return;
	}
	d->root = xstrdup(real);
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

/* Drop the job at position i from the table (its file stays on disk for
 * status and history). Caller holds mu. */
static void
remove_job_at(struct daemon *d, size_t i)
{
	struct job *j = d->jobs[i];

	json_object_del(d->index, j->id);
	d->jobs[i] = d->jobs[--d->njobs];
	if (i < d->njobs)
		json_object_set_new(d->index, d->jobs[i]->id,
		    json_integer((json_int_t)i));
	job_free(j);
}

/* A finished job whose source is gone can never be asked about again by
 * a door: it leaves the table, which would otherwise grow for ever. */
static bool
prunable(const struct job *j)
{
	struct stat st;

	if (j->running || !job_state_final(job_state(j)))
		return false;
	if (json_object_get(j->doc, "source_deleted_at") != NULL)
		return true;
	return lstat(job_str(j, "source"), &st) < 0 && errno == ENOENT;
}

/* Every SWEEP_INTERVAL: KEEP_LOCAL=<age> deletes the sources of completed
 * jobs once old enough; finished jobs without a source are pruned. */
static void
sweep(struct daemon *d)
{
	int64_t now = util_now_ms();
	size_t i;

	pthread_mutex_lock(&d->mu);
	for (i = 0; d->cfg->keep_local == KEEP_AGE && i < d->njobs; i++) {
		struct job *j = d->jobs[i];
		if (j->running || job_state(j) != JOB_DONE ||
		    json_object_get(j->doc, "source_deleted_at") != NULL ||
		    job_int(j, "finished_at_ms") + d->cfg->keep_local_age * 1000 >
		    now)
			continue;
		if (pipeline_delete_source(j) > 0)
			spool_save(&d->sp, j);
	}
	for (i = 0; i < d->njobs; ) {
		if (prunable(d->jobs[i]))
			remove_job_at(d, i);
		else
			i++;
	}
	pthread_mutex_unlock(&d->mu);
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
	pthread_mutex_lock(&d->mu);
	old = d->cfg;
	d->cfg = cfg;
	pthread_mutex_unlock(&d->mu);
	log_setup(cfg->log_format, cfg->log_level);
	if (strcmp(old->recordings_dir, cfg->recordings_dir) != 0 ||
	    old->stable_seconds != cfg->stable_seconds)
		open_watch(d);
	config_unref(old);
	log_info("configuration reloaded", "source", cfg->source);
}

static void
notify_status(struct daemon *d)
{
	size_t i, waiting = 0, failed = 0, done = 0;
	char status[200];

	pthread_mutex_lock(&d->mu);
	for (i = 0; i < d->njobs; i++) {
		enum job_state s;
		if (d->jobs[i]->running)
			continue;
		s = job_state(d->jobs[i]);
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
	pthread_mutex_unlock(&d->mu);
	sd_notify(0, status);
}

/* ---- set-up and the loop ----------------------------------------------- */

static void
load_job(struct job *j, void *ctx)
{
	struct daemon *d = ctx;

	if (find_job(d, j->id) != NULL) {
		job_free(j);
		return;
	}
	add_job(d, j);
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
	char err[512];
	sigset_t mask;
	int i;
	uint64_t usec = 0;

	memset(d, 0, sizeof(*d));
	pthread_mutex_init(&d->mu, NULL);
	pthread_cond_init(&d->cv, NULL);
	d->cfg = cfg;
	d->config_path = config_path;
	d->sigfd = d->wakefd = d->infd = -1;
	d->index = json_object();
	atomic_init(&d->stopping, false);

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
	return 0;
}

static void
teardown(struct daemon *d)
{
	size_t i;
	int t;

	atomic_store(&d->stopping, true);
	pthread_mutex_lock(&d->mu);
	pthread_cond_broadcast(&d->cv);
	/* queued but not started: nothing happened to them yet */
	for (i = 0; i < d->qlen; i++) {
		d->queue[i]->running = false;
		d->busy--;
	}
	d->qlen = 0;
	pthread_mutex_unlock(&d->mu);
	for (t = 0; t < d->nthreads; t++)
		pthread_join(d->threads[t], NULL);
	free(d->threads);
	watch_close(d->watch);
	for (i = 0; i < d->njobs; i++)
		job_free(d->jobs[i]);
	free(d->jobs);
	free(d->queue);
	json_decref(d->index);
	free(d->root);
	if (d->sigfd >= 0)
		close(d->sigfd);
	if (d->wakefd >= 0)
		close(d->wakefd);
	if (d->infd >= 0)
		close(d->infd);
	spool_close(&d->sp);
	config_unref(d->cfg);
	pthread_mutex_destroy(&d->mu);
	pthread_cond_destroy(&d->cv);
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
	d.next_sweep = util_mono_ms();

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
		if (d.watchdog_usec > 0 && now >= d.next_watchdog) {
			sd_notify(0, "WATCHDOG=1");
			d.next_watchdog = now + d.watchdog_usec / 2000;
		}
		notify_status(&d);
		wait = min_wait(wait, d.next_sweep - now);
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
