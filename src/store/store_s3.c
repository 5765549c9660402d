/* store_s3.c -- the s3:// backend of store.h: single PUT or parallel, resumable, verified multipart. */
#include "store/store_s3.h"
#include "base/hash.h"
#include "base/log.h"
#include "base/util.h"
#include "store/s3.h"
#include "store/xml.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/*
 * Integrity: every request carries the SHA-256 of its body, signed, in
 * x-amz-content-sha256; the server recomputes it and refuses a body that
 * differs (XAmzContentSHA256Mismatch). That hash is the one pass over the
 * bytes we make. It has to be known before the request starts, so each
 * part is mapped (mmap), hashed, then sent from the same mapping: the
 * bytes are read from the page cache twice but copied once (into curl's
 * buffer). Memory is S3_CONCURRENCY parts of page cache mapped at most,
 * whatever the file size. MD5s are not computed here: the server returns
 * each part's MD5 as its ETag, and the object's "-N" ETag, checked with
 * HEAD after completion, proves the server assembled exactly the parts
 * we uploaded.
 *
 * Concurrency: S3_CONCURRENCY threads, each with its own curl handle
 * (and so its own kept-alive connection), take the next unfinished part,
 * hash it, send it, and record its ETag in put->resume under one lock,
 * calling put->checkpoint so a crash loses at most the parts in flight.
 * Threads rather than the multi interface: hashing runs in parallel on
 * the cores the server does not use, and each request stays a plain
 * blocking call with its own retry loop.
 */

#define S3_RETRY_MS     30000     /* per request: give up after this long */
#define S3_BACKOFF_MS   250       /* first delay, doubled per attempt */
#define S3_BACKOFF_MAX  8000
#define S3_HASH_BUF     (256 * 1024)
#define S3_DEFAULT_TYPE "application/octet-stream"

struct store_s3 {
	struct s3_target t;
	char *prefix;           /* "" or "a/b": no slash at either end */
	char *endpoint;         /* for messages */
	uint64_t part_size;     /* S3_PART_SIZE */
	int concurrency;        /* S3_CONCURRENCY */
};

/* One store_s3_put in progress: shared by its worker threads. */
struct store_s3_upload {
	struct store_s3 *s;
	const struct store_put *put;
	const char *key;        /* full key: prefix + key (store.c's) */
	int fd;
	uint64_t size;
	int64_t mtime_ns;
	uint64_t part_size;
	unsigned nparts;
	char *upload_id;
	char **etags;           /* [nparts]: NULL until the part is done */
	unsigned next;          /* index of the next part to consider */
	unsigned sent;          /* parts sent by this call */

	pthread_mutex_t lock;
	pthread_cond_t wake;    /* broadcast when stop is set */
	atomic_int stop;        /* no new parts, give up retrying */
	atomic_int cancel;      /* abort transfers in flight (FATAL) */
	int result;             /* STORE_OK or the first failure */
	bool gone;              /* the server no longer knows upload_id */
	bool unlistable;        /* it cannot tell which parts it holds */
	char err[1024];
};

/* --- open, url, close ---------------------------------------------------- */

struct store_s3 *
store_s3_open(const struct store_options *o, char *err, size_t errlen)
{
	struct store_s3 *s;

	if (o->s3_prefix != NULL && o->s3_prefix[0] != '\0' &&
	    !util_relpath_clean(o->s3_prefix)) {
		/* URL parsers fold "." and ".." and the signature would be
		 * computed over another path than the one meant */
		snprintf(err, errlen, "STORAGE_URL: `%s': the key prefix has an "
		    "empty, \".\" or \"..\" component", o->storage_url ?
		    o->storage_url : o->s3_prefix);
		return NULL;
	}
	s = xcalloc(1, sizeof(*s));
	if (s3_target_init(&s->t, o, err, errlen) < 0) {
		free(s);
		return NULL;
	}
	s->prefix = xstrdup(o->s3_prefix ? o->s3_prefix : "");
	s->endpoint = xstrdup(o->s3_endpoint ? o->s3_endpoint : s->t.base);
	s->part_size = o->part_size;
	s->concurrency = o->concurrency > 0 ? o->concurrency : 1;
	return s;
}

void
store_s3_close(struct store_s3 *s)
{
	if (s == NULL)
		return;
	s3_target_free(&s->t);
	free(s->prefix);
	free(s->endpoint);
	free(s);
}

/* The object's URL, percent-encoded (RFC 3986; '/' kept): a room name
 * with a space, '#' or '?' still makes a URL a client can use. The key
 * itself is reported exact, apart. */
void
store_s3_url(struct store_s3 *s, const char *key, char *buf, size_t size)
{
	char *k = s3_encode_dup(key, true);

	snprintf(buf, size, "s3://%s/%s", s->t.bucket, k);
	free(k);
}

/* What an operator should look at for a refusal the server named. */
static const char *
store_s3_hint(const char *code)
{
	static const struct { const char *code, *hint; } hints[] = {
		{ "SignatureDoesNotMatch", "check AWS_SECRET_ACCESS_KEY and "
		    "S3_REGION" },
		{ "InvalidAccessKeyId", "check AWS_ACCESS_KEY_ID" },
		{ "AccessDenied", "the credentials are not allowed to do this "
		    "on the bucket" },
		{ "NoSuchBucket", "create the bucket or fix STORAGE_URL" },
		{ "AuthorizationHeaderMalformed", "check S3_REGION" },
		{ "PermanentRedirect", "the bucket is in another region or "
		    "endpoint: check S3_REGION/S3_ENDPOINT" },
		{ "RequestTimeTooSkewed", "the clock of this host is wrong" },
		{ "InvalidToken", "check AWS_SESSION_TOKEN" },
		{ "ExpiredToken", "AWS_SESSION_TOKEN has expired" },
	};
	size_t i;

	for (i = 0; i < sizeof(hints) / sizeof(hints[0]); i++)
		if (strcmp(code, hints[i].code) == 0)
			return hints[i].hint;
	return NULL;
}

