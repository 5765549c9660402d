/* intake.c -- every door (finalize requests, the watcher, retry) turns "this file is finished" into exactly one job. */
#include "daemon/intake.h"
#include "base/fsutil.h"
#include "base/log.h"
#include "base/util.h"
#include "daemon/pin.h"
#include "daemon/session.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

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
shares_session(const struct jobtab *t, const char *dir)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		if (strcmp(t->v[i]->dir, dir) == 0)
			return true;
	return false;
}

/* Whether a job, in memory or on disk (pruned from memory), has id. */
static bool
id_taken(struct intake *in, const char *id)
{
	return jobtab_find(in->tab, id) != NULL || spool_has_job(in->sp, id);
}

/* The job of the recording at rel that is the file pinned as pin: the
 * same device and inode (and, once done, the same size and time: a file
 * rewritten in place after it was stored is a new recording). A job made
 * before pins existed matches by name, as it always did. NULL when the
 * file is new, also when another file now lies at a known path (the
 * legacy finalize script's fixed names). Caller holds mu. */
static struct job *
known_job(const struct jobtab *t, const char *rel, const struct pin *pin)
{
	size_t i;

	for (i = 0; i < t->n; i++) {
		struct job *j = t->v[i];
		const char *r = j->rel;

		if (r == NULL || strcmp(r, rel) != 0)
			continue;
		/* a job made before pins matches by name alone */
		if (j->pinned && !pin_same_file(&j->pin, pin))
			continue;
		if (!j->running && j->state == JOB_DONE && j->probed &&
		    (j->source_size != pin->size ||
		    j->source_mtime_ns != pin->mtime_ns))
			continue;
		return j;
	}
	return NULL;
}

/* The id of a new recording at rel: the hash of rel for the first one
 * (what every earlier version used), else the hash of rel and the file's
 * identity: stable across restarts, distinct per recording. */
static void
new_job_id(struct intake *in, const char *rel, const struct pin *pin,
    char id[33])
{
	char *key;
	int n;

	job_id_for(rel, id);
	for (n = 0; id_taken(in, id); n++) {
		key = xasprintf("%s\n%lld:%lld:%lld:%lld:%d", rel,
		    (long long)pin->dev, (long long)pin->ino, (long long)pin->size,
		    (long long)pin->mtime_ns, n);
		job_id_for(key, id);
		free(key);
	}
}

/* Save j, which the caller claimed (running) so that no worker takes it
 * meanwhile; then release it. The fsync happens outside the lock. */
static int
save_claimed(struct intake *in, struct job *j)
{
	int rc, saved;

	rc = spool_save(in->sp, j);
	saved = errno;
	pthread_mutex_lock(&in->tab->mu);
	j->running = false;
	pthread_mutex_unlock(&in->tab->mu);
	errno = saved;
	return rc;
}

/* A new job for the file at path (rel beneath root), pinned as pin. */
static struct job *
new_job(struct intake *in, const char *path, const char *rel,
    const struct pin *pin, const char *legacy_room, const char *door)
{
	char id[33], primary[33];
	struct job *j;

	job_id_for(rel, primary);
	new_job_id(in, rel, pin, id);
	j = job_new(id, path, rel, door);
	j->pin = *pin;
	j->pinned = true;
	if (strcmp(id, primary) != 0) {
		/* another file at a path that had a recording: its own keys */
		char suffix[9];
		memcpy(suffix, id, 8);
		suffix[8] = '\0';
		job_set(&j->session_suffix, suffix);
		log_info("another file at a known path: a new recording", "id", id,
		    "source", path);
	} else if (strcmp(j->dir, in->root) != 0 &&
	    shares_session(in->tab, j->dir)) {
		/* Jibri writes one file per session; a second one must not
		 * land on the first one's keys */
		const char *base = strrchr(path, '/') + 1;
		const char *dot = strrchr(base, '.');
		char *stem = xstrndup(base, dot && dot != base ?
		    (size_t)(dot - base) : strlen(base));
		job_set(&j->session_suffix, stem);
		free(stem);
	}
	if (legacy_room != NULL && *legacy_room != '\0' &&
	    valid_utf8_json(legacy_room))
		job_set(&j->legacy_room, legacy_room);
	return j;
}

