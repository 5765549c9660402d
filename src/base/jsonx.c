/* jsonx.c -- small jansson helpers the JSON documents share. */
#include "base/jsonx.h"

void
jsonx_copy(json_t *dst, const char *dkey, const json_t *src, const char *skey)
{
	json_t *v = json_object_get(src, skey);

	if (v != NULL && !json_is_null(v))
		json_object_set(dst, dkey, v);
}

void
jsonx_set_str(json_t *dst, const char *key, const char *v)
{
	if (v != NULL)
		json_object_set_new(dst, key, json_string(v));
}