/* err = "s3://bucket/key: WHAT: <answer> (hint)" */
static void
store_s3_fail_msg(struct store_s3 *s, const char *key, const char *what,
    const struct s3_resp *rs, char *err, size_t errlen)
{
	char desc[512];
	const char *hint = rs->code[0] ? store_s3_hint(rs->code) : NULL;

	s3_resp_describe(rs, desc, sizeof(desc));
	if (rs->cc != CURLE_OK && rs->cc != CURLE_READ_ERROR)
		snprintf(err, errlen, "s3://%s/%s: %s at %s: %s", s->t.bucket,
		    key ? key : "", what, s->endpoint, desc);
	else
		snprintf(err, errlen, "s3://%s/%s: %s: %s%s%s%s", s->t.bucket,
		    key ? key : "", what, desc, hint ? " (" : "",
		    hint ? hint : "", hint ? ")" : "");
}

/* Does the answer to a request about an upload id say the server no
 * longer knows it (aborted, expired, or completed)? S3 says NoSuchUpload;
 * RGW 16 says NoSuchKey for some requests (ListParts). */
static bool
store_s3_upload_gone(const struct s3_resp *rs)
{
	return rs->status == 404 && (strcmp(rs->code, "NoSuchUpload") == 0 ||
	    strcmp(rs->code, "NoSuchKey") == 0);
}

/* Does the answer to ListParts say the server cannot list parts at all?
 * Gateways and S3-compatible servers that implement only the upload half
 * of multipart answer 405 or 501, or name it in a 400. */
static bool
store_s3_cannot_list(const struct s3_resp *rs)
{
	return rs->cc == CURLE_OK && (rs->status == 405 || rs->status == 501 ||
	    strcmp(rs->code, "NotImplemented") == 0 ||
	    strcmp(rs->code, "MethodNotAllowed") == 0);
}

/* --- requests with retries ------------------------------------------------ */

/* Sleep ms unless the upload is stopping; true when it is. */
static bool
store_s3_sleep(struct store_s3_upload *u, int64_t ms)
{
	struct timespec ts;
	bool stopping;

	clock_gettime(CLOCK_MONOTONIC, &ts);   /* the condition's clock */
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&u->lock);
	while (!atomic_load(&u->stop)) {
		if (pthread_cond_timedwait(&u->wake, &u->lock, &ts) ==
		    ETIMEDOUT)
			break;
	}
	stopping = atomic_load(&u->stop);
	pthread_mutex_unlock(&u->lock);
	return stopping;
}

/* Perform rq; retry transient failures with exponential backoff and
 * jitter for up to S3_RETRY_MS after the first one. The result is the
 * class of the last attempt; rs holds its answer. */
static enum s3_class
store_s3_request(struct store_s3_upload *u, CURL *h, const struct s3_req *rq,
    struct s3_resp *rs, const char *what)
{
	int64_t first = 0, delay, elapsed;
	enum s3_class c;
	unsigned attempt;
	uint32_t r;
	char desc[512], ms[24];

	for (attempt = 0; ; attempt++) {
		if (attempt > 0)
			s3_resp_free(rs);
		c = s3_perform(h, &u->s->t, rq, rs);
		if (c != S3_TRANSIENT)
			return c;
		if (first == 0)
			first = util_mono_ms();
		delay = (int64_t)S3_BACKOFF_MS << (attempt < 6 ? attempt : 6);
		if (delay > S3_BACKOFF_MAX)
			delay = S3_BACKOFF_MAX;
		util_random(&r, sizeof(r));
		delay = delay / 2 + (int64_t)(r % (uint32_t)(delay / 2 + 1));
		elapsed = util_mono_ms() - first;
		if (elapsed + delay > S3_RETRY_MS || atomic_load(&u->stop))
			return c;
		s3_resp_describe(rs, desc, sizeof(desc));
		log_warn("s3 request failed, retrying", "bucket", u->s->t.bucket,
		    "key", u->key, "request", what, "error", desc, "retry_in_ms",
		    log_i64(ms, delay));
		if (store_s3_sleep(u, delay))
			return c;       /* another worker gave up */
	}
}

/* A part of the file mapped into memory, so that the hash and the send
 * read the page cache directly: one copy of the bytes in user space (into
 * curl's buffer) instead of two. The pipeline's outputs are not written
 * after they are made; a file truncated while mapped would raise SIGBUS,
 * which is why files given to store_put must stay as they are until it
 * returns. */
struct store_s3_mapping {
	unsigned char *base;    /* the mapping, or NULL when not mapped */
	size_t len;
	const unsigned char *data;  /* the part's first byte */
};

static int
store_s3_map(int fd, uint64_t off, uint64_t len, struct store_s3_mapping *m)
{
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE), start;

	memset(m, 0, sizeof(*m));
	if (len == 0 || len > SIZE_MAX - page)
		return -1;
	start = off - off % page;
	m->len = (size_t)(len + (off - start));
	m->base = mmap(NULL, m->len, PROT_READ, MAP_SHARED, fd, (off_t)start);
	if (m->base == MAP_FAILED) {
		m->base = NULL;
		return -1;
	}
	madvise(m->base, m->len, MADV_WILLNEED);    /* read ahead the part */
	m->data = m->base + (off - start);
	return 0;
}

static void
store_s3_unmap(struct store_s3_mapping *m)
{
	if (m->base != NULL)
		munmap(m->base, m->len);
	memset(m, 0, sizeof(*m));
}

