/* request.h -- the spool's job requests: written by jibri-finalize, read by the daemon. */
#ifndef JP_REQUEST_H
#define JP_REQUEST_H

#include <stddef.h>

/* A request is one small file in $STATE_DIR/incoming/, named
 * <seconds>.<nanoseconds>-<pid>-<random>.req, holding NUL-terminated fields:
 *
 *   "jibri-pipeline-request 1", kind, path, room
 *
 * NUL separation keeps any byte of a path or room name intact (they come
 * from Jibri and meeting names: quotes, newlines, unicode). Kinds:
 *   "session"  path is a Jibri session directory (jibri-finalize DIR)
 *   "file"     path is one media file, room the legacy ROOM argument or ""
 *   "retry"    path is a job id (or "--failed"), room ""
 * The daemon turns requests into jobs, then unlinks them. libc only. */

#define REQUEST_MAGIC "jibri-pipeline-request 1"
#define REQUEST_MAX 16384

struct request {
	char kind[16];
	char path[4096];
	char room[1024];
};

/* Encode into buf; returns the length, or -1 when a field is too long. */
int request_encode(const struct request *r, char *buf, size_t size);

/* Decode what request_encode produced; 0, or -1 when malformed. */
int request_decode(const char *buf, size_t len, struct request *r);

/* Write r into dir atomically (a dot-file, then rename to NAME.req), with
 * or without fsync. Returns 0 and the final name in name (size bytes),
 * or -1 with errno set. */
int request_write(const char *dir, const struct request *r, int durable,
    char *name, size_t size);

#endif
