/* jsonx.h -- small jansson helpers the JSON documents share. */
#ifndef JP_JSONX_H
#define JP_JSONX_H

#include <jansson.h>

/* dst[dkey] = src[skey] (a new reference) when src has a non-null skey. */
void jsonx_copy(json_t *dst, const char *dkey, const json_t *src,
    const char *skey);

/* dst[key] = v as a string when v is not NULL (absent stays absent). */
void jsonx_set_str(json_t *dst, const char *key, const char *v);

#endif
