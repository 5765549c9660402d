/* http.h -- the HTTP server (libmicrohttpd) and its caps: bodies, headers, connections, idle clients; JSON and raw answers. */
#ifndef JP_HTTP_H
#define JP_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* Request bodies over this are answered 413 as soon as Content-Length
 * or the stream passes it; the rest is never buffered. */
#define HTTP_BODY_MAX (64 * 1024)
/* Memory per connection for the request line and headers (MHD's pool):
 * larger headers are refused by the server. */
#define HTTP_HEADER_MEMORY (32 * 1024)
/* Open connections answered normally; beyond, 503 and close. */
#define HTTP_MAX_CONNECTIONS 1000
/* A connection idle this long is closed. */
#define HTTP_IDLE_SECONDS 10
/* How long SIGTERM waits for answers still being made. */
#define HTTP_DRAIN_MS 10000

struct http_server;
struct http_req;

/*
 * The application's side: handle is called once per request with its
 * whole body, on one of the server's threads. It answers with
 * http_reply (at once, or later from any thread: a request not answered
 * when handle returns is suspended, holding no thread, until it is). A
 * request is answered exactly once. rq stays valid until answered.
 */
typedef void (*http_handler)(struct http_req *rq, void *ctx);

/* Listen on host:port (host "" every address; family AF_INET, AF_INET6
 * or AF_UNSPEC) with nthreads threads. NULL with err. */
struct http_server *http_start(const char *host, int port, int family,
    int nthreads, http_handler handle, void *ctx, char *err, size_t errlen);

/* Stop taking new connections and answer new requests on open ones
 * 503; wait up to HTTP_DRAIN_MS for those in flight to be answered;
 * then close everything. NULL is fine. */
void http_stop(struct http_server *s);

/* Requests handed to the application and not yet answered. */
int http_inflight(struct http_server *s);

/* What a request is. */
const char *http_method(const struct http_req *rq);
const char *http_path(const struct http_req *rq);    /* without ?query */
const char *http_body(const struct http_req *rq);    /* NUL-terminated */
size_t http_body_len(const struct http_req *rq);
/* A request header (case-insensitive name), NULL when absent. */
const char *http_header(struct http_req *rq, const char *name);
/* Receive time, Unix µs. */
int64_t http_received_us(const struct http_req *rq);
/* Whether the peer is on the loopback interface. */
int http_from_loopback(struct http_req *rq);

/* Name the route for the access log (a pattern such as
 * "/v1/meetings/{id}", never a value from the request). Each answer is
 * counted in jibri_pipeline_http_requests_total by its route, which is
 * one of the values given to METRICS_DIM_ROUTE (metrics.h), else
 * HTTP_UNMATCHED (also a request that matched no route). */
void http_set_route(struct http_req *rq, const char *route);
#define HTTP_UNMATCHED "unmatched"

/* Answer status with body (taken; NULL: no body) as JSON. allow, when not
 * NULL, is sent as the Allow header (405). Any thread. */
void http_reply(struct http_req *rq, unsigned status, json_t *body,
    const char *allow);
/* Answer status with json, JSON text already made (malloc'd; taken). */
void http_reply_text(struct http_req *rq, unsigned status, char *json);
/* Answer status with len bytes of body (malloc'd; taken) as
 * content_type (a static string). Not cached; HTML gets a
 * Content-Security-Policy that lets it run and load nothing. */
void http_reply_raw(struct http_req *rq, unsigned status,
    const char *content_type, char *body, size_t len);
/* Answer status with {"detail": detail}. */
void http_reply_detail(struct http_req *rq, unsigned status,
    const char *detail);

#endif
