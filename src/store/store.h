/* store.h -- where finished outputs go: a file:// directory or an s3:// bucket. */
#ifndef JP_STORE_H
#define JP_STORE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct config;

/* Results of every store call. RETRY: a transient problem (network,
 * 5xx, disk full): try again later, progress kept. FATAL: the request
 * cannot succeed as configured (credentials, missing bucket): the job
 * fails with the message. */
enum { STORE_OK = 0, STORE_RETRY = -1, STORE_FATAL = -2 };

struct store;

/* What the store reads of the configuration (STORAGE_URL, S3_*, AWS_*),
 * and nothing else: the store and its tests need no struct config. The
 * strings are borrowed for the call to store_open, which copies what it
 * keeps (the secrets are wiped when the store is closed). */
struct store_options {
	const char *storage_url;   /* as given, for messages */
	const char *storage_path;  /* file://: the absolute directory */
	const char *s3_bucket;     /* s3://: the bucket; NULL for file:// */
	const char *s3_prefix;     /* key prefix without slashes at either
	                              end; "" or NULL when none */
	const char *s3_endpoint;   /* NULL: https://s3.REGION.amazonaws.com */
	const char *s3_region;
	bool s3_path_style;
	const char *access_key;    /* AWS_ACCESS_KEY_ID */
	const char *secret_key;    /* AWS_SECRET_ACCESS_KEY */
	const char *session_token; /* AWS_SESSION_TOKEN, or NULL */
	uint64_t part_size;        /* S3_PART_SIZE: bytes per part, and the
	                              largest file sent in one PUT */
	int concurrency;           /* S3_CONCURRENCY: parts in flight */
};

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

/* Open the backend o names: s3:// when o->s3_bucket is set, else the
 * file:// directory o->storage_path. The store keeps its own copies of
 * what it needs. NULL with a message naming the setting. */
struct store *store_open(const struct store_options *o, char *err,
    size_t errlen);

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

/* How far the multipart upload recorded in a put's resume object got:
 * parts finished and parts in all. 0 with both set when resume holds an
 * upload in progress; -1 when it holds none (empty, file://, a single
 * PUT). The object's layout is the backend's own: read it only here. */
int store_progress(const json_t *resume, int64_t *parts_done,
    int64_t *parts_total);

/* For callers holding the whole configuration. */

/* The STORAGE_URL, S3_* and AWS_* settings of cfg; o borrows its strings
 * (valid while cfg is). */
void store_options_from_config(struct store_options *o,
    const struct config *cfg);

/* store_open with the settings of cfg. */
struct store *store_open_config(const struct config *cfg, char *err,
    size_t errlen);

/* The object's full key in the bucket (S3_PREFIX/key) or its path below
 * the storage directory (key): what the manifest, the webhook and the
 * upload log call "key", and the key store_put stores the object under
 * (both come from one function in store.c). Newly allocated. */
char *store_full_key(const struct config *cfg, const char *key);

#endif
