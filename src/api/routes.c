/* routes.c -- the endpoint's routes: who may call them, what they take, what they answer. */
#include "api/api.h"

#include "base/hash.h"
#include "base/log.h"
#include "base/metrics.h"
#include "base/util.h"
#include "api/event.h"
#include "api/http.h"
#include "api/ingest.h"
#include "api/ledger.h"
#include "api/page.h"
#include "api/pool.h"
#include "api/rooms.h"
#include "api/tally.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define POOL_SIZE 4

struct api {
	struct http_server *http;
	struct ingest *ingest;       /* NULL without DATABASE_URL */
	struct pool *pool;           /* the API's reads; NULL without */
	struct ledger *ledger;       /* the recording table; NULL without */
	struct api_doors doors;
	pthread_mutex_t mu;          /* guards cfg */
	struct config *cfg;
	char *incoming;              /* the spool's incoming/ */
};

enum route_kind {
	R_HEALTH,
	R_EVENTS,
	R_SYNC,
	R_RECORDING,
	R_MEETING,
	R_ROOMS,
	R_ROOM_NEW,
	R_ROOM,
	R_ROOM_MEETING,
	R_RECORDINGS,
	R_RECORDING_ONE,
	R_METRICS,
	R_PAGE,
};

static const struct route {
	const char *method;
	const char *path;            /* "{id}": one segment */
	enum route_kind kind;
	enum event_shape shape;      /* R_EVENTS, R_SYNC */
} routes[] = {
	{ "GET", "/v1/jitsi/health", R_HEALTH, 0 },
	{ "POST", "/v1/jitsi/events", R_EVENTS, EVENT_SEED },
	{ "POST", "/v1/jitsi/event-sync/events/room/created", R_SYNC,
	    EVENT_ROOM_CREATED },
	{ "POST", "/v1/jitsi/event-sync/events/room/destroyed", R_SYNC,
	    EVENT_ROOM_DESTROYED },
	{ "POST", "/v1/jitsi/event-sync/events/occupant/joined", R_SYNC,
	    EVENT_OCCUPANT_JOINED },
	{ "POST", "/v1/jitsi/event-sync/events/occupant/left", R_SYNC,
	    EVENT_OCCUPANT_LEFT },
	{ "POST", "/v1/jibri/recording-complete", R_RECORDING, 0 },
	{ "GET", "/v1/meetings/{id}", R_MEETING, 0 },
	{ "GET", "/v1/rooms", R_ROOMS, 0 },
	{ "POST", "/v1/rooms", R_ROOM_NEW, 0 },
	{ "GET", "/v1/rooms/{id}", R_ROOM, 0 },
	{ "POST", "/v1/rooms/{id}/meeting", R_ROOM_MEETING, 0 },
	{ "GET", "/v1/recordings", R_RECORDINGS, 0 },
	{ "GET", "/v1/recordings/{id}", R_RECORDING_ONE, 0 },
	{ "GET", "/metrics", R_METRICS, 0 },
	{ "GET", "/", R_PAGE, 0 },
};
#define NROUTES (sizeof(routes) / sizeof(routes[0]))

#define BAD_SIGNATURE "Invalid webhook signature"

/* ---- configuration of the moment ---------------------------------------- */

static struct config *
cfg_get(struct api *a)
{
	struct config *c;

	pthread_mutex_lock(&a->mu);
	c = config_ref(a->cfg);
	pthread_mutex_unlock(&a->mu);
	return c;
}

void
api_reload(struct api *a, struct config *cfg)
{
	struct config *old;

	if (a == NULL)
		return;
	pthread_mutex_lock(&a->mu);
	old = a->cfg;
	a->cfg = config_ref(cfg);
	pthread_mutex_unlock(&a->mu);
	config_unref(old);
}

/* ---- matching ----------------------------------------------------------- */