/* SHA-256 of len bytes at off with pread, for files that cannot be
 * mapped. 0, or -1 with errno. */
static int
store_s3_hash_range(int fd, uint64_t off, uint64_t len, unsigned char *buf,
    char hex[HASH_HEX_LEN])
{
	struct hash_sha256 *hs = hash_sha256_new();
	ssize_t n;
	size_t want;

	while (len > 0) {
		want = len < S3_HASH_BUF ? (size_t)len : S3_HASH_BUF;
		n = pread(fd, buf, want, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;    /* the file shrank */
			hash_sha256_final(hs, NULL, NULL);
			return -1;
		}
		hash_sha256_update(hs, buf, (size_t)n);
		off += (uint64_t)n;
		len -= (uint64_t)n;
	}
	hash_sha256_final(hs, NULL, hex);
	return 0;
}

/* Send len bytes at off with method PUT (an object or a part, query
 * selects which), hashed first; re-read and re-sent once when the server
 * says it received other bytes. STORE_* with err set on failure. */
static int
store_s3_send(struct store_s3_upload *u, CURL *h, unsigned char *buf,
    uint64_t off, uint64_t len, const char *query, const char *what,
    struct s3_resp *rs, char *err, size_t errlen)
{
	char hex[HASH_HEX_LEN];
	struct s3_req rq;
	struct store_s3_mapping m;
	enum s3_class c;
	int tries;

	for (tries = 0; tries < 2; tries++) {
		if (store_s3_map(u->fd, off, len, &m) == 0) {
			struct hash_sha256 *hs = hash_sha256_new();

			hash_sha256_update(hs, m.data, (size_t)len);
			hash_sha256_final(hs, NULL, hex);
		} else if (store_s3_hash_range(u->fd, off, len, buf, hex) < 0) {
			snprintf(err, errlen, "s3://%s/%s: reading %s: %s",
			    u->s->t.bucket, u->key, u->put->path,
			    errno == EIO ? "the file is shorter than when the "
			    "upload started" : strerror(errno));
			return STORE_FATAL;
		}
		if (query == NULL && u->put->sha256 != NULL &&
		    strcmp(hex, u->put->sha256) != 0) {
			snprintf(err, errlen, "s3://%s/%s: %s does not match its "
			    "recorded sha256 %s (it has %s): the file changed",
			    u->s->t.bucket, u->key, u->put->path, u->put->sha256,
			    hex);
			store_s3_unmap(&m);
			return STORE_FATAL;
		}
		memset(&rq, 0, sizeof(rq));
		rq.method = "PUT";
		rq.key = u->key;
		rq.query = query;
		rq.content_type = query == NULL ? (u->put->content_type ?
		    u->put->content_type : S3_DEFAULT_TYPE) : NULL;
		rq.sha256 = hex;
		if (m.base != NULL) {
			rq.fd = -1;
			rq.mem = (const char *)m.data;
			rq.mem_len = (size_t)len;
		} else {
			rq.fd = u->fd;
			rq.off = off;
			rq.len = len;
		}
		rq.cancel = &u->cancel;
		c = store_s3_request(u, h, &rq, rs, what);
		store_s3_unmap(&m);
		if (c == S3_OK && rs->etag[0] == '\0') {
			util_strlcpy(rs->code, "NoETag", sizeof(rs->code));
			util_strlcpy(rs->message, "the server answered without "
			    "an ETag", sizeof(rs->message));
			c = S3_FATAL;
		}
		if (c == S3_OK)
			return STORE_OK;
		if (c == S3_DIGEST && tries == 0) {
			char desc[512];

			s3_resp_describe(rs, desc, sizeof(desc));
			log_warn("s3 server received other bytes than were sent, "
			    "sending again", "bucket", u->s->t.bucket, "key",
			    u->key, "request", what, "error", desc);
			s3_resp_free(rs);
			continue;
		}
		break;
	}
	store_s3_fail_msg(u->s, u->key, what, rs, err, errlen);
	if (c == S3_TRANSIENT)
		return STORE_RETRY;
	if (c == S3_CANCELLED)
		return STORE_RETRY;     /* the caller knows why */
	if (query != NULL && store_s3_upload_gone(rs))
		u->gone = true;
	return STORE_FATAL;
}

/* HEAD the object: it must have size bytes and, when we know it, the
 * ETag etag. out gets the server's ETag. */
static int
store_s3_verify(struct store_s3_upload *u, CURL *h, const char *etag,
    struct store_object *out, char *err, size_t errlen)
{
	struct s3_req rq = { .method = "HEAD", .key = u->key, .fd = -1,
	    .cancel = &u->cancel };
	struct s3_resp rs;
	enum s3_class c;
	int rc = STORE_FATAL;

	c = store_s3_request(u, h, &rq, &rs, "HEAD (verify)");
	if (c != S3_OK) {
		store_s3_fail_msg(u->s, u->key, "HEAD (verify)", &rs, err,
		    errlen);
		rc = c == S3_TRANSIENT ? STORE_RETRY : STORE_FATAL;
		goto done;
	}
	if (rs.length < 0 || (uint64_t)rs.length != u->size) {
		snprintf(err, errlen, "s3://%s/%s: stored object has %lld bytes, "
		    "want %" PRIu64, u->s->t.bucket, u->key,
		    (long long)rs.length, u->size);
		goto done;
	}
	/* A multipart ETag ("…-N") is compared with ours; a server that
	 * names objects otherwise is checked by size alone. */
	if (etag != NULL && etag[0] != '\0' && rs.etag[0] != '\0' &&
	    (strchr(etag, '-') == NULL || strchr(rs.etag, '-') != NULL) &&
	    strcmp(etag, rs.etag) != 0) {
		snprintf(err, errlen, "s3://%s/%s: stored object has ETag %s, "
		    "want %s from the parts uploaded", u->s->t.bucket, u->key,
		    rs.etag, etag);
		goto done;
	}
	store_s3_url(u->s, u->key, out->url, sizeof(out->url));
	out->size = u->size;
	util_strlcpy(out->etag, rs.etag[0] ? rs.etag : (etag ? etag : ""),
	    sizeof(out->etag));
	rc = STORE_OK;
done:
	s3_resp_free(&rs);
	return rc;
}

