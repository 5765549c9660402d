/* watch.c -- recursive inotify over RECORDINGS_DIR, quiet-time timer, rescan on overflow. */
#include "daemon/watch.h"
#include "base/fsutil.h"
#include "base/log.h"
#include "base/util.h"
#include "daemon/session.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#define WATCH_MAX_DEPTH 8
#define DIR_MASK (IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_CLOSE_WRITE | \
	IN_MODIFY | IN_ATTRIB | IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF | \
	IN_DONT_FOLLOW | IN_ONLYDIR | IN_EXCL_UNLINK)

struct wdir {
	int wd;
	char *path;
	int depth;
};

struct candidate {
	char *path;
	int64_t size;
	int64_t mtime_ns;
	int64_t last_change;    /* monotonic ms of the last sign of life */
};

struct watch {
	int fd;
	int rootfd;             /* root, to look names up beneath it */
	char *root;
	int64_t stable_ms;
	struct wdir *dirs;
	size_t ndirs, capdirs;
	struct candidate *cand;
	size_t ncand, capcand;
};

static int64_t
mtime_ns(const struct stat *st)
{
	return (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

/* lstat path (below root) without following a symlink in any of its
 * components: a session directory swapped for a link to elsewhere must
 * not make a file there look like a candidate. */
static int
stat_beneath(const struct watch *w, const char *path, struct stat *st)
{
	size_t n = strlen(w->root);
	int fd, rc, saved;

	if (strncmp(path, w->root, n) != 0 || path[n] != '/') {
		errno = EXDEV;
		return -1;
	}
	fd = fs_open_beneath(w->rootfd, path + n + 1, O_PATH);
	if (fd < 0)
		return -1;
	rc = fstat(fd, st);
	saved = errno;
	close(fd);
	errno = saved;
	return rc;
}

static struct candidate *
cand_find(struct watch *w, const char *path)
{
	size_t i;

	for (i = 0; i < w->ncand; i++)
		if (strcmp(w->cand[i].path, path) == 0)
			return &w->cand[i];
	return NULL;
}

static void
cand_remove_at(struct watch *w, size_t i)
{
	free(w->cand[i].path);
	w->cand[i] = w->cand[--w->ncand];
}

void
watch_forget(struct watch *w, const char *path)
{
	size_t i;

	for (i = 0; i < w->ncand; i++) {
		if (strcmp(w->cand[i].path, path) == 0) {
			cand_remove_at(w, i);
			return;
		}
	}
}

/* Note a sign of life of a media file. Found by a scan (initial), the
 * quiet time already spent since its mtime counts. */
static void
cand_touch(struct watch *w, const char *path, const struct stat *st,
    int initial)
{
	struct candidate *c = cand_find(w, path);
	int64_t now = util_mono_ms(), age;

	if (c == NULL) {
		if (w->ncand == w->capcand) {
			w->capcand = w->capcand ? w->capcand * 2 : 16;
			w->cand = xrealloc(w->cand, w->capcand * sizeof(*w->cand));
		}
		c = &w->cand[w->ncand++];
		c->path = xstrdup(path);
		c->last_change = now;
	}
	c->size = (int64_t)st->st_size;
	c->mtime_ns = mtime_ns(st);
	if (initial) {
		age = util_now_ms() - mtime_ns(st) / 1000000;
		if (age < 0)
			age = 0;
		if (age > w->stable_ms)
			age = w->stable_ms;
		c->last_change = now - age;
	} else {
		c->last_change = now;
	}
}

static struct wdir *
dir_by_wd(struct watch *w, int wd)
{
	size_t i;

	for (i = 0; i < w->ndirs; i++)
		if (w->dirs[i].wd == wd)
			return &w->dirs[i];
	return NULL;
}

static void
dir_remove_wd(struct watch *w, int wd)
{
	size_t i;

	for (i = 0; i < w->ndirs; i++) {
		if (w->dirs[i].wd == wd) {
			free(w->dirs[i].path);
			w->dirs[i] = w->dirs[--w->ndirs];
			return;
		}
	}
}

/* Whether path is dir or lies below it. */
static bool
under(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* A directory left (renamed or moved away): stop watching it and what is
 * below it, and forget its candidates. Where it went to inside the tree
 * is watched and scanned anew under its new name (IN_MOVED_TO). */
static void
drop_tree(struct watch *w, const char *path)
{
	size_t i = 0;

	while (i < w->ndirs) {
		if (under(w->dirs[i].path, path)) {
			inotify_rm_watch(w->fd, w->dirs[i].wd);
			free(w->dirs[i].path);
			w->dirs[i] = w->dirs[--w->ndirs];
		} else {
			i++;
		}
	}
	i = 0;
	while (i < w->ncand) {
		if (under(w->cand[i].path, path))
			cand_remove_at(w, i);
		else
			i++;
	}
}

/* Watch dir and scan it: subdirectories recursively, media files as
 * candidates. Entries created between the watch and the scan are seen
 * twice at worst, never missed. */
static int
add_dir(struct watch *w, const char *path, int depth)
{
	struct dirent *de;
	struct stat st;
	struct wdir *d;
	char sub[PATH_MAX];
	DIR *dh;
	int wd;

	wd = inotify_add_watch(w->fd, path, DIR_MASK);
	if (wd < 0) {
		log_warn("cannot watch directory", "dir", path, "error",
		    strerror(errno), "hint", errno == ENOSPC ?
		    "raise fs.inotify.max_user_watches" : NULL);
		return -1;
	}
	d = dir_by_wd(w, wd);
	if (d == NULL) {
		if (w->ndirs == w->capdirs) {
			w->capdirs = w->capdirs ? w->capdirs * 2 : 16;
			w->dirs = xrealloc(w->dirs, w->capdirs * sizeof(*w->dirs));
		}
		d = &w->dirs[w->ndirs++];
		d->wd = wd;
		d->path = xstrdup(path);
		d->depth = depth;
	}
	dh = opendir(path);
	if (dh == NULL)
		return -1;
	while ((de = readdir(dh)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (util_snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name) < 0)
			continue;
		if (lstat(sub, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode) && depth < WATCH_MAX_DEPTH)
			add_dir(w, sub, depth + 1);
		else if (S_ISREG(st.st_mode) && session_is_media_name(de->d_name))
			cand_touch(w, sub, &st, 1);
	}
	closedir(dh);
	return 0;
}

struct watch *
watch_open(const char *root, int64_t stable_ms, char *err, size_t errlen)
{
	struct watch *w = xcalloc(1, sizeof(*w));
	struct stat st;

	if (lstat(root, &st) < 0 || !S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "RECORDINGS_DIR %s: %s", root,
		    errno ? strerror(errno) : "not a directory");
		free(w);
		return NULL;
	}
	w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (w->fd < 0) {
		snprintf(err, errlen, "inotify: %s", strerror(errno));
		free(w);
		return NULL;
	}
	w->rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (w->rootfd < 0) {
		snprintf(err, errlen, "RECORDINGS_DIR %s: %s", root,
		    strerror(errno));
		close(w->fd);
		free(w);
		return NULL;
	}
	w->root = xstrdup(root);
	w->stable_ms = stable_ms;
	if (add_dir(w, root, 0) < 0) {
		snprintf(err, errlen, "cannot watch RECORDINGS_DIR %s: %s", root,
		    strerror(errno));
		watch_close(w);
		return NULL;
	}
	return w;
}

void
watch_close(struct watch *w)
{
	size_t i;

	if (w == NULL)
		return;
	if (w->fd >= 0)
		close(w->fd);
	if (w->rootfd >= 0)
		close(w->rootfd);
	for (i = 0; i < w->ndirs; i++)
		free(w->dirs[i].path);
	for (i = 0; i < w->ncand; i++)
		free(w->cand[i].path);
	free(w->dirs);
	free(w->cand);
	free(w->root);
	free(w);
}

int
watch_fd(const struct watch *w)
{
	return w->fd;
}

void
watch_rescan(struct watch *w)
{
	size_t i;

	for (i = 0; i < w->ndirs; i++) {
		inotify_rm_watch(w->fd, w->dirs[i].wd);
		free(w->dirs[i].path);
	}
	w->ndirs = 0;
	/* candidates keep their timers: a rescan is no sign of life */
	add_dir(w, w->root, 0);
}

static void
handle_event(struct watch *w, const struct inotify_event *ev)
{
	char path[PATH_MAX];
	struct candidate *c;
	struct wdir *d;
	struct stat st;
	int depth;

	if (ev->mask & IN_IGNORED) {
		dir_remove_wd(w, ev->wd);
		return;
	}
	d = dir_by_wd(w, ev->wd);
	if (d == NULL || ev->len == 0 || ev->name[0] == '.')
		return;
	if (util_snprintf(path, sizeof(path), "%s/%s", d->path, ev->name) < 0)
		return;
	depth = d->depth;
	if (ev->mask & IN_ISDIR) {
		if (ev->mask & IN_MOVED_FROM) {
			drop_tree(w, path);
			return;
		}
		if ((ev->mask & (IN_CREATE | IN_MOVED_TO)) &&
		    depth < WATCH_MAX_DEPTH && lstat(path, &st) == 0 &&
		    S_ISDIR(st.st_mode))
			add_dir(w, path, depth + 1); /* d may move: not used after */
		return;
	}
	if (!session_is_media_name(ev->name))
		return;
	if (ev->mask & (IN_DELETE | IN_MOVED_FROM)) {
		watch_forget(w, path);
		return;
	}
	c = cand_find(w, path);
	if (c != NULL && (ev->mask & IN_MODIFY)) {
		/* the hot path while Jibri writes: no system call */
		c->last_change = util_mono_ms();
		return;
	}
	if (stat_beneath(w, path, &st) == 0 && S_ISREG(st.st_mode))
		cand_touch(w, path, &st, 0);
}

void
watch_handle(struct watch *w)
{
	char buf[64 * 1024] __attribute__((aligned(__alignof__(struct inotify_event))));
	const struct inotify_event *ev;
	ssize_t n;
	char *p;
	int overflow = 0;

	for (;;) {
		n = read(w->fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		for (p = buf; p < buf + n; p += sizeof(*ev) + ev->len) {
			ev = (const struct inotify_event *)p;
			if (ev->mask & IN_Q_OVERFLOW)
				overflow = 1;
			else
				handle_event(w, ev);
		}
	}
	if (overflow) {
		log_warn("inotify queue overflowed: rescanning", "dir", w->root);
		watch_rescan(w);
	}
}

int64_t
watch_poll(struct watch *w, int64_t now, void (*take)(const char *path,
    void *ctx), void *ctx)
{
	int64_t next = -1, wait;
	struct stat st;
	size_t i = 0;

	while (i < w->ncand) {
		struct candidate *c = &w->cand[i];
		wait = c->last_change + w->stable_ms - now;
		if (wait > 0) {
			if (next < 0 || wait < next)
				next = wait;
			i++;
			continue;
		}
		if (stat_beneath(w, c->path, &st) < 0 || !S_ISREG(st.st_mode)) {
			cand_remove_at(w, i);
			continue;
		}
		if ((int64_t)st.st_size != c->size || mtime_ns(&st) != c->mtime_ns) {
			/* changed without an event we saw: wait again */
			c->size = (int64_t)st.st_size;
			c->mtime_ns = mtime_ns(&st);
			c->last_change = now;
			if (next < 0 || w->stable_ms < next)
				next = w->stable_ms;
			i++;
			continue;
		}
		{
			char *path = c->path;
			c->path = NULL;
			w->cand[i] = w->cand[--w->ncand];
			take(path, ctx);
			free(path);
		}
	}
	return next;
}

size_t
watch_dirs(const struct watch *w)
{
	return w->ndirs;
}

size_t
watch_candidates(const struct watch *w)
{
	return w->ncand;
}
