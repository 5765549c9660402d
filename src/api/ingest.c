/* ingest.c -- accepted events into PostgreSQL: one writer, group commit, a journal while the database is down, rollups of meeting.events. */
#include "api/ingest.h"

#include "base/log.h"
#include "base/util.h"
#include "api/db.h"
#include "api/journal.h"
#include "api/migrate.h"
#include "api/tally.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define RECONNECT_MAX_MS 5000
/* a room's meeting is looked up again after this */
#define CACHE_TTL_MS 30000
#define CACHE_BUCKETS 256
#define CACHE_MAX 4096
/* meetings whose base (meeting_event_base) this process has made sure of */
#define BASED_MAX 8192
/* columns of a meeting_event row as the writer sends it */
#define ROW_PARAMS 10

struct cache_entry {
	char *room, *meeting_id;
	int64_t expires;
	struct cache_entry *next;
};

struct dirty {
	char **ids;
	size_t n, cap;
};

struct ingest {
	pthread_mutex_t mu;          /* queue, stopping, health, dirty */
	pthread_cond_t cv;           /* writer: work or stop */
	pthread_cond_t rollup_cv;
	struct ingest_item *head, *tail;
	size_t queued;
	bool stopping, writer_done;
	pthread_t writer, roller;

	char *url;
	struct journal *journal;
	char *rejected_path;

	/* writer thread only */
	PGconn *conn;
	bool migrated;
	int64_t retry_at, failures;
	struct cache_entry *cache[CACHE_BUCKETS];
	size_t ncache;
	char **based;
	size_t nbased;

	/* under mu */
	struct dirty dirty;
	bool db_up;
	char db_error[512];
	size_t journal_lines;
	uint64_t journal_bytes;
};

struct ingest_item *
ingest_item_new(void)
{
	return xcalloc(1, sizeof(struct ingest_item));
}

void
ingest_item_free(struct ingest_item *it)
{
	if (it == NULL)
		return;
	event_free(&it->ev);
	free(it);
}

/* ---- health ------------------------------------------------------------- */

static void
set_health(struct ingest *g, bool up, const char *why)
{
	pthread_mutex_lock(&g->mu);
	g->db_up = up;
	snprintf(g->db_error, sizeof(g->db_error), "%s", up ? "" : why);
	g->journal_lines = journal_lines(g->journal);
	g->journal_bytes = journal_bytes(g->journal);
	pthread_mutex_unlock(&g->mu);
}

void
ingest_health(struct ingest *g, struct ingest_health *h)
{
	pthread_mutex_lock(&g->mu);
	h->db_up = g->db_up;
	snprintf(h->db_error, sizeof(h->db_error), "%s", g->db_error);
	h->journal_lines = g->journal_lines;
	h->journal_bytes = g->journal_bytes;
	h->queued = g->queued;
	pthread_mutex_unlock(&g->mu);
}

/* ---- the connection ----------------------------------------------------- */

static void
drop_conn(struct ingest *g, const char *why)
{
	if (g->conn != NULL) {
		log_error("database connection lost: events are journaled "
		    "until it is back", "error", why);
		db_close(g->conn);
		g->conn = NULL;
	}
	g->failures++;
	g->retry_at = util_mono_ms() + util_backoff_ms(g->failures,
	    RECONNECT_MAX_MS);
	set_health(g, false, why);
}

/* Connected and migrated, or not yet (backoff). */
static bool
ensure_conn(struct ingest *g)
{
	char err[1024];

	if (g->conn != NULL)
		return true;
	if (util_mono_ms() < g->retry_at)
		return false;
	g->conn = db_connect(g->url, err, sizeof(err));
	if (g->conn == NULL) {
		if (g->failures == 0)
			log_error("database unreachable: events are journaled "
			    "until it answers", "error", err);
		drop_conn(g, err);
		return false;
	}
	/* a statement that hangs must not hold every event */
	if (db_exec(g->conn, "set the statement timeout",
	    "SET statement_timeout = '15s'", 0, NULL, NULL, err,
	    sizeof(err)) < 0 ||
	    (!g->migrated && migrate_run(g->conn, err, sizeof(err)) < 0)) {
		log_error("database: cannot prepare the schema", "error", err);
		drop_conn(g, err);
		return false;
	}
	if (g->failures > 0 || !g->migrated)
		log_info("database connected", "schema", "up to date");
	g->migrated = true;
	g->failures = 0;
	set_health(g, true, NULL);
	return true;
}