/* --- single PUT ---------------------------------------------------------- */

static int
store_s3_put_single(struct store_s3_upload *u, CURL *h, struct store_object *out,
    char *err, size_t errlen)
{
	unsigned char *buf = xmalloc(S3_HASH_BUF);
	struct s3_resp rs;
	int rc;

	rc = store_s3_send(u, h, buf, 0, u->size, NULL, "PutObject", &rs, err,
	    errlen);
	if (rc == STORE_OK)
		rc = store_s3_verify(u, h, rs.etag, out, err, errlen);
	s3_resp_free(&rs);
	free(buf);
	return rc;
}

/* --- multipart ----------------------------------------------------------- */

static uint64_t
store_s3_part_len(const struct store_s3_upload *u, unsigned i)
{
	if (i + 1 < u->nparts)
		return u->part_size;
	return u->size - (uint64_t)(u->nparts - 1) * u->part_size;
}

/* Record the first failure; FATAL also stops the transfers in flight. */
static void
store_s3_fail(struct store_s3_upload *u, int rc, const char *msg)
{
	pthread_mutex_lock(&u->lock);
	if (u->result == STORE_OK || (rc == STORE_FATAL &&
	    u->result != STORE_FATAL)) {
		u->result = rc;
		util_strlcpy(u->err, msg, sizeof(u->err));
	}
	atomic_store(&u->stop, 1);
	if (rc == STORE_FATAL)
		atomic_store(&u->cancel, 1);
	pthread_cond_broadcast(&u->wake);
	pthread_mutex_unlock(&u->lock);
}

static void
store_s3_checkpoint(struct store_s3_upload *u)
{
	if (u->put->checkpoint != NULL)
		u->put->checkpoint(u->put->ctx);
}

/* Write the state that lets a later call continue: called with the lock
 * held (or before the workers start). */
static void
store_s3_resume_init(struct store_s3_upload *u)
{
	json_t *r = u->put->resume;

	json_object_clear(r);
	json_object_set_new(r, "upload_id", json_string(u->upload_id));
	json_object_set_new(r, "key", json_string(u->key));
	json_object_set_new(r, "size", json_integer((json_int_t)u->size));
	json_object_set_new(r, "mtime_ns", json_integer(u->mtime_ns));
	json_object_set_new(r, "part_size",
	    json_integer((json_int_t)u->part_size));
	json_object_set_new(r, "parts", json_array());
}

static void *
store_s3_worker(void *p)
{
	struct store_s3_upload *u = p;
	unsigned char *buf = xmalloc(S3_HASH_BUF);
	CURL *h = curl_easy_init();
	char *enc = s3_encode_dup(u->upload_id, false), *query;
	char what[64], err[1024];
	struct s3_resp rs;
	unsigned i;
	int rc;

	if (h == NULL) {
		store_s3_fail(u, STORE_RETRY, "cannot create a curl handle");
		goto done;
	}
	for (;;) {
		pthread_mutex_lock(&u->lock);
		while (u->next < u->nparts && u->etags[u->next] != NULL)
			u->next++;
		i = u->next++;
		pthread_mutex_unlock(&u->lock);
		if (i >= u->nparts || atomic_load(&u->stop))
			break;
		if (u->put->cancel != NULL && atomic_load(u->put->cancel)) {
			store_s3_fail(u, STORE_RETRY, "stopped at a part boundary "
			    "(the daemon is stopping); the upload continues at the "
			    "next start");
			break;
		}
		query = xasprintf("partNumber=%u&uploadId=%s", i + 1, enc);
		util_snprintf(what, sizeof(what), "UploadPart %u of %u", i + 1,
		    u->nparts);
		rc = store_s3_send(u, h, buf, (uint64_t)i * u->part_size,
		    store_s3_part_len(u, i), query, what, &rs, err,
		    sizeof(err));
		free(query);
		if (rc != STORE_OK) {
			if (!atomic_load(&u->cancel))
				store_s3_fail(u, rc, err);
			s3_resp_free(&rs);
			break;
		}
		pthread_mutex_lock(&u->lock);
		u->etags[i] = xstrdup(rs.etag);
		u->sent++;
		json_array_append_new(json_object_get(u->put->resume, "parts"),
		    json_pack("[I,s]", (json_int_t)(i + 1), rs.etag));
		store_s3_checkpoint(u);
		pthread_mutex_unlock(&u->lock);
		s3_resp_free(&rs);
	}
done:
	curl_easy_cleanup(h);
	free(enc);
	free(buf);
	return NULL;
}

/* Send every unfinished part with up to S3_CONCURRENCY workers. */
static int
store_s3_send_parts(struct store_s3_upload *u, char *err, size_t errlen)
{
	pthread_t tids[64];
	unsigned i, todo = 0, n;

	for (i = 0; i < u->nparts; i++)
		todo += u->etags[i] == NULL;
	n = (unsigned)u->s->concurrency;
	if (n > todo)
		n = todo;
	if (n > sizeof(tids) / sizeof(tids[0]))
		n = sizeof(tids) / sizeof(tids[0]);
	u->next = 0;
	u->result = STORE_OK;
	for (i = 0; i < n; i++) {
		if (pthread_create(&tids[i], NULL, store_s3_worker, u) != 0) {
			store_s3_fail(u, STORE_RETRY, "cannot start an upload "
			    "thread");
			break;
		}
	}
	n = i;
	for (i = 0; i < n; i++)
		pthread_join(tids[i], NULL);
	if (u->result != STORE_OK)
		snprintf(err, errlen, "%s", u->err);
	return u->result;
}

