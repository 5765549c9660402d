/* pool.h -- a few PostgreSQL connections shared by the endpoint's threads, reconnecting with backoff. */
#ifndef JP_POOL_H
#define JP_POOL_H

#include <stddef.h>

#include <libpq-fe.h>

struct pool;

/* A pool of at most max connections to url (DATABASE_URL). */
struct pool *pool_new(const char *url, int max);
void pool_free(struct pool *p);

/* An open connection, idle or new; waits while all max are in use. NULL
 * with err when the database cannot be reached (after a failure, further
 * calls fail at once until the backoff has passed, so a database that is
 * down costs callers nothing). */
PGconn *pool_get(struct pool *p, char *err, size_t errlen);

/* Give back what pool_get gave; a broken connection is closed. */
void pool_put(struct pool *p, PGconn *conn);

#endif
