/* pool.c -- a few PostgreSQL connections shared by the endpoint's threads, reconnecting with backoff. */
#include "api/pool.h"

#include "base/util.h"
#include "api/db.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define POOL_BACKOFF_MAX_MS 5000

struct pool {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	char *url;
	int max, open;               /* open: idle + lent */
	PGconn **idle;
	int nidle;
	int64_t retry_at;            /* monotonic ms: no attempt before */
	int64_t failures;
	char last_err[512];
};

struct pool *
pool_new(const char *url, int max)
{
	struct pool *p = xcalloc(1, sizeof(*p));

	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	p->url = xstrdup(url);
	p->max = max < 1 ? 1 : max;
	p->idle = xcalloc((size_t)p->max, sizeof(*p->idle));
	return p;
}

void
pool_free(struct pool *p)
{
	int i;

	if (p == NULL)
		return;
	for (i = 0; i < p->nidle; i++)
		db_close(p->idle[i]);
	explicit_bzero(p->url, strlen(p->url));
	free(p->url);
	free(p->idle);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	free(p);
}

PGconn *
pool_get(struct pool *p, char *err, size_t errlen)
{
	PGconn *conn;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		if (p->nidle > 0) {
			conn = p->idle[--p->nidle];
			pthread_mutex_unlock(&p->mu);
			return conn;
		}
		if (p->open < p->max)
			break;
		pthread_cond_wait(&p->cv, &p->mu);
	}
	if (util_mono_ms() < p->retry_at) {
		snprintf(err, errlen, "%s", p->last_err);
		pthread_mutex_unlock(&p->mu);
		return NULL;
	}
	p->open++;
	pthread_mutex_unlock(&p->mu);

	conn = db_connect(p->url, err, errlen);

	pthread_mutex_lock(&p->mu);
	if (conn == NULL) {
		p->open--;
		p->failures++;
		p->retry_at = util_mono_ms() + util_backoff_ms(p->failures,
		    POOL_BACKOFF_MAX_MS);
		snprintf(p->last_err, sizeof(p->last_err), "%s", err);
		pthread_cond_signal(&p->cv);
	} else {
		p->failures = 0;
		p->retry_at = 0;
	}
	pthread_mutex_unlock(&p->mu);
	return conn;
}

void
pool_put(struct pool *p, PGconn *conn)
{
	if (conn == NULL)
		return;
	pthread_mutex_lock(&p->mu);
	if (PQstatus(conn) != CONNECTION_OK ||
	    PQtransactionStatus(conn) != PQTRANS_IDLE) {
		db_close(conn);
		p->open--;
	} else {
		p->idle[p->nidle++] = conn;
	}
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
}
