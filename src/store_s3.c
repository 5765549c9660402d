/* store_s3.c -- the s3:// backend of store.h (placeholder until SigV4 lands). */
#include "store_s3.h"

#include <stdio.h>

struct store_s3 *
store_s3_open(const struct config *cfg, char *err, size_t errlen)
{
	snprintf(err, errlen, "STORAGE_URL: `%s': s3:// storage is not built "
	    "into this version", cfg->storage_url);
	return NULL;
}

int
store_s3_put(struct store_s3 *s, const struct store_put *put,
    struct store_object *out, char *err, size_t errlen)
{
	(void)s; (void)put; (void)out;
	snprintf(err, errlen, "s3:// storage is not built into this version");
	return STORE_FATAL;
}

int
store_s3_check(struct store_s3 *s, char *err, size_t errlen)
{
	(void)s;
	snprintf(err, errlen, "s3:// storage is not built into this version");
	return STORE_FATAL;
}

void
store_s3_url(struct store_s3 *s, const char *key, char *buf, size_t size)
{
	(void)s;
	snprintf(buf, size, "s3://?/%s", key);
}

void
store_s3_close(struct store_s3 *s)
{
	(void)s;
}
