/* ledger.c -- the recording table follows the pipeline's jobs; who was in a meeting while a recording ran. */
#include "api/ledger.h"

#include "base/log.h"
#include "base/util.h"
#include "api/db.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* A poke waits this long for others: a job saves several times a step. */
#define LEDGER_COALESCE_MS 200

/* What was last written for one job: its id and a hash of the fields
 * the row is made of. */
struct ledger_seen {
	char id[33];
	uint64_t sig;
};

struct ledger {
	char *url;
	json_t *(*jobs)(void *ctx);
	void *ctx;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool poked, stopping;
	/* the writer thread's alone */
	struct ledger_seen *seen;    /* open addressing by id */
	size_t nseen, cap;
};

/* ---- the row ------------------------------------------------------------ */

static const char *
ledger_str(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* The last path segment of a meeting URL (the MUC room), in buf. */
static const char *
ledger_url_room(const char *url, char *buf, size_t len)
{
	const char *p;
	size_t n;

	if (url == NULL || (p = strrchr(url, '/')) == NULL)
		return NULL;
	n = strcspn(p + 1, "?#");
	if (n == 0 || n >= len)
		return NULL;
	memcpy(buf, p + 1, n);
	buf[n] = '\0';
	return buf;
}

/* bucket_name and object_key of the stored video: an s3://BUCKET/KEY
 * url's parts; for file:// storage the URL up to the key. */
static void
ledger_object(const json_t *s, char *bucket, size_t blen, const char **key)
{
	const json_t *v = json_object_get(json_object_get(s, "objects"),
	    "video");
	const char *url = ledger_str(v, "url"), *slash;
	size_t n, k, segs;

	bucket[0] = '\0';
	*key = ledger_str(v, "key");
	if (url == NULL || *key == NULL)
		return;
	if (strncmp(url, "s3://", 5) == 0) {
		n = strcspn(url + 5, "/");
		snprintf(bucket, blen, "%.*s", (int)n, url + 5);
		return;
	}
	/* the URL less as many path segments as the key has (the URL is
	 * percent-encoded, the key exact) */
	n = strlen(url);
	for (k = 0, segs = 1; (*key)[k] != '\0'; k++)
		segs += (*key)[k] == '/';
	while (segs-- > 0 && (slash = memrchr(url, '/', n)) != NULL)
		n = (size_t)(slash - url);
	snprintf(bucket, blen, "%.*s", (int)n, url);
}

int
ledger_write(PGconn *conn, const json_t *s, char *err, size_t errlen)
{
	const char *params[7], *key;
	char bucket[1024], room[256];

	ledger_object(s, bucket, sizeof(bucket), &key);
	params[0] = ledger_str(s, "id");
	params[1] = ledger_str(s, "room_name");
	params[2] = bucket[0] != '\0' ? bucket : NULL;
	params[3] = key;
	params[4] = ledger_str(s, "recorded_at");
	params[5] = ledger_str(s, "ledger_status");
	params[6] = ledger_url_room(ledger_str(s, "meeting_url"), room,
	    sizeof(room));
	if (params[0] == NULL || params[5] == NULL) {
		snprintf(err, errlen, "a job without id or state");
		return -1;
	}
	/* the meeting: the newest in that room that had started (a few
	 * minutes of clock difference allowed), else the newest at all */
	return db_exec(conn, "write a recording row",
	    "INSERT INTO recording AS r (id, meeting_id, bucket_name, "
	    "object_key, recorded_at, status) VALUES ($1, (SELECT m.id FROM "
	    "meeting m WHERE lower(m.room_name) IN (lower($2), lower($7)) "
	    "ORDER BY (m.start_date <= coalesce($5::timestamptz, now()) + "
	    "interval '5 minutes') DESC NULLS LAST, m.start_date DESC NULLS LAST "
	    "LIMIT 1), $3, $4, "
	    "$5::timestamptz, $6) ON CONFLICT (id) DO UPDATE SET meeting_id "
	    "= coalesce(r.meeting_id, EXCLUDED.meeting_id), bucket_name = "
	    "coalesce(EXCLUDED.bucket_name, r.bucket_name), object_key = "
	    "coalesce(EXCLUDED.object_key, r.object_key), recorded_at = "
	    "coalesce(EXCLUDED.recorded_at, r.recorded_at), status = "
	    "EXCLUDED.status", 7, params, NULL, err, errlen);
}

/* ---- what was written --------------------------------------------------- */

static uint64_t
ledger_hash(uint64_t h, const char *s)
{
	/* FNV-1a; a field boundary hashed too */
	for (; s != NULL && *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return (h ^ 0xff) * 0x100000001b3ULL;
}

static uint64_t
ledger_sig(const json_t *s)
{
	const json_t *v = json_object_get(json_object_get(s, "objects"),
	    "video");
	uint64_t h = 0xcbf29ce484222325ULL;

	h = ledger_hash(h, ledger_str(s, "ledger_status"));
	h = ledger_hash(h, ledger_str(v, "url"));
	h = ledger_hash(h, ledger_str(s, "room_name"));
	h = ledger_hash(h, ledger_str(s, "meeting_url"));
	return ledger_hash(h, ledger_str(s, "recorded_at"));
}

static struct ledger_seen *
ledger_slot(struct ledger *l, const char *id)
{
	size_t i = (size_t)ledger_hash(0xcbf29ce484222325ULL, id) %
	    l->cap;

	while (l->seen[i].id[0] != '\0' && strcmp(l->seen[i].id, id) != 0)
		i = (i + 1) % l->cap;
	return &l->seen[i];
}

static void
ledger_mark(struct ledger *l, const char *id, uint64_t sig)
{
	struct ledger_seen *old = l->seen, *e;
	size_t i, oldcap = l->cap;

	if ((l->nseen + 1) * 2 > l->cap) {
		l->cap = oldcap ? oldcap * 2 : 256;
		l->seen = xcalloc(l->cap, sizeof(*l->seen));
		for (i = 0; i < oldcap; i++)
			if (old[i].id[0] != '\0')
				*ledger_slot(l, old[i].id) = old[i];
		free(old);
	}
	e = ledger_slot(l, id);
	if (e->id[0] == '\0') {
		snprintf(e->id, sizeof(e->id), "%s", id);
		l->nseen++;
	}
	e->sig = sig;
}

static bool
ledger_known(struct ledger *l, const char *id, uint64_t sig)
{
	struct ledger_seen *e;

	if (l->cap == 0)
		return false;
	e = ledger_slot(l, id);
	return e->id[0] != '\0' && e->sig == sig;
}

/* ---- the thread --------------------------------------------------------- */

/* Write every row that changed. -1 when the connection broke. */
static int
ledger_sync(struct ledger *l, PGconn *conn)
{
	json_t *jobs = l->jobs(l->ctx), *s;
	char err[1024];
	const char *id;
	uint64_t sig;
	size_t i;
	int rc = 0;

	json_array_foreach(jobs, i, s) {
		id = ledger_str(s, "id");
		sig = ledger_sig(s);
		if (id == NULL || strlen(id) != 32 || ledger_known(l, id, sig))
			continue;
		if (ledger_write(conn, s, err, sizeof(err)) < 0) {
			if (PQstatus(conn) != CONNECTION_OK) {
				rc = -1;
				break;
			}
			/* refused (a Reflector column we cannot fill, say):
			 * said once per change, not retried in a loop */
			log_warn("recording row not written", "id", id,
			    "error", err);
		}
		ledger_mark(l, id, sig);
	}
	json_decref(jobs);
	return rc;
}

static void *
ledger_main(void *arg)
{
	struct ledger *l = arg;
	PGconn *conn = NULL;
	int64_t retry_at = 0, attempt = 0, next_scan = 0, now;
	char err[1024];
	struct timespec ts;
	bool stopping = false;

	for (;;) {
		pthread_mutex_lock(&l->mu);
		while (!l->stopping && !l->poked &&
		    util_mono_ms() < next_scan) {
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += 1;
			pthread_cond_timedwait(&l->cv, &l->mu, &ts);
		}
		stopping = l->stopping;
		l->poked = false;
		pthread_mutex_unlock(&l->mu);
		if (!stopping)
			usleep(LEDGER_COALESCE_MS * 1000);
		now = util_mono_ms();
		next_scan = now + LEDGER_RESCAN_MS;
		if (conn == NULL && (now >= retry_at || stopping)) {
			conn = db_connect(l->url, err, sizeof(err));
			if (conn == NULL && attempt++ == 0)
				log_warn("recording rows wait for the database",
				    "error", err);
		}
		if (conn != NULL && ledger_sync(l, conn) < 0) {
			db_close(conn);
			conn = NULL;
		}
		if (conn == NULL) {
			retry_at = util_mono_ms() + util_backoff_ms(attempt + 1,
			    LEDGER_RETRY_MAX_MS);
			if (next_scan > retry_at)
				next_scan = retry_at;
		} else {
			attempt = 0;
		}
		if (stopping)
			break;
	}
	db_close(conn);
	return NULL;
}

struct ledger *
ledger_start(const char *database_url, json_t *(*jobs)(void *ctx),
    void *ctx)
{
	struct ledger *l = xcalloc(1, sizeof(*l));

	l->url = xstrdup(database_url);
	l->jobs = jobs;
	l->ctx = ctx;
	pthread_mutex_init(&l->mu, NULL);
	pthread_cond_init(&l->cv, NULL);
	if (pthread_create(&l->thread, NULL, ledger_main, l) != 0) {
		log_error("cannot start the recording ledger thread");
		free(l->url);
		free(l);
		return NULL;
	}
	return l;
}

void
ledger_poke(struct ledger *l)
{
	if (l == NULL)
		return;
	pthread_mutex_lock(&l->mu);
	l->poked = true;
	pthread_cond_signal(&l->cv);
	pthread_mutex_unlock(&l->mu);
}

void
ledger_stop(struct ledger *l)
{
	if (l == NULL)
		return;
	pthread_mutex_lock(&l->mu);
	l->stopping = true;
	pthread_cond_signal(&l->cv);
	pthread_mutex_unlock(&l->mu);
	pthread_join(l->thread, NULL);
	pthread_mutex_destroy(&l->mu);
	pthread_cond_destroy(&l->cv);
	free(l->seen);
	free(l->url);
	free(l);
}

/* ---- participants --------------------------------------------------------- */

#define LEDGER_ISO(col) \
	"to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

json_t *
ledger_participants(PGconn *conn, const char *room, const char *meeting_url,
    int64_t from, int64_t to, char *err, size_t errlen)
{
	const char *params[4];
	char from_s[24], to_s[24], uroom[256];
	json_error_t je;
	json_t *out;
	PGresult *r;

	err[0] = '\0';
	snprintf(from_s, sizeof(from_s), "%lld", (long long)from);
	snprintf(to_s, sizeof(to_s), "%lld", (long long)to);
	params[0] = room;
	params[1] = ledger_url_room(meeting_url, uroom, sizeof(uroom));
	params[2] = from_s;
	params[3] = to_s;
	/* each occupant's first join and last leave; there during the
	 * recording: joined before its end, and not gone before its start
	 * (or back again after the last leave) */
	if (db_exec(conn, "read a meeting's participants",
	    "WITH m AS (SELECT id FROM meeting WHERE lower(room_name) IN "
	    "(lower($1), lower($2)) ORDER BY (start_date <= to_timestamp($4)) "
	    "DESC NULLS LAST, start_date DESC NULLS LAST LIMIT 1), p AS (SELECT e.occupant, "
	    "min(e.event_time) FILTER (WHERE e.delta = 1) AS joined, "
	    "max(e.event_time) FILTER (WHERE e.delta = 1) AS rejoined, "
	    "max(e.event_time) FILTER (WHERE e.delta = -1) AS gone, "
	    "(array_agg(e.event->'data'->>'user_id' ORDER BY e.event_time) "
	    "FILTER (WHERE e.delta = 1))[1] AS uid, (array_agg(e.event->'data'"
	    "->>'display_name' ORDER BY e.event_time) FILTER (WHERE e.delta = "
	    "1))[1] AS name FROM meeting_event e WHERE e.meeting_id = (SELECT "
	    "id FROM m) AND e.occupant IS NOT NULL AND e.delta <> 0 GROUP BY "
	    "e.occupant) SELECT (SELECT count(*) FROM m), coalesce(json_agg("
	    "json_build_object('id', p.uid, 'name', p.name, 'occupant', "
	    "p.occupant, 'joined_at', " LEDGER_ISO("p.joined") ", 'left_at', "
	    "CASE WHEN p.gone > p.rejoined THEN " LEDGER_ISO("p.gone") " END) "
	    "ORDER BY p.joined, p.occupant), '[]'::json)::text FROM p WHERE "
	    "p.joined IS NOT NULL AND p.joined <= to_timestamp($4) AND "
	    "(p.gone IS NULL OR p.gone >= to_timestamp($3) OR p.rejoined > "
	    "p.gone)", 4, params, &r, err, errlen) < 0)
		return NULL;
	if (strcmp(PQgetvalue(r, 0, 0), "0") == 0) {
		PQclear(r);
		return NULL;
	}
	out = json_loads(PQgetvalue(r, 0, 1), 0, &je);
	PQclear(r);
	if (out == NULL)
		snprintf(err, errlen, "participants: not JSON: %s", je.text);
	return out;
}
