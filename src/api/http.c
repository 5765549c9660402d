/* http.c -- the HTTP server (libmicrohttpd) and its caps: bodies, headers, connections, idle clients; JSON and raw answers. */
#include "api/http.h"

#include "base/log.h"
#include "base/metrics.h"
#include "base/util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

struct http_server {
	struct MHD_Daemon *mhd;
	http_handler handle;
	void *ctx;
	atomic_int connections;      /* open now */
	atomic_int inflight;         /* handed to handle, not answered */
	atomic_bool draining;
};

enum rq_state {
	RQ_READING,                  /* headers seen, body arriving */
	RQ_HANDLED,                  /* handle called, answer awaited */
	RQ_SUSPENDED,                /* ... with the connection suspended */
	RQ_ANSWERED,                 /* a response is queued */
};

struct http_req {
	struct http_server *srv;
	struct MHD_Connection *conn;
	pthread_mutex_t mu;          /* guards state and answer */
	enum rq_state state;
	struct MHD_Response *answer; /* made by http_reply, not yet queued */
	unsigned status;
	bool counted;                /* in inflight */
	const char *method;          /* MHD's, valid while the request is */
	char *path;
	char *body;
	size_t len, cap;
	bool too_big;
	bool answered_raw;           /* the 413 went out on the socket */
	const char *route;
	int64_t received_us;
	int64_t start_mono_us;
};

static int64_t
mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t
wall_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- answers ------------------------------------------------------------ */

/* A response of text (JSON, malloc'd and taken; NULL: empty). */
static struct MHD_Response *
text_response(char *text, const char *allow, bool close)
{
	struct MHD_Response *resp;

	resp = MHD_create_response_from_buffer(text != NULL ? strlen(text) : 0,
	    text != NULL ? text : "", text != NULL ? MHD_RESPMEM_MUST_FREE :
	    MHD_RESPMEM_PERSISTENT);
	if (resp == NULL) {
		free(text);
		return NULL;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
	    "application/json");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (allow != NULL)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
	if (close)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
	return resp;
}

static struct MHD_Response *
make_response(json_t *body, const char *allow, bool close)
{
	char *text = NULL;

	if (body != NULL) {
		text = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
		json_decref(body);
	}
	return text_response(text, allow, close);
}

static json_t *
detail(const char *msg)
{
	return json_pack("{s:s}", "detail", msg);
}

/* Queue an answer from inside the access handler. */
static enum MHD_Result
queue(struct http_req *rq, unsigned status, struct MHD_Response *resp)
{
	enum MHD_Result r;

	if (resp == NULL)
		return MHD_NO;
	rq->status = status;
	rq->state = RQ_ANSWERED;
	r = MHD_queue_response(rq->conn, status, resp);
	MHD_destroy_response(resp);
	return r;
}

/* An answer the server makes itself, before or instead of the handler. */
static enum MHD_Result
refuse(struct http_req *rq, unsigned status, const char *msg)
{
	return queue(rq, status, make_response(detail(msg), NULL, true));
}

static void
answer(struct http_req *rq, unsigned status, struct MHD_Response *resp)
{
	pthread_mutex_lock(&rq->mu);
	if (rq->answer != NULL || rq->state == RQ_ANSWERED) {
		/* answered twice: a bug; keep the first */
		pthread_mutex_unlock(&rq->mu);
		if (resp != NULL)
			MHD_destroy_response(resp);
		log_error("http: request answered twice", "route", rq->route);
		return;
	}
	if (resp == NULL) {
		status = MHD_HTTP_INTERNAL_SERVER_ERROR;
		resp = text_response(NULL, NULL, true);
	}
	rq->answer = resp;
	rq->status = status;
	if (rq->state == RQ_SUSPENDED)
		MHD_resume_connection(rq->conn);
	pthread_mutex_unlock(&rq->mu);
}

void
http_reply(struct http_req *rq, unsigned status, json_t *body,
    const char *allow)
{
	answer(rq, status, make_response(body, allow, false));
}

void
http_reply_text(struct http_req *rq, unsigned status, char *json)
{
	answer(rq, status, text_response(json, NULL, false));
}

