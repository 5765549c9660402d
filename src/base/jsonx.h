/* jsonx.h -- small jansson helpers the JSON documents share. */
#ifndef JP_JSONX_H
#define JP_JSONX_H

#include <jansson.h>

/* dst[dkey] = src[skey] (a new reference) when src has a non-null skey. */
void jsonx_copy(json_t *dst, const char *dkey, const json_t *src,
    const char *skey);

#endif