/* ListParts (every page) to learn what the server holds for upload_id:
 * parts it lists with the size we would send count as done, with the
 * server's ETag; the others are sent again. On failure u->gone says the
 * server no longer knows the upload, u->unlistable that it cannot list
 * parts at all. */
static int
store_s3_reconcile(struct store_s3_upload *u, CURL *h, char *err, size_t errlen)
{
	char *enc = s3_encode_dup(u->upload_id, false), *query = NULL;
	char num[16], etag[S3_ETAG_MAX], size[24];
	unsigned marker = 0, i, done = 0, adopted = 0;
	const char *inner;
	size_t inner_len, pos;
	struct s3_resp rs;
	enum s3_class c;
	int64_t psize;
	char **listed = xcalloc(u->nparts, sizeof(char *));
	int rc = STORE_FATAL;

	for (;;) {
		struct s3_req rq = { .method = "GET", .key = u->key, .fd = -1,
		    .cancel = &u->cancel };
		char trunc[8] = "", next[16] = "";

		free(query);
		query = xasprintf("max-parts=1000&part-number-marker=%u&"
		    "uploadId=%s", marker, enc);
		rq.query = query;
		c = store_s3_request(u, h, &rq, &rs, "ListParts");
		if (c != S3_OK) {
			store_s3_fail_msg(u->s, u->key, "ListParts", &rs, err,
			    errlen);
			if (store_s3_upload_gone(&rs))
				u->gone = true;
			else if (c != S3_CANCELLED && store_s3_cannot_list(&rs))
				u->unlistable = true;
			rc = c == S3_TRANSIENT ? STORE_RETRY : STORE_FATAL;
			s3_resp_free(&rs);
			goto done;
		}
		pos = 0;
		while (xml_next(rs.body, rs.body_len, &pos, "Part", &inner,
		    &inner_len) == 0) {
			int64_t n;

			if (xml_text(inner, inner_len, "PartNumber", num,
			    sizeof(num)) < 0 || util_parse_i64(num, &n) < 0 ||
			    xml_text(inner, inner_len, "ETag", etag,
			    sizeof(etag)) < 0 || xml_text(inner, inner_len, "Size",
			    size, sizeof(size)) < 0 || util_parse_i64(size,
			    &psize) < 0 || n < 1 || (uint64_t)n > u->nparts)
				continue;
			if ((uint64_t)psize != store_s3_part_len(u,
			    (unsigned)(n - 1)))
				continue;       /* not ours to keep */
			free(listed[n - 1]);
			listed[n - 1] = xasprintf("%.*s", (int)strcspn(etag[0] ==
			    '"' ? etag + 1 : etag, "\""), etag[0] == '"' ?
			    etag + 1 : etag);
		}
		xml_text(rs.body, rs.body_len, "IsTruncated", trunc,
		    sizeof(trunc));
		xml_text(rs.body, rs.body_len, "NextPartNumberMarker", next,
		    sizeof(next));
		s3_resp_free(&rs);
		if (strcmp(trunc, "true") != 0)
			break;
		{
			int64_t m;
			if (util_parse_i64(next, &m) < 0 || m <= (int64_t)marker ||
			    m >= S3_MAX_PARTS) {
				snprintf(err, errlen, "s3://%s/%s: ListParts: "
				    "truncated answer without a usable "
				    "NextPartNumberMarker", u->s->t.bucket,
				    u->key);
				rc = STORE_RETRY;
				goto done;
			}
			marker = (unsigned)m;
		}
	}
	/* The server's list is the truth: a part we recorded but it lacks is
	 * sent again; a part it has that a crash kept us from recording was
	 * verified on arrival (signed sha256) and is kept. */
	json_array_clear(json_object_get(u->put->resume, "parts"));
	for (i = 0; i < u->nparts; i++) {
		if (listed[i] != NULL && u->etags[i] == NULL)
			adopted++;
		free(u->etags[i]);
		u->etags[i] = listed[i];
		listed[i] = NULL;
		if (u->etags[i] != NULL) {
			done++;
			json_array_append_new(json_object_get(u->put->resume,
			    "parts"), json_pack("[I,s]", (json_int_t)(i + 1),
			    u->etags[i]));
		}
	}
	store_s3_checkpoint(u);
	{
		char a[24], b[24], d[24];
		log_info("s3 upload resumed", "bucket", u->s->t.bucket, "key",
		    u->key, "upload_id", u->upload_id, "parts_done",
		    log_i64(a, done), "parts", log_i64(b, u->nparts),
		    "parts_found_unrecorded", log_i64(d, adopted));
	}
	rc = STORE_OK;
done:
	for (i = 0; i < u->nparts; i++)
		free(listed[i]);
	free(listed);
	free(query);
	free(enc);
	return rc;
}

/* Load a previous attempt from put->resume when it is for this key and
 * this file (same size and mtime); 1 when loaded, 0 when there is none
 * (or it is for something else: *stale_key and *stale_id get the
 * upload to abort). */