/* Whether the failed statement lost the connection (rather than being
 * refused by a server that still answers). */
static bool
conn_lost(struct ingest *g)
{
	return PQstatus(g->conn) != CONNECTION_OK;
}

/* ---- meetings by room name ---------------------------------------------- */

static unsigned
cache_hash(const char *s)
{
	unsigned h = 2166136261u;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h % CACHE_BUCKETS;
}

static void
cache_clear(struct ingest *g)
{
	struct cache_entry *e, *next;
	size_t i;

	for (i = 0; i < CACHE_BUCKETS; i++) {
		for (e = g->cache[i]; e != NULL; e = next) {
			next = e->next;
			free(e->room);
			free(e->meeting_id);
			free(e);
		}
		g->cache[i] = NULL;
	}
	g->ncache = 0;
}

static const char *
cache_get(struct ingest *g, const char *room)
{
	struct cache_entry *e;

	for (e = g->cache[cache_hash(room)]; e != NULL; e = e->next)
		if (strcmp(e->room, room) == 0)
			return e->expires > util_mono_ms() ? e->meeting_id : NULL;
	return NULL;
}

static void
cache_put(struct ingest *g, const char *room, const char *id)
{
	struct cache_entry *e;
	unsigned h = cache_hash(room);

	for (e = g->cache[h]; e != NULL; e = e->next)
		if (strcmp(e->room, room) == 0)
			break;
	if (e == NULL) {
		if (g->ncache >= CACHE_MAX)
			cache_clear(g);
		e = xcalloc(1, sizeof(*e));
		e->room = xstrdup(room);
		e->next = g->cache[h];
		g->cache[h] = e;
		g->ncache++;
	} else {
		free(e->meeting_id);
	}
	e->meeting_id = xstrdup(id);
	e->expires = util_mono_ms() + CACHE_TTL_MS;
}

/* The meeting of room: the newest one with that room name. 1 with its id
 * in ev->meeting_id, 0 none, -1 with err. */
static int
find_meeting(struct ingest *g, struct event *ev, char *err, size_t errlen)
{
	const char *params[1] = { ev->room };
	const char *id;
	PGresult *r;
	int found;

	if (ev->meeting_id != NULL)
		return 1;
	if ((id = cache_get(g, ev->room)) != NULL) {
		ev->meeting_id = xstrdup(id);
		return 1;
	}
	if (db_exec(g->conn, "find the meeting of a room",
	    "SELECT id FROM meeting WHERE room_name = $1 ORDER BY "
	    "start_date DESC NULLS LAST, id DESC LIMIT 1", 1, params, &r, err,
	    errlen) < 0)
		return -1;
	found = PQntuples(r) == 1;
	if (found) {
		ev->meeting_id = xstrdup(PQgetvalue(r, 0, 0));
		cache_put(g, ev->room, ev->meeting_id);
	}
	PQclear(r);
	return found;
}

static bool
based(struct ingest *g, const char *id)
{
	size_t i;

	for (i = 0; i < g->nbased; i++)
		if (strcmp(g->based[i], id) == 0)
			return true;
	return false;
}

/* Keep what meeting id held before the pipeline's first event for it (a
 * Reflector meeting's own events): once per meeting ever (the row's
 * existence says so), checked once per meeting by this process. In the
 * batch's transaction, before its rows. */
static int
ensure_base(struct ingest *g, const char *id, char *err, size_t errlen)
{
	const char *params[1] = { id };
	size_t i;

	if (based(g, id))
		return 0;
	if (db_exec(g->conn, "keep the meeting's earlier events",
	    "INSERT INTO meeting_event_base (meeting_id, events) SELECT id, "
	    "events FROM meeting WHERE id = $1 ON CONFLICT (meeting_id) DO "
	    "NOTHING", 1, params, NULL, err, errlen) < 0)
		return -1;
	if (g->nbased >= BASED_MAX) {
		for (i = 0; i < g->nbased; i++)
			free(g->based[i]);
		g->nbased = 0;
	}
	if (g->based == NULL)
		g->based = xcalloc(BASED_MAX, sizeof(*g->based));
	g->based[g->nbased++] = xstrdup(id);
	return 0;
}

