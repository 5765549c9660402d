/* store_s3.h -- the s3:// backend of store.h (SigV4 via libcurl). */
#ifndef JP_STORE_S3_H
#define JP_STORE_S3_H

#include "store/store.h"

struct store_s3;

struct store_s3 *store_s3_open(const struct store_options *o, char *err,
    size_t errlen);
/* key is the object's full key in the bucket (store.c puts the prefix in
 * front); put->key is not read. */
int store_s3_put(struct store_s3 *s, const char *key,
    const struct store_put *put, struct store_object *out, char *err,
    size_t errlen);
int store_s3_check(struct store_s3 *s, char *err, size_t errlen);
/* s3://BUCKET/key for the full key. */
void store_s3_url(struct store_s3 *s, const char *key, char *buf, size_t size);
/* store_progress: the resume object is this backend's. */
int store_s3_progress(const json_t *resume, int64_t *parts_done,
    int64_t *parts_total);
void store_s3_close(struct store_s3 *s);

#endif