void
http_reply_raw(struct http_req *rq, unsigned status, const char *content_type,
    char *body, size_t len)
{
	struct MHD_Response *resp;

	resp = MHD_create_response_from_buffer(len, body,
	    MHD_RESPMEM_MUST_FREE);
	if (resp == NULL) {
		free(body);
		answer(rq, status, NULL);
		return;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
	    content_type);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	if (strncmp(content_type, "text/html", 9) == 0) {
		/* the page runs nothing and loads nothing: should an escape
		 * ever be missed, a browser still runs no script from it */
		MHD_add_response_header(resp, "Content-Security-Policy",
		    "default-src 'none'; style-src 'unsafe-inline'; "
		    "frame-ancestors 'none'; base-uri 'none'; form-action "
		    "'none'");
		MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
	}
	answer(rq, status, resp);
}

void
http_reply_detail(struct http_req *rq, unsigned status, const char *msg)
{
	http_reply(rq, status, detail(msg), NULL);
}

/* ---- the request's parts ------------------------------------------------ */

const char *
http_method(const struct http_req *rq)
{
	return rq->method;
}

const char *
http_path(const struct http_req *rq)
{
	return rq->path;
}

const char *
http_body(const struct http_req *rq)
{
	return rq->body != NULL ? rq->body : "";
}

size_t
http_body_len(const struct http_req *rq)
{
	return rq->len;
}

const char *
http_header(struct http_req *rq, const char *name)
{
	return MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, name);
}

int64_t
http_received_us(const struct http_req *rq)
{
	return rq->received_us;
}

int
http_from_loopback(struct http_req *rq)
{
	const union MHD_ConnectionInfo *ci;
	const struct sockaddr *sa;

	ci = MHD_get_connection_info(rq->conn,
	    MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci == NULL || (sa = ci->client_addr) == NULL)
		return 0;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		const uint8_t *b = in6->sin6_addr.s6_addr;
		if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
			return 1;
		return IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) && b[12] == 127;
	}
	return 0;
}

void
http_set_route(struct http_req *rq, const char *route)
{
	rq->route = route;
}

int
http_inflight(struct http_server *s)
{
	return s != NULL ? atomic_load(&s->inflight) : 0;
}

/* ---- libmicrohttpd's callbacks ------------------------------------------ */

static struct http_req *
new_request(struct http_server *s, struct MHD_Connection *conn,
    const char *url, const char *method)
{
	struct http_req *rq = xcalloc(1, sizeof(*rq));
	const char *q = strchr(url, '?');

	rq->srv = s;
	rq->conn = conn;
	pthread_mutex_init(&rq->mu, NULL);
	rq->method = method;
	rq->path = q != NULL ? xstrndup(url, (size_t)(q - url)) : xstrdup(url);
	rq->route = "-";
	rq->received_us = wall_us();
	rq->start_mono_us = mono_us();
	return rq;
}

/* The first call, with the headers: what the server refuses by itself. */
static enum MHD_Result
first_call(struct http_req *rq)
{
	struct http_server *s = rq->srv;
	const char *cl;
	char *end;
	unsigned long long n;

	if (atomic_load(&s->draining))
		return refuse(rq, MHD_HTTP_SERVICE_UNAVAILABLE,
		    "shutting down: try again shortly");
	if (atomic_load(&s->connections) > HTTP_MAX_CONNECTIONS)
		return refuse(rq, MHD_HTTP_SERVICE_UNAVAILABLE,
		    "too many connections: try again shortly");
	cl = MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (cl != NULL) {
		n = strtoull(cl, &end, 10);
		if (end != cl && *end == '\0' && n > HTTP_BODY_MAX)
			return refuse(rq, MHD_HTTP_CONTENT_TOO_LARGE,
			    "request body over 65536 bytes");
	}
	return MHD_YES;
}

/* Past HTTP_BODY_MAX, a chunked (or lying) body is read on without
 * being kept, this much at most, then the connection is closed. */
#define HTTP_DISCARD_MAX (1024 * 1024)

#define TOO_LARGE "{\"detail\":\"request body over 65536 bytes\"}"

/*
 * The 413 of a body that passed the cap while it streams. This
 * libmicrohttpd queues no response before the body's end, and a client
 * that streams for ever would never see one: the answer is written on
 * the socket now (nothing else is being sent on it while a body is
 * read), the rest of the body is read and dropped (so that closing does
 * not reset the connection under the answer), then it is closed.
 */
static void
early_413(struct http_req *rq)
{
	static const char resp[] = "HTTP/1.1 413 Content Too Large\r\n"
	    "Content-Type: application/json\r\nCache-Control: no-store\r\n"
	    "Connection: close\r\nContent-Length: 42\r\n\r\n" TOO_LARGE;
	const union MHD_ConnectionInfo *ci;

	_Static_assert(sizeof(TOO_LARGE) - 1 == 42, "Content-Length");
	rq->status = MHD_HTTP_CONTENT_TOO_LARGE;
	ci = MHD_get_connection_info(rq->conn,
	    MHD_CONNECTION_INFO_CONNECTION_FD);
	if (ci != NULL && send(ci->connect_fd, resp, sizeof(resp) - 1,
	    MSG_NOSIGNAL | MSG_DONTWAIT) == (ssize_t)(sizeof(resp) - 1))
		rq->answered_raw = true;
}

