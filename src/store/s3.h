/* s3.h -- one signed S3 request over libcurl (CURLOPT_AWS_SIGV4), and what S3 answered. */
#ifndef JP_S3_H
#define JP_S3_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

struct store_options;             /* store/store.h */

#define S3_MAX_PARTS     10000                  /* S3's limit per upload */
#define S3_MIN_PART      (5ULL << 20)           /* every part but the last */
#define S3_MAX_PART      (5ULL << 30)
#define S3_MAX_OBJECT    (5ULL << 40)
#define S3_ETAG_MAX      128
#define S3_BODY_MAX      (4 << 20)              /* cap on an XML answer */
#define S3_EMPTY_SHA256 \
	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* Where requests go and who signs them, built once from the options. */
struct s3_target {
	char *base;       /* scheme://host[:port]: with the bucket in front of
	                     the host when virtual-hosted */
	char *path;       /* "/BUCKET" when path-style, else "" */
	char *bucket;
	char *region;
	char *sigv4;      /* "aws:amz:REGION:s3" for CURLOPT_AWS_SIGV4 */
	char *userpwd;    /* "ACCESS_KEY:SECRET" (wiped when freed) */
	char *token_hdr;  /* "x-amz-security-token: …", or NULL */
};

/* Fill t from o (S3_ENDPOINT or AWS for S3_REGION, S3_PATH_STYLE,
 * credentials). 0, or -1 with a message naming the setting. */
int s3_target_init(struct s3_target *t, const struct store_options *o,
    char *err, size_t errlen);
void s3_target_free(struct s3_target *t);

/* One request. The body is a file range (fd >= 0) or memory (mem), or
 * none; sha256 is the hex SHA-256 of exactly those bytes (NULL: of no
 * bytes), sent as x-amz-content-sha256 and signed, so the server refuses
 * a body that is not the one we hashed. */
struct s3_req {
	const char *method;        /* GET, HEAD, PUT, POST, DELETE */
	const char *key;           /* full object key, raw; NULL: the bucket */
	const char *query;         /* canonical query string: parameters
	                              sorted, names and values encoded, "="
	                              always present ("uploads="); or NULL */
	const char *content_type;  /* or NULL */
	const char *sha256;
	int fd;                    /* -1: no file body */
	uint64_t off, len;         /* the file range */
	const char *mem;           /* or a body in memory */
	size_t mem_len;
	const atomic_int *cancel;  /* when it becomes nonzero, the transfer
	                              stops (CURLE_ABORTED_BY_CALLBACK) */
};

/* What came back. body is NUL-terminated (allocated; free with
 * s3_resp_free), at most S3_BODY_MAX bytes. */
struct s3_resp {
	CURLcode cc;
	char curl_err[CURL_ERROR_SIZE];
	long status;                  /* 0 when no answer came */
	char etag[S3_ETAG_MAX];       /* ETag header, quotes removed */
	int64_t length;               /* Content-Length, -1 when unknown */
	char *body;
	size_t body_len;
	char code[64];                /* <Error><Code>, "" when none */
	char message[256];            /* <Error><Message> */
};

/* How a request ended. */
enum s3_class {
	S3_OK = 0,
	S3_TRANSIENT,     /* network, timeouts, 5xx, 429, SlowDown: retry */
	S3_FATAL,         /* refused for good: credentials, no bucket, ... */
	S3_DIGEST,        /* the server got other bytes than we hashed */
	S3_CANCELLED,     /* stopped through req->cancel */
};

/* Perform rq with the easy handle h (reset first, so one handle serves
 * many requests and keeps its connections) and classify the outcome. A
 * 2xx whose body is an <Error> document (CompleteMultipartUpload can
 * answer that way) is not S3_OK. */
enum s3_class s3_perform(CURL *h, const struct s3_target *t,
    const struct s3_req *rq, struct s3_resp *rs);
void s3_resp_free(struct s3_resp *rs);

/* A one-line account of a failed request for error messages:
 * "HTTP 403 SignatureDoesNotMatch: <message>" or "Couldn't connect to
 * server (connection refused ...)". */
void s3_resp_describe(const struct s3_resp *rs, char *buf, size_t size);

/* Classify an answer: curl result, HTTP status and S3 error code. */
enum s3_class s3_classify(CURLcode cc, long status, const char *code);

/* Encode s for a URL path segment or query value as SigV4 wants it:
 * every byte but A-Z a-z 0-9 - . _ ~ as %XX (upper-case hex); with
 * keep_slash, '/' stays (a key is encoded segment by segment). The
 * encoded form has at most S3_ENCODED_MAX(strlen(s)) bytes with its NUL.
 * Returns 0, or -1 when it does not fit: then out is "" (when size > 0),
 * never a value cut short that a server would take for another one. */
#define S3_ENCODED_MAX(len) (3 * (len) + 1)
int s3_encode(const char *s, bool keep_slash, char *out, size_t size);

/* s3_encode into a string of its own (free it); cannot fail. What every
 * caller with a value from outside wants: an UploadId is up to 1 KiB. */
char *s3_encode_dup(const char *s, bool keep_slash);

/* The part size for an object of size bytes: want (S3_PART_SIZE),
 * grown in whole MiB so the object needs at most S3_MAX_PARTS parts.
 * 0 when the object is larger than S3 allows. */
uint64_t s3_part_size(uint64_t size, uint64_t want);

/* The ETag S3 gives a multipart object: hex MD5 of the concatenated
 * binary MD5s of the parts, "-", the number of parts. etags are the
 * parts' ETags (32 hex digits each). Returns 0, or -1 when one is not an
 * MD5 (then there is nothing to compare with). out: S3_ETAG_MAX. */
int s3_multipart_etag(const char *const *etags, size_t n, char *out);

#endif