/* ---- storing a batch ---------------------------------------------------- */

static void
mark_dirty(struct ingest *g, const char *id)
{
	size_t i;

	pthread_mutex_lock(&g->mu);
	for (i = 0; i < g->dirty.n; i++)
		if (strcmp(g->dirty.ids[i], id) == 0)
			break;
	if (i == g->dirty.n) {
		if (g->dirty.n == g->dirty.cap) {
			g->dirty.cap = g->dirty.cap ? g->dirty.cap * 2 : 16;
			g->dirty.ids = xrealloc(g->dirty.ids, g->dirty.cap *
			    sizeof(*g->dirty.ids));
		}
		g->dirty.ids[g->dirty.n++] = xstrdup(id);
	}
	pthread_mutex_unlock(&g->mu);
}

/* The text parameters of one row, into p[0..ROW_PARAMS), using buf for
 * the numbers and times (ROW_PARAMS * 32 bytes). */
static void
row_params(const struct event *ev, const char **p, char (*buf)[32])
{
	p[0] = ev->meeting_id;
	p[1] = ev->type;
	p[2] = ev->element;
	p[3] = ev->dedup_key;
	p[4] = ev->occupant;
	p[5] = ev->scope != NULL ? ev->scope : "";
	snprintf(buf[0], 32, "%d", ev->delta);
	p[6] = buf[0];
	event_iso_us(ev->event_us, buf[1]);
	p[7] = buf[1];
	if (ev->reported_count >= 0) {
		snprintf(buf[2], 32, "%lld", (long long)ev->reported_count);
		p[8] = buf[2];
	} else {
		p[8] = NULL;
	}
	event_iso_us(ev->received_us, buf[3]);
	p[9] = buf[3];
}

/* INSERT the n events (meetings found) in one statement; which were new
 * comes back as RETURNING (meeting_id, dedup_key). 0 with stored[i]
 * set, or -1 with err. */
static int
insert_rows(struct ingest *g, struct event **evs, size_t n, bool *stored,
    char *err, size_t errlen)
{
	const char **params = xcalloc(n * ROW_PARAMS, sizeof(*params));
	char (*nums)[32] = xcalloc(n * 4, 32);
	char *sql = NULL, *tmp;
	size_t i, k, rows;
	PGresult *r;
	int rc = -1, base;

	sql = xstrdup("INSERT INTO meeting_event (meeting_id, type, event, "
	    "dedup_key, occupant, scope, delta, event_time, reported_count, "
	    "received_at) VALUES ");
	for (i = 0; i < n; i++) {
		base = (int)(i * ROW_PARAMS);
		row_params(evs[i], params + i * ROW_PARAMS, nums + i * 4);
		tmp = xasprintf("%s%s($%d, $%d, $%d::json, $%d, $%d, $%d, "
		    "$%d::smallint, $%d::timestamptz, $%d::integer, "
		    "$%d::timestamptz)", sql, i ? ", " : "", base + 1, base + 2,
		    base + 3, base + 4, base + 5, base + 6, base + 7, base + 8,
		    base + 9, base + 10);
		free(sql);
		sql = tmp;
	}
	tmp = xasprintf("%s ON CONFLICT (meeting_id, dedup_key) DO NOTHING "
	    "RETURNING meeting_id, dedup_key", sql);
	free(sql);
	sql = tmp;
	if (db_exec(g->conn, "store events", sql, (int)(n * ROW_PARAMS),
	    params, &r, err, errlen) < 0)
		goto out;
	rows = (size_t)PQntuples(r);
	for (i = 0; i < n; i++) {
		stored[i] = evs[i]->dedup_key == NULL;
		for (k = 0; !stored[i] && k < rows; k++)
			stored[i] = !PQgetisnull(r, (int)k, 1) &&
			    strcmp(PQgetvalue(r, (int)k, 1),
			    evs[i]->dedup_key) == 0 &&
			    strcmp(PQgetvalue(r, (int)k, 0),
			    evs[i]->meeting_id) == 0;
	}
	/* the same key twice in one batch: the first is the stored one */
	for (i = 0; i < n; i++)
		for (k = 0; stored[i] && evs[i]->dedup_key != NULL && k < i; k++)
			if (stored[k] && evs[k]->dedup_key != NULL &&
			    strcmp(evs[k]->dedup_key, evs[i]->dedup_key) == 0 &&
			    strcmp(evs[k]->meeting_id, evs[i]->meeting_id) == 0)
				stored[i] = false;
	PQclear(r);
	rc = 0;
out:
	free(sql);
	free(params);
	free(nums);
	return rc;
}