static int
store_s3_resume_load(struct store_s3_upload *u, char **stale_key,
    char **stale_id)
{
	json_t *r = u->put->resume, *parts, *p;
	const char *id = json_string_value(json_object_get(r, "upload_id"));
	const char *key = json_string_value(json_object_get(r, "key"));
	json_int_t size = json_integer_value(json_object_get(r, "size"));
	json_int_t mtime = json_integer_value(json_object_get(r, "mtime_ns"));
	json_int_t psize = json_integer_value(json_object_get(r,
	    "part_size"));
	size_t i;

	*stale_key = *stale_id = NULL;
	if (id == NULL || id[0] == '\0')
		return 0;
	if (key == NULL || strcmp(key, u->key) != 0 || size < 0 ||
	    (uint64_t)size != u->size || mtime != u->mtime_ns ||
	    (uint64_t)psize < S3_MIN_PART || (uint64_t)psize > S3_MAX_PART ||
	    (u->size + (uint64_t)psize - 1) / (uint64_t)psize > S3_MAX_PARTS) {
		if (key != NULL) {
			*stale_key = xstrdup(key);
			*stale_id = xstrdup(id);
		}
		return 0;
	}
	u->upload_id = xstrdup(id);
	u->part_size = (uint64_t)psize;
	u->nparts = (unsigned)((u->size + u->part_size - 1) / u->part_size);
	if (u->nparts == 0)
		u->nparts = 1;
	u->etags = xcalloc(u->nparts, sizeof(char *));
	parts = json_object_get(r, "parts");
	json_array_foreach(parts, i, p) {
		json_int_t n = json_integer_value(json_array_get(p, 0));
		const char *e = json_string_value(json_array_get(p, 1));

		if (n >= 1 && (uint64_t)n <= u->nparts && e != NULL &&
		    e[0] != '\0' && strlen(e) < S3_ETAG_MAX) {
			free(u->etags[n - 1]);
			u->etags[n - 1] = xstrdup(e);
		}
	}
	return 1;
}

/* What status shows of an upload in progress, from the same record:
 * parts recorded, and parts in all for the recorded size and part size. */
int
store_s3_progress(const json_t *resume, int64_t *parts_done,
    int64_t *parts_total)
{
	json_int_t size = json_integer_value(json_object_get(resume, "size"));
	json_int_t psize = json_integer_value(json_object_get(resume,
	    "part_size"));
	const json_t *parts = json_object_get(resume, "parts");

	if (psize <= 0 || !json_is_array(parts))
		return -1;
	*parts_done = (int64_t)json_array_size(parts);
	*parts_total = (int64_t)((size + psize - 1) / psize);
	return 0;
}

static void
store_s3_abort(struct store_s3_upload *u, CURL *h, const char *key,
    const char *upload_id)
{
	char *enc = s3_encode_dup(upload_id, false);
	char *query = xasprintf("uploadId=%s", enc);
	struct s3_req rq = { .method = "DELETE", .key = key, .fd = -1,
	    .query = query };
	struct s3_resp rs;
	char desc[512];
	enum s3_class c;
	/* the abort must not be cancelled with the transfers */
	atomic_int no = 0;

	rq.cancel = &no;
	atomic_store(&u->stop, 0);
	c = store_s3_request(u, h, &rq, &rs, "AbortMultipartUpload");
	if (c != S3_OK && !store_s3_upload_gone(&rs)) {
		s3_resp_describe(&rs, desc, sizeof(desc));
		log_warn("s3 multipart upload could not be aborted", "bucket",
		    u->s->t.bucket, "key", key, "upload_id", upload_id,
		    "error", desc);
	} else {
		log_info("s3 multipart upload aborted", "bucket", u->s->t.bucket,
		    "key", key, "upload_id", upload_id);
	}
	s3_resp_free(&rs);
	free(query);
	free(enc);
}

static int
store_s3_create(struct store_s3_upload *u, CURL *h, char *err, size_t errlen)
{
	struct s3_req rq = { .method = "POST", .key = u->key, .fd = -1,
	    .query = "uploads=", .cancel = &u->cancel };
	struct s3_resp rs;
	char id[1024], a[24], b[24];
	enum s3_class c;
	int rc = STORE_FATAL;

	rq.content_type = u->put->content_type ? u->put->content_type :
	    S3_DEFAULT_TYPE;
	c = store_s3_request(u, h, &rq, &rs, "CreateMultipartUpload");
	if (c != S3_OK) {
		store_s3_fail_msg(u->s, u->key, "CreateMultipartUpload", &rs,
		    err, errlen);
		rc = c == S3_TRANSIENT ? STORE_RETRY : STORE_FATAL;
		goto done;
	}
	if (xml_text(rs.body, rs.body_len, "UploadId", id, sizeof(id)) < 0 ||
	    id[0] == '\0') {
		snprintf(err, errlen, "s3://%s/%s: CreateMultipartUpload: no "
		    "UploadId in the answer, or one over %zu bytes (S3 allows "
		    "1 KiB)", u->s->t.bucket, u->key, sizeof(id) - 1);
		goto done;
	}
	u->upload_id = xstrdup(id);
	u->nparts = (unsigned)((u->size + u->part_size - 1) / u->part_size);
	u->etags = xcalloc(u->nparts, sizeof(char *));
	store_s3_resume_init(u);
	store_s3_checkpoint(u);
	log_info("s3 multipart upload started", "bucket", u->s->t.bucket,
	    "key", u->key, "upload_id", u->upload_id, "parts",
	    log_i64(a, u->nparts), "part_size", log_i64(b,
	    (long long)u->part_size));
	rc = STORE_OK;
done:
	s3_resp_free(&rs);
	return rc;
}

/* CompleteMultipartUpload; then HEAD checks size and the "-N" ETag. A
 * NoSuchUpload answer can mean an earlier Complete (whose answer was
 * lost, or before a crash) did complete it: HEAD decides. */