/* Whether path fits pattern; the {id} segment into id (idlen bytes). */
static bool
path_matches(const char *pattern, const char *path, char *id, size_t idlen)
{
	const char *brace = strstr(pattern, "{id}");
	size_t pre, seg;

	if (brace == NULL)
		return strcmp(pattern, path) == 0;
	pre = (size_t)(brace - pattern);
	if (strncmp(pattern, path, pre) != 0)
		return false;
	seg = strcspn(path + pre, "/");
	if (seg == 0 || seg >= idlen || strcmp(path + pre + seg, brace + 4))
		return false;
	memcpy(id, path + pre, seg);
	id[seg] = '\0';
	return true;
}

/* ---- who may call ------------------------------------------------------- */

/* X-Jitsi-Signature: hex HMAC-SHA256(JITSI_WEBHOOK_SECRET, the exact
 * body), checked in constant time before anything reads the body. */
static bool
signed_ok(struct http_req *rq, const struct config *cfg)
{
	const char *given = http_header(rq, "X-Jitsi-Signature");
	char want[HASH_HEX_LEN];

	/* exactly what the seed's openssl dgst prints: lower-case hex */
	if (cfg->webhook_secret == NULL || given == NULL)
		return false;
	hash_hmac_sha256_hex(cfg->webhook_secret, strlen(cfg->webhook_secret),
	    http_body(rq), http_body_len(rq), want);
	return hash_equal_ct(want, given) != 0;
}

/* The token of "Authorization: Bearer TOKEN", or NULL. */
static const char *
bearer(struct http_req *rq)
{
	const char *h = http_header(rq, "Authorization");

	if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0)
		return NULL;
	h += 7;
	while (*h == ' ')
		h++;
	return *h != '\0' ? h : NULL;
}

/* Whether given is one of the comma-separated tokens in list; every
 * token is compared (constant time each), whatever matched. */