/* One transaction: the bases of new meetings, then the rows. 0, or -1
 * with err (rolled back). */
static int
store_tx(struct ingest *g, struct event **evs, size_t n, bool *stored,
    char *err, size_t errlen)
{
	char sub[256];
	size_t i;

	for (i = 0; i < n && based(g, evs[i]->meeting_id); i++)
		;
	if (i == n)
		/* the usual case: one statement, its own transaction, one
		 * round trip */
		return insert_rows(g, evs, n, stored, err, errlen);
	if (db_exec(g->conn, "begin storing events", "BEGIN", 0, NULL, NULL,
	    err, errlen) < 0)
		return -1;
	for (i = 0; i < n; i++)
		if (ensure_base(g, evs[i]->meeting_id, err, errlen) < 0)
			goto fail;
	if (insert_rows(g, evs, n, stored, err, errlen) < 0)
		goto fail;
	if (db_exec(g->conn, "commit events", "COMMIT", 0, NULL, NULL, err,
	    errlen) < 0)
		goto fail;
	return 0;
fail:
	(void)db_exec(g->conn, "roll back events", "ROLLBACK", 0, NULL, NULL,
	    sub, sizeof(sub));
	/* the bases this transaction made are gone with it */
	for (i = 0; i < g->nbased; i++)
		free(g->based[i]);
	g->nbased = 0;
	return -1;
}

/*
 * Store evs[0..n) (status[i] set: STORED, DUPLICATE, NO_MEETING or
 * FAILED with detail[i]). -1 when the connection was lost before the
 * batch was committed: nothing is decided, the caller journals them.
 */
static int
store_events(struct ingest *g, struct event **evs, size_t n,
    enum ingest_status *status, char (*detail)[512])
{
	struct event **found = xcalloc(n, sizeof(*found));
	size_t *where = xcalloc(n, sizeof(*where));
	bool *stored = xcalloc(n, sizeof(*stored));
	char err[1024];
	size_t i, m = 0;
	int rc = -1, f;

	for (i = 0; i < n; i++) {
		detail[i][0] = '\0';
		f = find_meeting(g, evs[i], err, sizeof(err));
		if (f < 0) {
			if (conn_lost(g)) {
				drop_conn(g, err);
				goto out;
			}
			status[i] = INGEST_FAILED;
			util_strlcpy(detail[i], err, 512);
		} else if (f == 0) {
			status[i] = INGEST_NO_MEETING;
		} else {
			where[m] = i;
			found[m++] = evs[i];
		}
	}
	if (m > 0 && store_tx(g, found, m, stored, err, sizeof(err)) < 0) {
		if (conn_lost(g)) {
			drop_conn(g, err);
			goto out;
		}
		/* refused, connection fine: one bad event must not sink the
		 * others; each alone */
		log_warn("database refused a batch of events: storing them one "
		    "by one", "error", err);
		for (i = 0; i < m; i++) {
			if (store_tx(g, &found[i], 1, &stored[i], err,
			    sizeof(err)) == 0) {
				status[where[i]] = stored[i] ? INGEST_STORED :
				    INGEST_DUPLICATE;
				continue;
			}
			if (conn_lost(g)) {
				drop_conn(g, err);
				goto out;
			}
			status[where[i]] = INGEST_FAILED;
			util_strlcpy(detail[where[i]], err, 512);
		}
	} else {
		for (i = 0; i < m; i++)
			status[where[i]] = stored[i] ? INGEST_STORED :
			    INGEST_DUPLICATE;
	}
	for (i = 0; i < m; i++)
		if (status[where[i]] == INGEST_STORED)
			mark_dirty(g, found[i]->meeting_id);
	pthread_cond_signal(&g->rollup_cv);
	rc = 0;
out:
	free(found);
	free(where);
	free(stored);
	return rc;
}

/* ---- the journal -------------------------------------------------------- */

/* Give ev a dedup key if it has none: a replay done twice must not store
 * it twice. */