static int
store_s3_complete(struct store_s3_upload *u, CURL *h, struct store_object *out,
    char *err, size_t errlen)
{
	char esc[S3_ETAG_MAX * 6 + 1], etag[S3_ETAG_MAX];
	char hex[HASH_HEX_LEN], *body, *enc, *query;
	size_t len = 0, cap, n;
	struct s3_req rq = { .method = "POST", .key = u->key, .fd = -1,
	    .content_type = "application/xml", .cancel = &u->cancel };
	struct s3_resp rs;
	enum s3_class c;
	unsigned i;
	int rc;

	/* the object's ETag, when every part's ETag is an MD5 */
	if (s3_multipart_etag((const char *const *)u->etags, u->nparts,
	    etag) < 0)
		etag[0] = '\0';
	cap = 128;
	for (i = 0; i < u->nparts; i++)
		cap += 80 + 6 * strlen(u->etags[i]);
	body = xmalloc(cap);
	len = (size_t)snprintf(body, cap, "<CompleteMultipartUpload xmlns="
	    "\"http://s3.amazonaws.com/doc/2006-03-01/\">");
	for (i = 0; i < u->nparts; i++) {
		xml_escape(u->etags[i], esc, sizeof(esc));
		n = (size_t)snprintf(body + len, cap - len, "<Part><PartNumber>"
		    "%u</PartNumber><ETag>&quot;%s&quot;</ETag></Part>", i + 1,
		    esc);
		len += n;
	}
	len += (size_t)snprintf(body + len, cap - len,
	    "</CompleteMultipartUpload>");
	hash_sha256_hex(body, len, hex);
	rq.mem = body;
	rq.mem_len = len;
	rq.sha256 = hex;
	enc = s3_encode_dup(u->upload_id, false);
	query = xasprintf("uploadId=%s", enc);
	free(enc);
	rq.query = query;

	c = store_s3_request(u, h, &rq, &rs, "CompleteMultipartUpload");
	free(query);
	free(body);
	if (c == S3_OK || store_s3_upload_gone(&rs)) {
		bool vanished = c != S3_OK;

		s3_resp_free(&rs);
		rc = store_s3_verify(u, h, etag, out, err, errlen);
		if (rc != STORE_OK && vanished) {
			u->gone = true;
			snprintf(err, errlen, "s3://%s/%s: CompleteMultipartUpload: "
			    "the server no longer knows upload %s",
			    u->s->t.bucket, u->key, u->upload_id);
		}
		return rc;
	}
	store_s3_fail_msg(u->s, u->key, "CompleteMultipartUpload", &rs, err,
	    errlen);
	s3_resp_free(&rs);
	return c == S3_TRANSIENT ? STORE_RETRY : STORE_FATAL;
}

static void
store_s3_forget(struct store_s3_upload *u)
{
	unsigned i;

	for (i = 0; u->etags != NULL && i < u->nparts; i++)
		free(u->etags[i]);
	free(u->etags);
	u->etags = NULL;
	free(u->upload_id);
	u->upload_id = NULL;
	u->nparts = 0;
	u->gone = false;
	u->unlistable = false;
}

static int
store_s3_put_multipart(struct store_s3_upload *u, CURL *h,
    struct store_object *out, char *err, size_t errlen)
{
	char *stale_key, *stale_id;
	int rc, round;

	for (round = 0; round < 2; round++) {
		atomic_store(&u->stop, 0);
		atomic_store(&u->cancel, 0);
		if (store_s3_resume_load(u, &stale_key, &stale_id)) {
			rc = store_s3_reconcile(u, h, err, errlen);
			if (rc != STORE_OK && u->gone) {
				log_warn("s3 multipart upload to resume is gone, "
				    "starting over", "bucket", u->s->t.bucket,
				    "key", u->key, "upload_id", u->upload_id);
				goto restart;
			}
			if (rc != STORE_OK && u->unlistable) {
				/* ListParts is how a resume is held against
				 * what the server has (a recorded part it
				 * lost, one a killed process sent half of);
				 * rather than complete on unchecked records or
				 * fail a job that retrying cannot fix, send
				 * every part again under a new id. */
				log_warn("s3 server cannot list the parts of the "
				    "upload to resume (ListParts), aborting it "
				    "and starting over from part 1", "bucket",
				    u->s->t.bucket, "key", u->key, "upload_id",
				    u->upload_id, "error", err);
				store_s3_abort(u, h, u->key, u->upload_id);
				goto restart;
			}
			if (rc == STORE_RETRY)
				return rc;
			if (rc != STORE_OK)
				goto refused;
		} else {
			if (stale_id != NULL) {
				/* the file changed (or the key): its parts
				 * cannot be reused */
				log_info("s3 upload state is for another file, "
				    "starting over", "key", u->key);
				store_s3_abort(u, h, stale_key, stale_id);
				free(stale_key);
				free(stale_id);
			}
			u->part_size = s3_part_size(u->size, u->s->part_size);
			rc = store_s3_create(u, h, err, errlen);
			if (rc != STORE_OK) {
				json_object_clear(u->put->resume);
				return rc;
			}
		}
		rc = store_s3_send_parts(u, err, errlen);
		if (rc == STORE_OK)
			rc = store_s3_complete(u, h, out, err, errlen);
		if (rc == STORE_OK || rc == STORE_RETRY)
			break;
		if (u->gone) {
			log_warn("s3 multipart upload vanished, starting over",
			    "bucket", u->s->t.bucket, "key", u->key, "upload_id",
			    u->upload_id);
			goto restart;
		}
refused:
		/* refused for good: leave nothing open behind */
		store_s3_abort(u, h, u->key, u->upload_id);
		json_object_clear(u->put->resume);
		store_s3_checkpoint(u);
		return rc;
restart:
		store_s3_forget(u);
		json_object_clear(u->put->resume);
		store_s3_checkpoint(u);
		rc = STORE_RETRY;
	}
	if (rc == STORE_RETRY && u->put->checkpoint == NULL &&
	    u->upload_id != NULL) {
		/* nobody keeps the state to resume it with: do not leave
		 * parts on the server that nothing will ever complete */
		store_s3_abort(u, h, u->key, u->upload_id);
		json_object_clear(u->put->resume);
	}
	if (rc == STORE_OK) {
		json_object_clear(u->put->resume);
		store_s3_checkpoint(u);
	}
	return rc;
}

