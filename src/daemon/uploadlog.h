/* uploadlog.h -- $STATE_DIR/uploads.log: one JSON object per finished job, append-only. */
#ifndef JP_UPLOADLOG_H
#define JP_UPLOADLOG_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "daemon/job.h"

/* Past this size the log is rotated: uploads.log becomes uploads.log.1
 * (replacing the one before) and a new one starts. Each line is appended
 * with the file opened anew, so logrotate's move-and-create works as
 * well (no signal needed). */
#define UPLOADLOG_MAX (64 << 20)

/* Rotate path when it has reached max bytes. 0, or -1/errno. */
int uploadlog_rotate(const char *path, int64_t max);

/* The log's current size (where the next line will start); -1/errno. */
int64_t uploadlog_size(const char *path);

/* Append entry as one line (O_APPEND, one write, fsync). 0 or -1/errno. */
int uploadlog_append(const char *path, const json_t *entry);

/* Whether a line at or after offset has "id": id — so a job that crashed
 * between appending and saving its state does not append twice. */
bool uploadlog_has(const char *path, int64_t offset, const char *id);

/* The log line for a finished job. New reference. */
json_t *uploadlog_entry(const struct job *j, int64_t now_ms);

#endif