int
intake_file(struct intake *in, const char *path, const char *legacy_room,
    const char *door, struct intake_result *res)
{
	struct intake_result scratch;
	char err[700];
	struct pin pin;
	struct job *j;
	const char *rel;

	if (res == NULL)
		res = &scratch;
	memset(res, 0, sizeof(*res));
	if (in->root == NULL || !fs_path_inside(in->root, path)) {
		log_warn("not inside RECORDINGS_DIR: ignored", "path", path,
		    "door", door);
		snprintf(res->why, sizeof(res->why), in->root == NULL ?
		    "RECORDINGS_DIR is missing" : "not inside RECORDINGS_DIR");
		return -1;
	}
	if (!valid_utf8_json(path)) {
		log_error("file name is not valid UTF-8: rename it to be "
		    "processed", "path", path);
		snprintf(res->why, sizeof(res->why), "the file name is not "
		    "valid UTF-8");
		return -1;
	}
	rel = path + strlen(in->root) + (strcmp(in->root, "/") != 0);
	/* what is admitted is this file, found now without following any
	 * link; every later step checks it is still the one */
	if (pin_take(in->root, rel, &pin, err, sizeof(err)) < 0) {
		log_warn("not a regular file reached without a symlink: ignored",
		    "path", path, "door", door, "error", err);
		(void)util_snprintf(res->why, sizeof(res->why), "not a regular "
		    "file reached without a symlink: %s", err);
		return -1;
	}
	pthread_mutex_lock(&in->tab->mu);
	j = known_job(in->tab, rel, &pin);
	if (j != NULL) {
		memcpy(res->id, j->id, sizeof(res->id));
		/* A quarantined file that changed since (Jibri's ffmpeg was
		 * still writing when the watcher's quiet time ran out) is a new
		 * recording to look at; anything else is a duplicate. */
		if (!j->running && j->state == JOB_QUARANTINED &&
		    (pin.size != j->source_size ||
		    pin.mtime_ns != j->source_mtime_ns)) {
			j->running = true;
			pthread_mutex_unlock(&in->tab->mu);
			job_resume(j);
			save_claimed(in, j);
			log_info("quarantined recording changed: probing again", "id",
			    j->id, "source", path, "door", door);
			return 0;
		}
		log_debug("recording already known", "id", j->id, "door", door,
		    "state", j->running ? "running" :
		    job_state_name(j->state));
		pthread_mutex_unlock(&in->tab->mu);
		return 0;
	}
	/* in the table at once, claimed: a second door finds it, no worker
	 * takes it before its file exists */
	j = new_job(in, path, rel, &pin, legacy_room, door);
	j->running = true;
	jobtab_add(in->tab, j);
	pthread_mutex_unlock(&in->tab->mu);
	if (save_claimed(in, j) < 0) {
		log_error("cannot save new job (the recording stays where it is "
		    "and is found again)", "id", j->id, "error", strerror(errno));
		pthread_mutex_lock(&in->tab->mu);
		jobtab_remove(in->tab, j);
		pthread_mutex_unlock(&in->tab->mu);
		job_free(j);
		snprintf(res->why, sizeof(res->why), "cannot save the job: %s",
		    strerror(errno));
		return -1;
	}
	memcpy(res->id, j->id, sizeof(res->id));
	log_info("new recording", "id", j->id, "source", path, "door", door);
	return 1;
}

/* Resume a failed or quarantined job now; caller holds mu, which this
 * drops and takes again around the save. */
static void
retry_job(struct intake *in, struct job *j, bool quiet)
{
	enum job_state s;

	if (j->running) {
		if (!quiet)
			log_info("retry: job is running", "id", j->id);
		return;
	}
	s = j->state;
	if (s != JOB_FAILED && s != JOB_QUARANTINED) {
		if (!quiet)
			log_info("retry: job is not failed", "id", j->id, "state",
			    job_state_name(s));
		return;
	}
	j->running = true;
	pthread_mutex_unlock(&in->tab->mu);
	job_resume(j);
	save_claimed(in, j);
	log_info("retry requested", "id", j->id, "step",
	    job_state_name(j->state));
	pthread_mutex_lock(&in->tab->mu);
}

static void
retry_request(struct intake *in, const char *what)
{
	size_t i;

	pthread_mutex_lock(&in->tab->mu);
	if (strcmp(what, "--failed") == 0) {
		/* positions are stable: a door only adds at the end */
		for (i = 0; i < in->tab->n; i++)
			if (!in->tab->v[i]->running &&
			    in->tab->v[i]->state == JOB_FAILED)
				retry_job(in, in->tab->v[i], true);
	} else {
		struct job *j = jobtab_find(in->tab, what);
		if (j != NULL)
			retry_job(in, j, false);
		else
			log_warn("retry: no such job", "id", what);
	}
	pthread_mutex_unlock(&in->tab->mu);
}

static void
take(struct intake *in, const char *path, const char *room)
{
	if (in->taken != NULL)
		in->taken(path, in->ctx);
	intake_file(in, path, room, "finalize", NULL);
}

int
intake_request(const struct request *r, const char *name, void *ctx)
{
	struct intake *in = ctx;
	char real[PATH_MAX];
	char **files;
	size_t n, i;

	if (strcmp(r->kind, "retry") == 0) {
		retry_request(in, r->path);
		return 0;
	}
	/* The spool is writable by Jibri's group: check again, trust nothing. */
	if (realpath(r->path, real) == NULL) {
		log_warn("request names a missing path: dropped (the watcher "
		    "still finds recordings)", "request", name, "path", r->path,
		    "error", strerror(errno));
		return 0;
	}
	if (strcmp(r->kind, "session") != 0) {
		take(in, real, r->room);
		return 0;
	}
	if (in->root == NULL || !fs_path_inside(in->root, real)) {
		log_warn("session outside RECORDINGS_DIR: dropped", "path", real);
		return 0;
	}
	files = session_media_files(real, &n);
	if (files == NULL || n == 0)
		log_warn("session directory holds no recording", "dir", real,
		    "error", files == NULL ? strerror(errno) : NULL);
	for (i = 0; i < n; i++)
		take(in, files[i], NULL);
	session_free_list(files, n);
	return 0;
}
