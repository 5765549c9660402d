/* store_file.h -- the file:// backend of store.h: a copy into a local directory, made durable. */
#ifndef JP_STORE_FILE_H
#define JP_STORE_FILE_H

#include "store/store.h"

struct store_file;

/* The directory o->storage_path; it is created by the first put (or by
 * store_file_check). NULL with a message when no directory is given. */
struct store_file *store_file_open(const struct store_options *o, char *err,
    size_t errlen);

/* Copy put->path to DIR/key atomically and durably, then check its size.
 * key is the object's full key (store.c's, a relative path already
 * clean). STORE_*: FATAL for what an operator must fix (permissions, a
 * file where a directory should be), RETRY for the rest. */
int store_file_put(struct store_file *f, const char *key,
    const struct store_put *put, struct store_object *out, char *err,
    size_t errlen);
int store_file_check(struct store_file *f, char *err, size_t errlen);
void store_file_url(struct store_file *f, const char *key, char *buf,
    size_t size);
void store_file_close(struct store_file *f);

#endif
