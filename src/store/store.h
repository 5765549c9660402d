/* store.h -- where finished outputs go: a file:// directory or an s3:// bucket. */
#ifndef JP_STORE_H
#define JP_STORE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "base/config.h"

/* Results of every store call. RETRY: a transient problem (network,
 * 5xx, disk full): try again later, progress kept. FATAL: the request
 * cannot succeed as configured (credentials, missing bucket): the job
 * fails with the message. */
enum { STORE_OK = 0, STORE_RETRY = -1, STORE_FATAL = -2 };

struct store;

/* What one put stored, verified. */
struct store_object {
	char url[2048];       /* s3://bucket/key or file:///abs/path */
	uint64_t size;
	char etag[128];       /* S3 ETag without quotes; "" for file:// */
};

struct store_put {
	const char *key;          /* key below the configured prefix:
	                             ROOM/SESSION/recording.mp4 (already safe:
	                             no empty, "." or ".." components) */
	const char *path;         /* the local file to store */
	const char *content_type; /* video/mp4, audio/mp4, application/json */
	const char *sha256;       /* hex SHA-256 of the whole file, or NULL */
	/* Progress the backend keeps across crashes (S3 multipart: UploadId,
	 * part size, finished parts). An object owned by the caller, empty
	 * on the first call; the backend changes it, then calls checkpoint,
	 * which persists it before returning. The same object comes back on
	 * the next call after a crash or a RETRY. */
	json_t *resume;
	void (*checkpoint)(void *ctx);
	void *ctx;
	/* When not NULL and set (the daemon is stopping), a multipart upload
	 * stops at the next part boundary and returns RETRY, its progress
	 * kept for the next call. */
	const atomic_bool *cancel;
};

/* Open the backend configured by cfg (STORAGE_URL and S3_* keys). The
 * store keeps its own copies of what it needs. NULL with a message. */
struct store *store_open(const struct config *cfg, char *err, size_t errlen);

/* Store a file under key, then verify it (size; S3: HEAD and ETag).
 * Idempotent: calling it again for the same key replaces the object with
 * the same bytes. Returns STORE_* with a message naming the bucket/path,
 * key and the server's answer in err. */
int store_put(struct store *st, const struct store_put *put,
    struct store_object *out, char *err, size_t errlen);

/* One cheap request that proves the storage is reachable and writable
 * with the configured credentials (jibri-pipeline check). */
int store_check(struct store *st, char *err, size_t errlen);

/* The URL an object at key has (for logs and the webhook). */
void store_url(struct store *st, const char *key, char *buf, size_t size);

void store_close(struct store *st);

/* The object's full key in the bucket (S3_PREFIX/key) or its path below
 * the storage directory (key): what the manifest, the webhook and the
 * upload log call "key". Newly allocated. */
char *store_full_key(const struct config *cfg, const char *key);

#endif
