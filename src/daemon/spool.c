/* spool.c -- the state directory: job files, incoming requests, work files, lock. */
#include "daemon/spool.h"
#include "base/fsutil.h"
#include "base/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

int
spool_open(struct spool *sp, const char *state_dir, char *err, size_t errlen)
{
	const char *d;

	memset(sp, 0, sizeof(*sp));
	sp->lock_fd = -1;
	sp->dir = xstrdup(state_dir);
	sp->incoming = xasprintf("%s/incoming", state_dir);
	sp->jobs = xasprintf("%s/jobs", state_dir);
	sp->work = xasprintf("%s/work", state_dir);
	if (fs_mkdirs(d = sp->dir, 0750) < 0 ||
	    fs_mkdirs(d = sp->incoming, 0770) < 0 ||
	    fs_mkdirs(d = sp->jobs, 0750) < 0 ||
	    fs_mkdirs(d = sp->work, 0750) < 0) {
		snprintf(err, errlen, "STATE_DIR: cannot create %s: %s", d,
		    strerror(errno));
		spool_close(sp);
		return -1;
	}
	/* jibri-finalize runs as Jibri's user and writes here through the
	 * group: keep it group-writable whatever the umask, and setgid so
	 * requests belong to the group the daemon reads through. Not ours to
	 * change (another owner): leave it. */
	if (chmod(sp->incoming, 02770) < 0)
		chmod(sp->incoming, 0770); /* RestrictSUIDSGID= */
	return 0;
}

void
spool_close(struct spool *sp)
{
	if (sp->lock_fd >= 0)
		close(sp->lock_fd);
	free(sp->dir);
	free(sp->incoming);
	free(sp->jobs);
	free(sp->work);
	memset(sp, 0, sizeof(*sp));
	sp->lock_fd = -1;
}

/* Temporary job files a crash left behind (fsutil's NAME.tmp, and the
 * NAME.tmp-RANDOM of earlier versions): only the lock holder writes job
 * files, so once it holds the lock none of them is being written. */
static void
remove_strays(const char *dir)
{
	struct dirent *de;
	char path[PATH_MAX];
	DIR *d = opendir(dir);

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (!util_str_has_suffix(de->d_name, ".tmp") &&
		    strstr(de->d_name, ".tmp-") == NULL)
			continue;
		if (util_snprintf(path, sizeof(path), "%s/%s", dir,
		    de->d_name) == 0)
			unlink(path);
	}
	closedir(d);
}

int
spool_lock(struct spool *sp, char *err, size_t errlen)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/lock", sp->dir);
	sp->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (sp->lock_fd < 0) {
		snprintf(err, errlen, "cannot open lock file %s: %s", path,
		    strerror(errno));
		return -1;
	}
	if (flock(sp->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		snprintf(err, errlen, "another jibri-pipeline daemon is running "
		    "on STATE_DIR %s (lock %s held)", sp->dir, path);
		close(sp->lock_fd);
		sp->lock_fd = -1;
		return -1;
	}
	remove_strays(sp->jobs);
	return 0;
}

int
spool_locked_by_other(const struct spool *sp)
{
	char path[PATH_MAX];
	int fd, held;

	snprintf(path, sizeof(path), "%s/lock", sp->dir);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return 0;
	held = flock(fd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK;
	close(fd);
	return held;
}

int
spool_save(const struct spool *sp, const struct job *j)
{
	json_t *doc;
	char path[PATH_MAX];
	char *text;
	int rc;

	snprintf(path, sizeof(path), "%s/%s.json", sp->jobs, j->id);
	doc = job_to_json(j);
	text = json_dumps(doc, JSON_INDENT(1) | JSON_SORT_KEYS);
	json_decref(doc);
	if (text == NULL) {
		errno = ENOMEM;
		return -1;
	}
	rc = fs_write_atomic(path, text, strlen(text), 0640, true);
	free(text);
	return rc;
}

int
spool_has_job(const struct spool *sp, const char *id)
{
	char path[PATH_MAX];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s.json", sp->jobs, id);
	return lstat(path, &st) == 0;
}

int
spool_forget(const struct spool *sp, const char *id)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s.json", sp->jobs, id);
	return unlink(path) < 0 && errno != ENOENT ? -1 : 0;
}