static void
journal_key(struct event *ev)
{
	unsigned char rnd[16];
	char hex[33];

	if (ev->dedup_key != NULL)
		return;
	util_random(rnd, sizeof(rnd));
	util_hex(rnd, sizeof(rnd), hex);
	ev->dedup_key = xasprintf("journal:%s", hex);
}

/* Journal the batch: 0, or -1 with err (nothing journaled). */
static int
journal_batch(struct ingest *g, struct ingest_item **items, size_t n,
    char *err, size_t errlen)
{
	char **lines = xcalloc(n, sizeof(*lines));
	size_t i;
	int rc;

	for (i = 0; i < n; i++) {
		journal_key(&items[i]->ev);
		lines[i] = event_to_json(&items[i]->ev);
	}
	rc = journal_append(g->journal, (const char *const *)lines, n, err,
	    errlen);
	for (i = 0; i < n; i++)
		free(lines[i]);
	free(lines);
	return rc;
}

/* A journaled event that can never be stored (no such meeting, refused):
 * kept beside the journal, not dropped. */
static void
reject(struct ingest *g, const char *room, const char *line, size_t len,
    const char *why)
{
	int fd;

	log_warn("journaled event not stored: kept in the rejected file",
	    "room", room, "file", g->rejected_path, "reason", why);
	fd = open(g->rejected_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC |
	    O_NOFOLLOW, 0600);
	if (fd < 0 || write(fd, line, len) != (ssize_t)len ||
	    write(fd, "\n", 1) != 1 || fdatasync(fd) < 0)
		log_error("cannot keep a rejected event", "file",
		    g->rejected_path, "error", strerror(errno));
	if (fd >= 0)
		close(fd);
}

struct replay {
	struct ingest *g;
	struct event evs[INGEST_BATCH_MAX];
	char *lines[INGEST_BATCH_MAX];
	size_t n, total;
	bool lost;
};

static int
replay_flush(struct replay *rp)
{
	struct event *p[INGEST_BATCH_MAX];
	enum ingest_status st[INGEST_BATCH_MAX];
	static char detail[INGEST_BATCH_MAX][512];
	size_t i;

	for (i = 0; i < rp->n; i++)
		p[i] = &rp->evs[i];
	if (rp->n > 0 && store_events(rp->g, p, rp->n, st, detail) < 0)
		rp->lost = true;
	for (i = 0; i < rp->n; i++) {
		if (!rp->lost && st[i] == INGEST_NO_MEETING)
			reject(rp->g, rp->evs[i].room, rp->lines[i],
			    strlen(rp->lines[i]), "no meeting has that room name");
		else if (!rp->lost && st[i] == INGEST_FAILED)
			reject(rp->g, rp->evs[i].room, rp->lines[i],
			    strlen(rp->lines[i]), detail[i]);
		event_free(&rp->evs[i]);
		free(rp->lines[i]);
	}
	rp->total += rp->n;
	rp->n = 0;
	return rp->lost ? 1 : 0;
}

static int
replay_line(const char *line, size_t len, void *ctx)
{
	struct replay *rp = ctx;

	if (event_from_json(line, len, &rp->evs[rp->n]) < 0) {
		reject(rp->g, NULL, line, len, "not an event");
		return 0;
	}
	rp->lines[rp->n++] = xstrndup(line, len);
	if (rp->n == INGEST_BATCH_MAX)
		return replay_flush(rp);
	return 0;
}

/* Store what the journal holds, in order, then empty it. 0 when it is
 * empty now, -1 when the database went away meanwhile (it stays). */
static int
replay(struct ingest *g)
{
	static struct replay rp;
	char err[512], nbuf[32];
	int rc;

	if (journal_lines(g->journal) == 0)
		return 0;
	memset(&rp, 0, sizeof(rp));
	rp.g = g;
	rc = journal_each(g->journal, replay_line, &rp, err, sizeof(err));
	if (rc == 0)
		rc = replay_flush(&rp);
	else
		replay_flush(&rp);
	if (rc != 0 || rp.lost) {
		if (rc < 0)
			log_error("cannot read the event journal", "error", err);
		return -1;
	}
	if (journal_clear(g->journal, err, sizeof(err)) < 0) {
		log_error("cannot empty the event journal (it is replayed "
		    "again: nothing is stored twice)", "error", err);
		return -1;
	}
	log_info("event journal replayed into the database", "events",
	    log_i64(nbuf, (long long)rp.total));
	set_health(g, true, NULL);
	return 0;
}