/* --- the entry points ----------------------------------------------------- */

int
store_s3_put(struct store_s3 *s, const char *key,
    const struct store_put *put, struct store_object *out, char *err,
    size_t errlen)
{
	struct store_s3_upload u;
	pthread_condattr_t ca;
	struct stat sb;
	CURL *h = NULL;
	int64_t t0 = util_mono_ms();
	bool multipart;
	int rc = STORE_FATAL;

	memset(&u, 0, sizeof(u));
	u.s = s;
	u.put = put;
	u.fd = -1;
	u.key = key;
	pthread_mutex_init(&u.lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&u.wake, &ca);
	pthread_condattr_destroy(&ca);
	u.fd = open(put->path, O_RDONLY | O_CLOEXEC);
	if (u.fd < 0 || fstat(u.fd, &sb) < 0) {
		int e = errno;

		snprintf(err, errlen, "s3://%s/%s: cannot read %s: %s",
		    s->t.bucket, u.key, put->path, strerror(e));
		/* a missing file or a permission problem does not heal */
		rc = e == ENOENT || e == EACCES ? STORE_FATAL : STORE_RETRY;
		goto done;
	}
	if (!S_ISREG(sb.st_mode)) {
		snprintf(err, errlen, "s3://%s/%s: %s is not a regular file",
		    s->t.bucket, u.key, put->path);
		goto done;
	}
	u.size = (uint64_t)sb.st_size;
	u.mtime_ns = (int64_t)sb.st_mtim.tv_sec * 1000000000 +
	    sb.st_mtim.tv_nsec;
	if (u.size > S3_MAX_OBJECT) {
		snprintf(err, errlen, "s3://%s/%s: %s has %" PRIu64 " bytes, "
		    "more than S3 stores in one object (5 TiB)", s->t.bucket,
		    u.key, put->path, u.size);
		goto done;
	}
	posix_fadvise(u.fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	h = curl_easy_init();
	if (h == NULL) {
		snprintf(err, errlen, "cannot create a curl handle");
		rc = STORE_RETRY;
		goto done;
	}
	/* A file up to one part goes in one request. An upload that a
	 * previous call started goes on as multipart. */
	multipart = u.size > s->part_size || (put->resume != NULL &&
	    json_object_get(put->resume, "upload_id") != NULL);
	if (multipart && put->resume == NULL) {
		snprintf(err, errlen, "s3://%s/%s: multipart upload needs a "
		    "resume object", s->t.bucket, u.key);
		goto done;
	}
	rc = multipart ? store_s3_put_multipart(&u, h, out, err, errlen) :
	    store_s3_put_single(&u, h, out, err, errlen);
	if (rc == STORE_OK) {
		char a[24], b[24], c[24];
		log_info("s3 object stored", "url", out->url, "size",
		    log_i64(a, (long long)u.size), "etag", out->etag, "parts_sent",
		    log_i64(b, multipart ? u.sent : 1), "ms",
		    log_i64(c, util_mono_ms() - t0));
	} else if (rc == STORE_RETRY && multipart && u.nparts > 0 &&
	    put->checkpoint != NULL) {
		size_t n = strlen(err);
		unsigned i, done = 0;

		for (i = 0; i < u.nparts; i++)
			done += u.etags[i] != NULL;
		snprintf(err + n, errlen - n, " (%u of %u parts kept for the "
		    "next attempt)", done, u.nparts);
	}
done:
	store_s3_forget(&u);
	curl_easy_cleanup(h);
	if (u.fd >= 0)
		close(u.fd);
	pthread_cond_destroy(&u.wake);
	pthread_mutex_destroy(&u.lock);
	return rc;
}

int
store_s3_check(struct store_s3 *s, char *err, size_t errlen)
{
	char *pfx = s->prefix[0] ? xasprintf("%s/", s->prefix) : xstrdup("");
	char *enc = s3_encode_dup(pfx, false);
	char *query = xasprintf("list-type=2&max-keys=1&prefix=%s", enc);
	struct s3_req rq = { .method = "GET", .fd = -1, .query = query };
	struct s3_resp rs;
	enum s3_class c;
	CURL *h = curl_easy_init();
	int rc;

	/* one signed request that needs the bucket, the key pair and the
	 * signature right: list at most one key under the prefix */
	free(pfx);
	free(enc);
	if (h == NULL) {
		snprintf(err, errlen, "cannot create a curl handle");
		free(query);
		return STORE_RETRY;
	}
	c = s3_perform(h, &s->t, &rq, &rs);
	if (c == S3_OK) {
		rc = STORE_OK;
	} else {
		char desc[512];
		const char *hint = store_s3_hint(rs.code);

		s3_resp_describe(&rs, desc, sizeof(desc));
		if (rs.cc != CURLE_OK)
			snprintf(err, errlen, "bucket `%s' at %s is not reachable: "
			    "%s", s->t.bucket, s->endpoint, desc);
		else
			snprintf(err, errlen, "bucket `%s' at %s: ListObjectsV2: "
			    "%s%s%s%s", s->t.bucket, s->endpoint, desc,
			    hint ? " (" : "", hint ? hint : "", hint ? ")" : "");
		rc = c == S3_TRANSIENT ? STORE_RETRY : STORE_FATAL;
	}
	s3_resp_free(&rs);
	curl_easy_cleanup(h);
	free(query);
	return rc;
}