static bool
token_in(const char *list, const char *given)
{
	char *copy, *tok, *save = NULL;
	bool ok = false;

	if (list == NULL || given == NULL)
		return false;
	copy = xstrdup(list);
	for (tok = strtok_r(copy, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		while (*tok == ' ')
			tok++;
		tok[strcspn(tok, " ")] = '\0';
		if (*tok != '\0' && hash_equal_ct(tok, given))
			ok = true;
	}
	explicit_bzero(copy, strlen(copy));
	free(copy);
	return ok;
}

/* ---- health ------------------------------------------------------------- */

static void
health(struct api *a, struct http_req *rq, const struct config *cfg)
{
	struct ingest_health h;
	struct statvfs sv;
	char ts[32];
	const char *db = "not configured";
	bool spool_ok, ok = true;
	json_t *body;

	spool_ok = access(a->incoming, W_OK) == 0 &&
	    statvfs(a->incoming, &sv) == 0 && sv.f_bavail > 0;
	ok = spool_ok;
	util_iso8601_ms(util_now_ms(), ts);
	body = json_pack("{s:s, s:s, s:s, s:b}", "status", "ok", "service",
	    "jitsi-webhooks", "timestamp", ts, "webhook_secret_configured",
	    cfg->webhook_secret != NULL);
	if (a->ingest != NULL) {
		ingest_health(a->ingest, &h);
		db = h.db_up ? "ok" : "down";
		ok = ok && h.db_up;
	} else {
		memset(&h, 0, sizeof(h));
	}
	json_object_set_new(body, "database", json_string(db));
	json_object_set_new(body, "journal", json_pack("{s:I, s:I}", "events",
	    (json_int_t)h.journal_lines, "bytes", (json_int_t)h.journal_bytes));
	json_object_set_new(body, "spool", json_string(spool_ok ? "ok" :
	    "down"));
	/* Jibri's next recording fails on a full disk */
	if (a->doors.disk_full != NULL && a->doors.disk_full(a->doors.ctx)) {
		json_object_set_new(body, "recordings_disk",
		    json_string("below DISK_MIN_FREE, nothing finished to "
		    "delete"));
		ok = false;
	} else {
		json_object_set_new(body, "recordings_disk", json_string("ok"));
	}
	if (!ok)
		json_object_set_new(body, "status", json_string("degraded"));
	http_reply(rq, ok ? 200 : 503, body, NULL);
}

/* ---- events ------------------------------------------------------------- */

/* jibri_pipeline_events_total: by event name, and what became of it. */
static void
count_event(const struct ingest_item *it)
{
	static const size_t result[] = {
		[INGEST_STORED] = METRICS_RESULT_STORED,
		[INGEST_DUPLICATE] = METRICS_RESULT_DUPLICATE,
		[INGEST_JOURNALED] = METRICS_RESULT_JOURNALED,
		[INGEST_NO_MEETING] = METRICS_RESULT_NO_MEETING,
		[INGEST_UNAVAILABLE] = METRICS_RESULT_UNAVAILABLE,
		[INGEST_FAILED] = METRICS_RESULT_FAILED,
	};
	int type = metrics_dim_find(METRICS_DIM_EVENT, it->ev.type);

	if ((size_t)it->status < sizeof(result) / sizeof(result[0]))
		metrics_inc2(METRIC_EVENTS, type < 0 ? METRICS_EVENT_OTHER :
		    (size_t)type, result[it->status], 1);
}

static void
event_answered(struct ingest_item *it, void *ctx)
{
	struct http_req *rq = ctx;
	const struct event *ev = &it->ev;
	json_t *ok;

	count_event(it);
	switch (it->status) {
	case INGEST_STORED:
	case INGEST_DUPLICATE:
		ok = json_pack("{s:s, s:s, s:s}", "status", "ok", "event",
		    ev->type, "room", ev->room);
		if (it->status == INGEST_DUPLICATE)
			json_object_set_new(ok, "duplicate", json_true());
		http_reply(rq, 200, ok, NULL);
		break;
	case INGEST_JOURNALED:
		http_reply(rq, 202, json_pack("{s:s, s:s, s:s, s:b}", "status",
		    "accepted", "event", ev->type, "room", ev->room,
		    "journaled", 1), NULL);
		break;
	case INGEST_NO_MEETING:
		http_reply_detail(rq, 404, "Meeting not found");
		break;
	case INGEST_UNAVAILABLE:
		http_reply_detail(rq, 503, it->detail);
		break;
	case INGEST_FAILED:
		http_reply_detail(rq, 500, it->detail);
		break;
	}
	ingest_item_free(it);
}

static void
no_database(struct http_req *rq)
{
	http_reply_detail(rq, 503, "DATABASE_URL is not set: this endpoint "
	    "stores events in PostgreSQL");
}

static void
take_event(struct api *a, struct http_req *rq, const struct config *cfg,
    const struct route *r)
{
	struct ingest_item *it;
	char err[512];
	bool allowed;

	if (r->kind == R_EVENTS)
		allowed = signed_ok(rq, cfg);
	else
		allowed = (cfg->event_sync_token != NULL &&
		    token_in(cfg->event_sync_token, bearer(rq))) ||
		    signed_ok(rq, cfg);
	if (!allowed) {
		http_reply_detail(rq, 401, BAD_SIGNATURE);
		return;
	}
	it = ingest_item_new();
	if (event_parse(r->shape, http_body(rq), http_body_len(rq),
	    http_received_us(rq), r->kind == R_EVENTS ?
	    http_header(rq, "Idempotency-Key") : NULL, &it->ev, err,
	    sizeof(err)) < 0) {
		ingest_item_free(it);
		http_reply_detail(rq, 422, err);
		return;
	}
	if (a->ingest == NULL) {
		ingest_item_free(it);
		no_database(rq);
		return;
	}
	it->done = event_answered;
	it->ctx = rq;
	ingest_submit(a->ingest, it);
}

/* ---- recordings --------------------------------------------------------- */

/* The recording is queued whatever becomes of its event; the answer waits
 * for the event (stored, journaled, or no meeting) so that a client that
 * reads the meeting after the 202 sees it. */
struct queued {
	struct http_req *rq;
	char job_id[33];
};

static void
reply_queued(struct http_req *rq, const char *job_id)
{
	http_reply(rq, 202, json_pack("{s:s, s:s}", "status", "queued",
	    "job_id", job_id), NULL);
}

static void
recording_answered(struct ingest_item *it, void *ctx)
{
	struct queued *q = ctx;

	count_event(it);
	if (it->status == INGEST_FAILED || it->status == INGEST_UNAVAILABLE)
		log_warn("recording_completed event not stored", "room",
		    it->ev.room, "error", it->detail);
	reply_queued(q->rq, q->job_id);
	free(q);
	ingest_item_free(it);
}

static void
recording_complete(struct api *a, struct http_req *rq,
    const struct config *cfg)
{
	struct recording_complete rc;
	struct ingest_item *it;
	struct queued *q;
	char err[512], why[700], id[33];
	int r;

	if (!signed_ok(rq, cfg)) {
		http_reply_detail(rq, 401, BAD_SIGNATURE);
		return;
	}
	if (event_parse_recording(http_body(rq), http_body_len(rq), &rc, err,
	    sizeof(err)) < 0) {
		http_reply_detail(rq, 422, err);
		return;
	}
	why[0] = '\0';
	r = a->doors.admit(a->doors.ctx, rc.recording_file, rc.room_name, id,
	    why, sizeof(why));
	if (r != 0) {
		if (r > 0)
			http_reply_detail(rq, 503, "shutting down: try again "
			    "shortly");
		else
			http_reply_detail(rq, 422, why);
		event_recording_free(&rc);
		return;
	}
	if (a->ingest == NULL || rc.room_name[0] == '\0' ||
	    (q = calloc(1, sizeof(*q))) == NULL) {
		reply_queued(rq, id);
		event_recording_free(&rc);
		return;
	}
	q->rq = rq;
	memcpy(q->job_id, id, sizeof(q->job_id));
	it = ingest_item_new();
	event_from_recording(&rc, id, http_received_us(rq), &it->ev);
	it->done = recording_answered;
	it->ctx = q;
	ingest_submit(a->ingest, it);
	event_recording_free(&rc);
}

/* ---- the API (bearer token) ---------------------------------------------- */

/* Whether the caller holds one of API_TOKENS; answered 401 when not. */
static bool
api_caller(struct http_req *rq, const struct config *cfg)
{
	if (cfg->api_tokens == NULL) {
		http_reply_detail(rq, 401, "API_TOKENS is not set: the "
		    "rooms, meetings and recordings API takes no requests");
		return false;
	}
	if (!token_in(cfg->api_tokens, bearer(rq))) {
		http_reply_detail(rq, 401, "Invalid API token");
		return false;
	}
	return true;
}

/* A connection for a caller already let in; NULL when answered 503. */
static PGconn *
api_conn(struct api *a, struct http_req *rq)
{
	char err[1024];
	PGconn *conn;

	if (a->pool == NULL) {
		no_database(rq);
		return NULL;
	}
	if ((conn = pool_get(a->pool, err, sizeof(err))) == NULL) {
		log_warn("API: database unreachable", "error", err);
		http_reply_detail(rq, 503, "the database is unreachable: try "
		    "again shortly");
	}
	return conn;
}

static void
meeting(struct api *a, struct http_req *rq, const struct config *cfg,
    const char *id)
{
	char err[1024], *json;
	PGconn *conn;
	int r;

	if (!api_caller(rq, cfg) || (conn = api_conn(a, rq)) == NULL)
		return;
	r = tally_meeting_json(conn, id, &json, err, sizeof(err));
	pool_put(a->pool, conn);
	if (r < 0) {
		log_warn("meetings API: cannot read a meeting", "error", err);
		http_reply_detail(rq, 503, "the database could not answer: try "
		    "again shortly");
	} else if (r == 0) {
		http_reply_detail(rq, 404, "Meeting not found");
	} else {
		http_reply_text(rq, 200, json);
	}
}

static void
rooms(struct api *a, struct http_req *rq, const struct config *cfg,
    enum route_kind kind, const char *name)
{
	struct rooms_answer ans = { 0 };
	PGconn *conn;

	if (!api_caller(rq, cfg))
		return;
	/* a meeting needs its secret and domain before the database */
	if (kind == R_ROOM_MEETING && (cfg->jwt_secret == NULL ||
	    cfg->jitsi_domain == NULL)) {
		rooms_new_meeting(NULL, cfg, name, util_now_ms() * 1000, &ans);
		http_reply_text(rq, ans.status, ans.json);
		return;
	}
	if ((conn = api_conn(a, rq)) == NULL)
		return;
	switch (kind) {
	case R_ROOMS:
		rooms_list(conn, cfg, &ans);
		break;
	case R_ROOM_NEW:
		rooms_create(conn, cfg, http_body(rq), http_body_len(rq), &ans);
		break;
	case R_ROOM:
		rooms_get(conn, cfg, name, &ans);
		break;
	default:
		rooms_new_meeting(conn, cfg, name, http_received_us(rq), &ans);
		break;
	}
	pool_put(a->pool, conn);
	http_reply_text(rq, ans.status, ans.json);
}

static void
recordings(struct api *a, struct http_req *rq, const struct config *cfg,
    const char *id)
{
	json_t *v;

	if (!api_caller(rq, cfg))
		return;
	if (a->doors.recordings == NULL) {
		http_reply_detail(rq, 503, "the pipeline is not running here");
		return;
	}
	v = a->doors.recordings(a->doors.ctx, id);
	if (id == NULL)
		http_reply(rq, 200, json_pack("{s:o}", "recordings", v), NULL);
	else if (v == NULL)
		http_reply_detail(rq, 404, "Recording not found");
	else
		http_reply(rq, 200, v, NULL);
}

/* ---- metrics and the status page ------------------------------------------ */

/* The route label of http_requests_total: each path of the table once,
 * then HTTP_UNMATCHED. */
static const char *route_names[NROUTES + 1];
_Static_assert(NROUTES + 1 <= METRICS_DIM_MAX, "routes: METRICS_DIM_MAX");

static void
route_metrics(void)
{
	size_t i, k, n = 0;

	for (i = 0; i < NROUTES; i++) {
		for (k = 0; k < n && strcmp(route_names[k], routes[i].path); k++)
			;
		if (k == n)
			route_names[n++] = routes[i].path;
	}
	route_names[n++] = HTTP_UNMATCHED;
	metrics_dim_set(METRICS_DIM_ROUTE, route_names, n);
}

/* At each scrape, and before the page: free bytes on RECORDINGS_DIR and
 * STATE_DIR, the event journal, the disk policy's state. */
static void
collect_api(void *ctx)
{
	struct api *a = ctx;
	struct config *cfg = cfg_get(a);
	const char *dirs[METRICS_DIR_N];
	struct ingest_health h;
	struct statvfs sv;
	size_t i;

	dirs[METRICS_DIR_RECORDINGS] = cfg->recordings_dir;
	dirs[METRICS_DIR_STATE] = cfg->state_dir;
	for (i = 0; i < METRICS_DIR_N; i++) {
		bool ok = statvfs(dirs[i], &sv) == 0;
		metrics_set(METRIC_DISK_FREE, i, ok ?
		    (double)sv.f_bavail * (double)sv.f_frsize : 0);
		metrics_set(METRIC_DISK_SIZE, i, ok ?
		    (double)sv.f_blocks * (double)sv.f_frsize : 0);
	}
	config_unref(cfg);
	if (a->ingest != NULL) {
		ingest_health(a->ingest, &h);
		metrics_set(METRIC_JOURNAL_EVENTS, 0, (double)h.journal_lines);
		metrics_set(METRIC_JOURNAL_BYTES, 0, (double)h.journal_bytes);
	}
	metrics_set(METRIC_DISK_FULL, 0, a->doors.disk_full != NULL &&
	    a->doors.disk_full(a->doors.ctx) ? 1 : 0);
}

/* GET /metrics: no token (LISTEN is loopback by default; what it shows
 * holds no secret). */
static void
metrics_text(struct http_req *rq)
{
	char *text = metrics_render();

	http_reply_raw(rq, 200, "text/plain; version=0.0.4; charset=utf-8",
	    text, strlen(text));
}

/* GET /: to loopback clients, or with one of API_TOKENS. */
static void
status_page(struct api *a, struct http_req *rq, const struct config *cfg)
{
	struct page_view v;
	char host[256];
	json_t *jobs = NULL;
	char *html;

	if (!http_from_loopback(rq)) {
		if (cfg->api_tokens == NULL) {
			http_reply_detail(rq, 403, "the status page is shown to "
			    "loopback clients only (API_TOKENS is not set)");
			return;
		}
		if (!token_in(cfg->api_tokens, bearer(rq))) {
			http_reply_detail(rq, 401, "Invalid API token");
			return;
		}
	}
	collect_api(a);
	if (a->doors.recordings != NULL)
		jobs = a->doors.recordings(a->doors.ctx, NULL);
	if (gethostname(host, sizeof(host)) < 0)
		util_strlcpy(host, "?", sizeof(host));
	host[sizeof(host) - 1] = '\0';
	memset(&v, 0, sizeof(v));
	v.jobs = jobs;
	v.host = host;
	v.recordings_dir = cfg->recordings_dir;
	v.state_dir = cfg->state_dir;
	v.disk_full = metrics_value(METRIC_DISK_FULL, 0, 0) > 0;
	v.events = a->ingest != NULL;
	v.now_ms = util_now_ms();
	v.mono_ms = util_mono_ms();
	html = page_render(&v);
	json_decref(jobs);
	http_reply_raw(rq, 200, "text/html; charset=utf-8", html,
	    strlen(html));
}

/* ---- the pipeline's side -------------------------------------------------- */

static json_t *
all_jobs(void *ctx)
{
	struct api *a = ctx;

	return a->doors.recordings(a->doors.ctx, NULL);
}

void
api_job_changed(struct api *a)
{
	if (a != NULL)
		ledger_poke(a->ledger);
}

json_t *
api_participants(struct api *a, const char *room, const char *meeting_url,
    int64_t from, int64_t to)
{
	char err[1024];
	PGconn *conn;
	json_t *p;

	if (a == NULL || a->pool == NULL ||
	    (conn = pool_get(a->pool, err, sizeof(err))) == NULL)
		return NULL;
	p = ledger_participants(conn, room, meeting_url, from, to, err,
	    sizeof(err));
	pool_put(a->pool, conn);
	if (p == NULL && err[0] != '\0')
		log_warn("participants from events not read", "room", room,
		    "error", err);
	return p;
}

/* ---- dispatch ----------------------------------------------------------- */

static void
not_allowed(struct http_req *rq, const char *path)
{
	char allow[64] = "", id[256];
	size_t i;

	for (i = 0; i < NROUTES; i++)
		if (path_matches(routes[i].path, path, id, sizeof(id)) &&
		    strstr(allow, routes[i].method) == NULL)
			snprintf(allow + strlen(allow), sizeof(allow) -
			    strlen(allow), "%s%s", allow[0] ? ", " : "",
			    routes[i].method);
	if (allow[0] == '\0') {
		http_reply_detail(rq, 404, "Not found");
		return;
	}
	http_reply(rq, 405, json_pack("{s:s}", "detail", "Method not allowed"),
	    allow);
}

static void
dispatch(struct http_req *rq, void *ctx)
{
	struct api *a = ctx;
	const struct route *r = NULL;
	const char *method = http_method(rq), *path = http_path(rq);
	struct config *cfg;
	char id[256];
	size_t i;

	for (i = 0; i < NROUTES && r == NULL; i++)
		if (strcmp(routes[i].method, method) == 0 &&
		    path_matches(routes[i].path, path, id, sizeof(id)))
			r = &routes[i];
	if (r == NULL) {
		not_allowed(rq, path);
		return;
	}
	http_set_route(rq, r->path);
	cfg = cfg_get(a);
	switch (r->kind) {
	case R_HEALTH:
		health(a, rq, cfg);
		break;
	case R_EVENTS:
	case R_SYNC:
		take_event(a, rq, cfg, r);
		break;
	case R_RECORDING:
		recording_complete(a, rq, cfg);
		break;
	case R_MEETING:
		meeting(a, rq, cfg, id);
		break;
	case R_ROOMS:
	case R_ROOM_NEW:
	case R_ROOM:
	case R_ROOM_MEETING:
		rooms(a, rq, cfg, r->kind, id);
		break;
	case R_RECORDINGS:
		recordings(a, rq, cfg, NULL);
		break;
	case R_RECORDING_ONE:
		recordings(a, rq, cfg, id);
		break;
	case R_METRICS:
		metrics_text(rq);
		break;
	case R_PAGE:
		status_page(a, rq, cfg);
		break;
	}
	config_unref(cfg);
}

/* ---- start / stop ------------------------------------------------------- */

struct api *
api_start(struct config *cfg, const struct api_doors *doors, char *err,
    size_t errlen)
{
	struct api *a = xcalloc(1, sizeof(*a));
	struct ingest_options o;
	char *journal, *rejected;
	long cores = sysconf(_SC_NPROCESSORS_ONLN);

	pthread_mutex_init(&a->mu, NULL);
	a->cfg = config_ref(cfg);
	a->doors = *doors;
	a->incoming = xasprintf("%s/incoming", cfg->state_dir);
	/* the recording table follows the jobs with the endpoint off too */
	if (cfg->database_url != NULL) {
		a->pool = pool_new(cfg->database_url, POOL_SIZE);
		if (doors->recordings != NULL)
			a->ledger = ledger_start(cfg->database_url, all_jobs,
			    a);
	}
	if (cfg->listen == NULL)
		return a;
	if (cfg->database_url != NULL) {
		journal = xasprintf("%s/events.journal", cfg->state_dir);
		rejected = xasprintf("%s/events.rejected", cfg->state_dir);
		o = (struct ingest_options){ .database_url = cfg->database_url,
		    .journal_path = journal, .rejected_path = rejected,
		    .journal_max = cfg->event_journal_max };
		a->ingest = ingest_start(&o, err, errlen);
		free(journal);
		free(rejected);
		if (a->ingest == NULL) {
			api_stop(a);
			return NULL;
		}
	}
	route_metrics();
	metrics_set(METRIC_BUILD_INFO, METRICS_VERSION_THIS, 1);
	metrics_set(METRIC_START_TIME, 0, (double)util_now_ms() / 1000.0);
	metrics_collector_add(collect_api, a);
	/* a thread per core, two at least: answers wait for the database
	 * suspended, not on a thread */
	a->http = http_start(cfg->listen_host, cfg->listen_port,
	    cfg->listen_family, cores < 2 ? 2 : cores > 8 ? 8 : (int)cores,
	    dispatch, a, err, errlen);
	if (a->http == NULL) {
		api_stop(a);
		return NULL;
	}
	log_info("HTTP endpoint listening", "listen", cfg->listen, "events",
	    a->ingest != NULL ? "PostgreSQL" : "off (no DATABASE_URL)");
	return a;
}

void
api_stop(struct api *a)
{
	if (a == NULL)
		return;
	/* the answers in flight first: they wait on the writer, which is
	 * still running */
	http_stop(a->http);
	metrics_collector_remove(collect_api, a);
	ingest_stop(a->ingest);
	ledger_stop(a->ledger);
	pool_free(a->pool);
	config_unref(a->cfg);
	pthread_mutex_destroy(&a->mu);
	free(a->incoming);
	free(a);
}