/* ---- the writer --------------------------------------------------------- */

static void
finish(struct ingest_item *it)
{
	it->done(it, it->ctx);
}

static void
handle_batch(struct ingest *g, struct ingest_item **items, size_t n)
{
	struct event *evs[INGEST_BATCH_MAX];
	enum ingest_status st[INGEST_BATCH_MAX];
	static char detail[INGEST_BATCH_MAX][512];
	char err[512];
	size_t i;

	if (ensure_conn(g) && replay(g) == 0) {
		for (i = 0; i < n; i++)
			evs[i] = &items[i]->ev;
		if (store_events(g, evs, n, st, detail) == 0) {
			for (i = 0; i < n; i++) {
				items[i]->status = st[i];
				snprintf(items[i]->detail,
				    sizeof(items[i]->detail), "%s", detail[i]);
				finish(items[i]);
			}
			return;
		}
	}
	/* the database is away: to the journal, in arrival order */
	if (journal_batch(g, items, n, err, sizeof(err)) == 0) {
		for (i = 0; i < n; i++)
			items[i]->status = INGEST_JOURNALED;
	} else {
		log_error("events neither stored nor journaled: refused "
		    "(503)", "error", err);
		for (i = 0; i < n; i++) {
			items[i]->status = INGEST_UNAVAILABLE;
			snprintf(items[i]->detail, sizeof(items[i]->detail),
			    "%s", err);
		}
	}
	pthread_mutex_lock(&g->mu);
	g->journal_lines = journal_lines(g->journal);
	g->journal_bytes = journal_bytes(g->journal);
	pthread_mutex_unlock(&g->mu);
	for (i = 0; i < n; i++)
		finish(items[i]);
}

static void *
writer_main(void *arg)
{
	struct ingest *g = arg;
	struct ingest_item *batch[INGEST_BATCH_MAX];
	struct timespec ts;
	size_t n;
	bool stop;

	for (;;) {
		pthread_mutex_lock(&g->mu);
		while (g->head == NULL && !g->stopping &&
		    !(g->journal_lines > 0 && util_mono_ms() >= g->retry_at)) {
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 100 * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&g->cv, &g->mu, &ts);
		}
		for (n = 0; g->head != NULL && n < INGEST_BATCH_MAX; n++) {
			batch[n] = g->head;
			g->head = g->head->next;
			batch[n]->next = NULL;
		}
		if (g->head == NULL)
			g->tail = NULL;
		g->queued -= n;
		stop = g->stopping && n == 0;
		pthread_mutex_unlock(&g->mu);
		if (stop)
			break;
		if (n > 0)
			handle_batch(g, batch, n);
		else if (ensure_conn(g) && replay(g) < 0 && g->conn != NULL)
			/* connected, yet the journal would not empty: not in
			 * a loop */
			g->retry_at = util_mono_ms() + 1000;
	}
	pthread_mutex_lock(&g->mu);
	g->writer_done = true;
	pthread_cond_signal(&g->rollup_cv);
	pthread_mutex_unlock(&g->mu);
	return NULL;
}

/* ---- the rollups -------------------------------------------------------- */