static struct job *
load_path(const char *path, char *why, size_t whylen)
{
	json_error_t jerr;
	json_t *doc;
	struct job *j;
	size_t len;
	char *text;

	/* never fopen: a FIFO would block the daemon before READY */
	text = fs_read_file(path, SPOOL_JOB_MAX, &len);
	if (text == NULL) {
		snprintf(why, whylen, "%s", errno == EINVAL ? "not a regular file" :
		    errno == ELOOP ? "a symlink (not followed)" : strerror(errno));
		return NULL;
	}
	doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	free(text);
	if (doc == NULL) {
		snprintf(why, whylen, "%s (line %d)", jerr.text, jerr.line);
		return NULL;
	}
	j = job_from_json(doc);
	json_decref(doc);
	if (j == NULL)
		snprintf(why, whylen, "not a job document");
	return j;
}

struct job *
spool_load(const struct spool *sp, const char *id)
{
	char path[PATH_MAX], why[256];

	snprintf(path, sizeof(path), "%s/%s.json", sp->jobs, id);
	return load_path(path, why, sizeof(why));
}

/* Sorted names in dir with the given suffix, skipping dot-files. */
static char **
list_dir(const char *dir, const char *suffix, size_t *n)
{
	struct dirent *de;
	char **v = NULL;
	size_t cap = 0;
	DIR *d;

	*n = 0;
	d = opendir(dir);
	if (d == NULL)
		return NULL;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || !util_str_has_suffix(de->d_name, suffix))
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 64;
			v = xrealloc(v, cap * sizeof(char *));
		}
		v[(*n)++] = xstrdup(de->d_name);
	}
	closedir(d);
	if (*n > 0)
		qsort(v, *n, sizeof(char *), util_cmp_strp);
	return v;
}

void
spool_each_job(const struct spool *sp, void (*fn)(struct job *j, void *ctx),
    void (*bad)(const char *path, const char *why, void *ctx), void *ctx)
{
	char path[PATH_MAX], why[256];
	struct job *j;
	char **names;
	size_t n, i;

	names = list_dir(sp->jobs, ".json", &n);
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", sp->jobs, names[i]);
		j = load_path(path, why, sizeof(why));
		if (j != NULL)
			fn(j, ctx);
		else if (bad != NULL)
			bad(path, why, ctx);
		free(names[i]);
	}
	free(names);
}

void
spool_each_request(const struct spool *sp, int (*fn)(const struct request *r,
    const char *name, void *ctx), void (*bad)(const char *path,
    const char *why, void *ctx), void *ctx)
{
	char path[PATH_MAX], aside[PATH_MAX + 8];
	struct request r;
	char **names;
	size_t n, i, len;
	char *buf;

	names = list_dir(sp->incoming, ".req", &n);
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", sp->incoming, names[i]);
		buf = fs_read_file(path, REQUEST_MAX, &len);
		if (buf == NULL && errno == ENOENT) {
			free(names[i]);
			continue;
		}
		if (buf == NULL || request_decode(buf, len, &r) < 0) {
			snprintf(aside, sizeof(aside), "%s.bad", path);
			rename(path, aside);
			if (bad != NULL)
				bad(path, buf == NULL ? strerror(errno) :
				    "not a request", ctx);
		} else if (fn(&r, names[i], ctx) == 0) {
			unlink(path);
		}
		free(buf);
		free(names[i]);
	}
	free(names);
}

size_t
spool_pending_requests(const struct spool *sp)
{
	char **names;
	size_t n, i;

	names = list_dir(sp->incoming, ".req", &n);
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return n;
}

int
spool_work_dir(const struct spool *sp, const char *id, char *buf, size_t size)
{
	if (util_snprintf(buf, size, "%s/%s", sp->work, id) < 0) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return fs_mkdirs(buf, 0750);
}