static enum MHD_Result
body_chunk(struct http_req *rq, const char *data, size_t *size)
{
	size_t n = *size;

	*size = 0;
	if (rq->too_big) {
		rq->len += n;
		return rq->len > HTTP_DISCARD_MAX ? MHD_NO : MHD_YES;
	}
	if (n > HTTP_BODY_MAX - rq->len) {
		rq->too_big = true;
		free(rq->body);
		rq->body = NULL;
		rq->len += n;
		rq->cap = 0;
		early_413(rq);
		return MHD_YES;
	}
	if (rq->len + n + 1 > rq->cap) {
		rq->cap = rq->len + n + 1 < 4096 ? 4096 : (rq->len + n + 1) * 2;
		if (rq->cap > HTTP_BODY_MAX + 1)
			rq->cap = HTTP_BODY_MAX + 1;
		rq->body = xrealloc(rq->body, rq->cap);
	}
	memcpy(rq->body + rq->len, data, n);
	rq->len += n;
	rq->body[rq->len] = '\0';
	return MHD_YES;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
	struct http_server *s = cls;
	struct http_req *rq = *con_cls;
	struct MHD_Response *resp;
	enum MHD_Result r;

	(void)version;
	if (rq == NULL) {
		rq = new_request(s, conn, url, method);
		*con_cls = rq;
		return first_call(rq);
	}
	if (rq->state == RQ_ANSWERED) {
		/* refused early: whatever still arrives is dropped */
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (*upload_data_size != 0)
		return body_chunk(rq, upload_data, upload_data_size);
	if (rq->too_big) {
		rq->len = 0;
		if (rq->answered_raw)
			return MHD_NO;
		return refuse(rq, MHD_HTTP_CONTENT_TOO_LARGE,
		    "request body over 65536 bytes");
	}

	pthread_mutex_lock(&rq->mu);
	if (rq->state == RQ_READING) {
		rq->state = RQ_HANDLED;
		rq->counted = true;
		atomic_fetch_add(&s->inflight, 1);
		pthread_mutex_unlock(&rq->mu);
		s->handle(rq, s->ctx);
		pthread_mutex_lock(&rq->mu);
	}
	if (rq->answer == NULL) {
		/* answered later, from another thread */
		rq->state = RQ_SUSPENDED;
		MHD_suspend_connection(conn);
		pthread_mutex_unlock(&rq->mu);
		return MHD_YES;
	}
	resp = rq->answer;
	rq->answer = NULL;
	rq->state = RQ_ANSWERED;
	pthread_mutex_unlock(&rq->mu);
	r = MHD_queue_response(conn, rq->status, resp);
	MHD_destroy_response(resp);
	return r;
}

/* jibri_pipeline_http_requests_total: by route pattern ("-", a request
 * that matched none, counts as "unmatched") and status code. */
static void
count_request(const char *route, const char *status)
{
	int r = metrics_dim_find(METRICS_DIM_ROUTE, route), c;

	if (r < 0)
		r = metrics_dim_find(METRICS_DIM_ROUTE, HTTP_UNMATCHED);
	if (r < 0)
		return;
	c = metrics_dim_find(METRICS_DIM_CODE, status);
	metrics_inc2(METRIC_HTTP_REQUESTS, (size_t)r, c < 0 ?
	    METRICS_CODE_OTHER : (size_t)c, 1);
}

static void
on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct http_server *s = cls;
	struct http_req *rq = *con_cls;
	char status[16], ms[32];
	const char *how;

	(void)conn;
	if (rq == NULL)
		return;
	*con_cls = NULL;
	switch (toe) {
	case MHD_REQUEST_TERMINATED_COMPLETED_OK:
		how = NULL;
		break;
	case MHD_REQUEST_TERMINATED_TIMEOUT_REACHED:
		how = "idle timeout";
		break;
	case MHD_REQUEST_TERMINATED_CLIENT_ABORT:
		how = "client went away";
		break;
	case MHD_REQUEST_TERMINATED_READ_ERROR:
		how = "read error";
		break;
	default:
		how = "closed";
		break;
	}
	snprintf(status, sizeof(status), "%u", rq->status);
	if (rq->status != 0)
		count_request(rq->route, status);
	snprintf(ms, sizeof(ms), "%.3f",
	    (double)(mono_us() - rq->start_mono_us) / 1000.0);
	if (how == NULL)
		log_info("http", "method", rq->method, "route", rq->route,
		    "status", status, "ms", ms);
	else if (rq->status != 0)
		log_info("http", "method", rq->method, "route", rq->route,
		    "status", status, "ms", ms, "ended", how);
	else
		log_debug("http: connection ended without a request answered",
		    "route", rq->route, "ended", how);
	if (rq->counted)
		atomic_fetch_sub(&s->inflight, 1);
	if (rq->answer != NULL)
		MHD_destroy_response(rq->answer);
	pthread_mutex_destroy(&rq->mu);
	free(rq->path);
	free(rq->body);
	free(rq);
}