static void *
roller_main(void *arg)
{
	struct ingest *g = arg;
	struct dirty take;
	PGconn *conn = NULL;
	int64_t retry_at = 0, failures = 0, started, elapsed;
	char err[1024];
	size_t i;
	bool done;

	for (;;) {
		pthread_mutex_lock(&g->mu);
		while (g->dirty.n == 0 && !g->writer_done)
			pthread_cond_wait(&g->rollup_cv, &g->mu);
		take = g->dirty;
		memset(&g->dirty, 0, sizeof(g->dirty));
		done = g->writer_done;
		pthread_mutex_unlock(&g->mu);
		if (take.n == 0 && done)
			break;
		started = util_mono_ms();

		if (conn == NULL && util_mono_ms() >= retry_at &&
		    (conn = db_connect(g->url, err, sizeof(err))) == NULL) {
			failures++;
			retry_at = util_mono_ms() + util_backoff_ms(failures,
			    RECONNECT_MAX_MS);
		}
		for (i = 0; i < take.n; i++) {
			if (conn != NULL && tally_rollup(conn, take.ids[i], err,
			    sizeof(err)) == 0) {
				free(take.ids[i]);
				continue;
			}
			if (conn != NULL && PQstatus(conn) != CONNECTION_OK) {
				db_close(conn);
				conn = NULL;
			}
			if (done) {
				log_warn("meeting.events not brought up to date "
				    "at stop (the next event does it)",
				    "meeting", take.ids[i], "error", err);
				free(take.ids[i]);
				continue;
			}
			/* again later */
			log_debug("rollup failed", "meeting", take.ids[i],
			    "error", err);
			mark_dirty(g, take.ids[i]);
			free(take.ids[i]);
		}
		free(take.ids);
		if (done)
			continue;
		/* at most one rollup per meeting per interval: the events
		 * that arrive meanwhile wait for the next one */
		/* a pass that took long (meetings of many thousand events
		 * under load) is followed by a pause of half its time: the
		 * writer gets a third of the database's time at least, and
		 * meeting.events still lags by less than a second while a
		 * pass takes less than 0.6 s */
		elapsed = util_mono_ms() - started;
		if (elapsed < INGEST_ROLLUP_MS)
			usleep((useconds_t)(INGEST_ROLLUP_MS - elapsed) * 1000);
		else if (elapsed < 5 * INGEST_ROLLUP_MS)
			usleep((useconds_t)elapsed * 1000 / 2);
	}
	db_close(conn);
	return NULL;
}

/* ---- start / stop ------------------------------------------------------- */

struct ingest *
ingest_start(const struct ingest_options *o, char *err, size_t errlen)
{
	struct ingest *g = xcalloc(1, sizeof(*g));

	g->journal = journal_open(o->journal_path, o->journal_max, err, errlen);
	if (g->journal == NULL) {
		free(g);
		return NULL;
	}
	pthread_mutex_init(&g->mu, NULL);
	pthread_cond_init(&g->cv, NULL);
	pthread_cond_init(&g->rollup_cv, NULL);
	g->url = xstrdup(o->database_url);
	g->rejected_path = xstrdup(o->rejected_path);
	g->journal_lines = journal_lines(g->journal);
	g->journal_bytes = journal_bytes(g->journal);
	snprintf(g->db_error, sizeof(g->db_error), "not connected yet");
	if (g->journal_lines > 0)
		log_info("event journal holds events from before: replayed once "
		    "the database answers", "file", o->journal_path);
	/* at start, before anything is answered: the schema is there when
	 * the daemon says it started (unless the database is down) */
	(void)ensure_conn(g);
	if (pthread_create(&g->writer, NULL, writer_main, g) != 0 ||
	    pthread_create(&g->roller, NULL, roller_main, g) != 0) {
		snprintf(err, errlen, "cannot start the event writer: %s",
		    strerror(errno));
		abort();
	}
	return g;
}

void
ingest_submit(struct ingest *g, struct ingest_item *it)
{
	it->next = NULL;
	pthread_mutex_lock(&g->mu);
	if (g->tail != NULL)
		g->tail->next = it;
	else
		g->head = it;
	g->tail = it;
	g->queued++;
	pthread_cond_signal(&g->cv);
	pthread_mutex_unlock(&g->mu);
}

void
ingest_stop(struct ingest *g)
{
	size_t i;

	if (g == NULL)
		return;
	pthread_mutex_lock(&g->mu);
	g->stopping = true;
	pthread_cond_signal(&g->cv);
	pthread_mutex_unlock(&g->mu);
	pthread_join(g->writer, NULL);
	pthread_join(g->roller, NULL);
	db_close(g->conn);
	cache_clear(g);
	for (i = 0; i < g->nbased; i++)
		free(g->based[i]);
	free(g->based);
	for (i = 0; i < g->dirty.n; i++)
		free(g->dirty.ids[i]);
	free(g->dirty.ids);
	journal_close(g->journal);
	explicit_bzero(g->url, strlen(g->url));
	free(g->url);
	free(g->rejected_path);
	pthread_mutex_destroy(&g->mu);
	pthread_cond_destroy(&g->cv);
	pthread_cond_destroy(&g->rollup_cv);
	free(g);
}
