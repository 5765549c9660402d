/* store.c -- storage front: dispatches to the file:// or s3:// backend. */
#include "store/store.h"
#include "base/config.h"
#include "base/util.h"
#include "store/store_file.h"
#include "store/store_s3.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct store {
	char *prefix;               /* S3_PREFIX, "" for none and file:// */
	struct store_file *file;    /* file:// */
	struct store_s3 *s3;        /* s3:// */
};

/* The one place a key gets the prefix: the key an object is stored
 * under, and the key the manifest and the webhook name it by. */
static char *
store_prefixed(const char *prefix, const char *key)
{
	if (prefix == NULL || prefix[0] == '\0')
		return xstrdup(key);
	return xasprintf("%s/%s", prefix, key);
}

/* S3_PREFIX applies to s3:// alone. */
static const char *
store_prefix(const struct store_options *o)
{
	return o->s3_bucket != NULL && o->s3_prefix != NULL ? o->s3_prefix : "";
}

struct store *
store_open(const struct store_options *o, char *err, size_t errlen)
{
	struct store *st = xcalloc(1, sizeof(*st));

	if (o->s3_bucket != NULL)
		st->s3 = store_s3_open(o, err, errlen);
	else
		st->file = store_file_open(o, err, errlen);
	if (st->s3 == NULL && st->file == NULL)
		goto fail;
	st->prefix = xstrdup(store_prefix(o));
	return st;
fail:
	free(st);
	return NULL;
}

void
store_close(struct store *st)
{
	if (st == NULL)
		return;
	store_s3_close(st->s3);
	store_file_close(st->file);
	free(st->prefix);
	free(st);
}

void
store_url(struct store *st, const char *key, char *buf, size_t size)
{
	char *full = store_prefixed(st->prefix, key);

	if (st->s3 != NULL)
		store_s3_url(st->s3, full, buf, size);
	else
		store_file_url(st->file, full, buf, size);
	free(full);
}

int
store_put(struct store *st, const struct store_put *put,
    struct store_object *out, char *err, size_t errlen)
{
	char *full = store_prefixed(st->prefix, put->key);
	int rc;

	memset(out, 0, sizeof(*out));
	if (st->s3 != NULL)
		rc = store_s3_put(st->s3, full, put, out, err, errlen);
	else
		rc = store_file_put(st->file, full, put, out, err, errlen);
	free(full);
	return rc;
}

int
store_check(struct store *st, char *err, size_t errlen)
{
	if (st->s3 != NULL)
		return store_s3_check(st->s3, err, errlen);
	return store_file_check(st->file, err, errlen);
}

int
store_progress(const json_t *resume, int64_t *parts_done,
    int64_t *parts_total)
{
	/* only a multipart upload leaves a record behind */
	return store_s3_progress(resume, parts_done, parts_total);
}

/* --- for callers holding the configuration ------------------------------- */

void
store_options_from_config(struct store_options *o, const struct config *cfg)
{
	memset(o, 0, sizeof(*o));
	o->storage_url = cfg->storage_url;
	o->storage_path = cfg->storage_path;
	o->s3_bucket = cfg->s3_bucket;
	o->s3_prefix = cfg->s3_prefix;
	o->s3_endpoint = cfg->s3_endpoint;
	o->s3_region = cfg->s3_region;
	o->s3_path_style = cfg->s3_path_style;
	o->access_key = cfg->aws_access_key_id;
	o->secret_key = cfg->aws_secret_access_key;
	o->session_token = cfg->aws_session_token;
	o->part_size = cfg->s3_part_size;
	o->concurrency = cfg->s3_concurrency;
}

struct store *
store_open_config(const struct config *cfg, char *err, size_t errlen)
{
	struct store_options o;

	store_options_from_config(&o, cfg);
	return store_open(&o, err, errlen);
}

char *
store_full_key(const struct config *cfg, const char *key)
{
	struct store_options o;

	store_options_from_config(&o, cfg);
	return store_prefixed(store_prefix(&o), key);
}
