/* uploadlog.c -- $STATE_DIR/uploads.log: one JSON object per finished job, append-only. */
#include "daemon/uploadlog.h"
#include "base/jsonx.h"
#include "base/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
uploadlog_entry(const json_t *job, int64_t now_ms)
{
	json_t *e = json_object(), *wh, *w;
	char ts[UTIL_ISO_LEN];

	json_object_set_new(e, "time", json_string(util_iso8601_ms(now_ms, ts)));
	jsonx_copy(e, "id", job, "id");
	json_object_set_new(e, "status", json_string(
	    json_is_true(json_object_get(job, "quarantined")) ? "quarantined" :
	    json_string_value(json_object_get(job, "result")) ?
	    json_string_value(json_object_get(job, "result")) : "completed"));
	jsonx_copy(e, "error", job, "error");
	jsonx_copy(e, "room_name", job, "room_name");
	jsonx_copy(e, "session_id", job, "session_id");
	jsonx_copy(e, "source", job, "source");
	jsonx_copy(e, "size_bytes", job, "source_size");
	jsonx_copy(e, "duration_seconds", json_object_get(job, "probe"), "duration");
	jsonx_copy(e, "no_audio", job, "no_audio");
	jsonx_copy(e, "objects", job, "objects");
	wh = json_object_get(job, "webhook");
	if (wh != NULL) {
		w = json_object();
		jsonx_copy(w, "status", wh, "status");
		jsonx_copy(w, "attempts", wh, "attempts");
		jsonx_copy(w, "delivered_at", wh, "delivered_at");
		json_object_set_new(e, "webhook", w);
	}
	jsonx_copy(e, "created_at", job, "created_at");
	return e;
}
