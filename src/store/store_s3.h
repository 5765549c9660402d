/* store_s3.h -- the s3:// backend of store.h (SigV4 via libcurl). */
#ifndef JP_STORE_S3_H
#define JP_STORE_S3_H

#include "store/store.h"

struct store_s3;

struct store_s3 *store_s3_open(const struct config *cfg, char *err,
    size_t errlen);
int store_s3_put(struct store_s3 *s, const struct store_put *put,
    struct store_object *out, char *err, size_t errlen);
int store_s3_check(struct store_s3 *s, char *err, size_t errlen);
void store_s3_url(struct store_s3 *s, const char *key, char *buf, size_t size);
void store_s3_close(struct store_s3 *s);

#endif
