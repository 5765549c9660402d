/* uploadlog.c -- $STATE_DIR/uploads.log: one JSON object per finished job, append-only. */
#include "daemon/uploadlog.h"
#include "base/jsonx.h"
#include "base/util.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int
uploadlog_rotate(const char *path, int64_t max)
{
	static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	char *old;
	int rc = 0;

	/* two workers finishing at once rotate once */
	pthread_mutex_lock(&mu);
	if (uploadlog_size(path) >= max) {
		old = xasprintf("%s.1", path);
		rc = rename(path, old);
		free(old);
	}
	pthread_mutex_unlock(&mu);
	return rc;
}

int64_t
uploadlog_size(const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return errno == ENOENT ? 0 : -1;
	return (int64_t)st.st_size;
}

int
uploadlog_append(const char *path, const json_t *entry)
{
	char *text, *line;
	ssize_t w;
	size_t n;
	int fd, rc = -1, saved;

	text = json_dumps(entry, JSON_COMPACT);
	if (text == NULL) {
		errno = ENOMEM;
		return -1;
	}
	line = xasprintf("%s\n", text);
	free(text);
	n = strlen(line);
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
	    0640);
	if (fd < 0)
		goto out;
	w = write(fd, line, n);
	if (w != (ssize_t)n) {
		saved = w < 0 ? errno : ENOSPC;
		/* a short append would leave half a line: cut it off again */
		if (w > 0) {
			struct stat st;
			if (fstat(fd, &st) == 0)
				if (ftruncate(fd, st.st_size - w) < 0) {
					/* the reader skips a broken line */
				}
		}
		close(fd);
		errno = saved;
		goto out;
	}
	if (fsync(fd) < 0) {
		saved = errno;
		close(fd);
		errno = saved;
		goto out;
	}
	rc = close(fd);
out:
	free(line);
	return rc;
}

bool
uploadlog_has(const char *path, int64_t offset, const char *id)
{
	char *line = NULL;
	size_t cap = 0;
	bool found = false;
	json_t *e;
	FILE *f;

	f = fopen(path, "re");
	if (f == NULL)
		return false;
	if (fseeko(f, (off_t)offset, SEEK_SET) == 0) {
		while (!found && getline(&line, &cap, f) > 0) {
			e = json_loads(line, 0, NULL);
			found = e != NULL && json_string_value(json_object_get(e,
			    "id")) != NULL && strcmp(json_string_value(
			    json_object_get(e, "id")), id) == 0;
			json_decref(e);
		}
	}
	free(line);
	fclose(f);
	return found;
}

json_t *
uploadlog_entry(const struct job *j, int64_t now_ms)
{
	json_t *e = json_object(), *w;
	char ts[UTIL_ISO_LEN];

	json_object_set_new(e, "time", json_string(util_iso8601_ms(now_ms, ts)));
	json_object_set_new(e, "id", json_string(j->id));
	json_object_set_new(e, "status", json_string(j->quarantined ?
	    "quarantined" : j->result != NULL ? j->result : "completed"));
	if (j->error != NULL)
		json_object_set_new(e, "error", json_string(j->error));
	if (j->room_name != NULL)
		json_object_set_new(e, "room_name", json_string(j->room_name));
	if (j->session_id != NULL)
		json_object_set_new(e, "session_id", json_string(j->session_id));
	json_object_set_new(e, "source", json_string(j->source));
	if (j->probed)
		json_object_set_new(e, "size_bytes", json_integer(j->source_size));
	jsonx_copy(e, "duration_seconds", j->probe, "duration");
	if (j->probed || j->no_audio)
		json_object_set_new(e, "no_audio", json_boolean(j->no_audio));
	json_object_set_new(e, "objects", job_objects_to_json(j));
	if (j->webhook.attempts > 0 || j->webhook.disabled ||
	    j->webhook.body != NULL) {
		w = json_object();
		if (j->webhook.disabled)
			json_object_set_new(w, "status", json_string("disabled"));
		else if (j->webhook.attempts > 0)
			json_object_set_new(w, "status",
			    json_integer(j->webhook.status));
		if (j->webhook.attempts > 0)
			json_object_set_new(w, "attempts",
			    json_integer(j->webhook.attempts));
		if (j->webhook.delivered_at != NULL)
			json_object_set_new(w, "delivered_at",
			    json_string(j->webhook.delivered_at));
		json_object_set_new(e, "webhook", w);
	}
	if (j->created_at != NULL)
		json_object_set_new(e, "created_at", json_string(j->created_at));
	return e;
}