static void
on_connection(void *cls, struct MHD_Connection *conn, void **socket_ctx,
    enum MHD_ConnectionNotificationCode code)
{
	struct http_server *s = cls;

	(void)conn;
	(void)socket_ctx;
	if (code == MHD_CONNECTION_NOTIFY_STARTED)
		atomic_fetch_add(&s->connections, 1);
	else
		atomic_fetch_sub(&s->connections, 1);
}

static void
on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	size_t n;

	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	log_warn("http server", "message", msg);
}

/* ---- start / stop ------------------------------------------------------- */

/* HTTP_MAX_CONNECTIONS sockets besides the files jobs open: the soft
 * limit (often 1024) up to the hard one. */
static void
raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max &&
	    rl.rlim_cur < 4 * HTTP_MAX_CONNECTIONS) {
		rl.rlim_cur = rl.rlim_max < 4 * HTTP_MAX_CONNECTIONS ?
		    rl.rlim_max : 4 * HTTP_MAX_CONNECTIONS;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

struct http_server *
http_start(const char *host, int port, int family, int nthreads,
    http_handler handle, void *ctx, char *err, size_t errlen)
{
	struct http_server *s = xcalloc(1, sizeof(*s));
	struct sockaddr_storage ss;
	struct sockaddr_in *in = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
	    MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ITC | MHD_USE_ERROR_LOG;

	raise_fd_limit();
	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET6) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		inet_pton(AF_INET6, host, &in6->sin6_addr);
		flags |= MHD_USE_IPv6;
	} else if (family == AF_INET) {
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)port);
		inet_pton(AF_INET, host, &in->sin_addr);
	} else {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		in6->sin6_addr = in6addr_any;
		flags |= MHD_USE_DUAL_STACK;
	}
	s->handle = handle;
	s->ctx = ctx;
	atomic_init(&s->connections, 0);
	atomic_init(&s->inflight, 0);
	atomic_init(&s->draining, false);
	s->mhd = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL,
	    on_request, s,
	    MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
	    MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)nthreads,
	    /* beyond ours, room to say 503 */
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned int)(HTTP_MAX_CONNECTIONS +
	    HTTP_MAX_CONNECTIONS / 4),
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)HTTP_IDLE_SECONDS,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_HEADER_MEMORY,
	    MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned int)1024,
	    MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
	    MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
	    MHD_OPTION_END);
	if (s->mhd == NULL) {
		snprintf(err, errlen, "LISTEN: cannot listen on %s%s%s:%d (in "
		    "use, or not an address of this host?)",
		    family == AF_INET6 ? "[" : "", host,
		    family == AF_INET6 ? "]" : "", port);
		free(s);
		return NULL;
	}
	return s;
}

void
http_stop(struct http_server *s)
{
	MHD_socket lfd;
	int64_t until;

	if (s == NULL)
		return;
	atomic_store(&s->draining, true);
	lfd = MHD_quiesce_daemon(s->mhd);
	until = mono_us() + (int64_t)HTTP_DRAIN_MS * 1000;
	while (atomic_load(&s->inflight) > 0 && mono_us() < until)
		usleep(10 * 1000);
	if (atomic_load(&s->inflight) > 0) {
		/* libmicrohttpd aborts on a suspended connection at stop:
		 * leave it to the exit */
		char n[24];
		log_error("http: answers still pending at stop; not waiting",
		    "pending", log_i64(n, atomic_load(&s->inflight)));
		return;
	}
	MHD_stop_daemon(s->mhd);
	if (lfd != MHD_INVALID_SOCKET)
		close(lfd);
	free(s);
}
