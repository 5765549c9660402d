/* s3.c -- one signed S3 request over libcurl (CURLOPT_AWS_SIGV4), and what S3 answered. */
#include "store/s3.h"
#include "base/util.h"
#include "store/store.h"
#include "store/xml.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

/* Split scheme://host[:port][/] into scheme and authority; anything after
 * the authority but a lone "/" is refused: S3 endpoints have no path, and
 * a path would have to be part of every signature. */
static int
s3_split_endpoint(const char *url, char **scheme, char **host, char **port)
{
	const char *p, *end, *colon;

	if (strncmp(url, "https://", 8) == 0) {
		*scheme = xstrdup("https");
		p = url + 8;
	} else if (strncmp(url, "http://", 7) == 0) {
		*scheme = xstrdup("http");
		p = url + 7;
	} else {
		return -1;
	}
	end = p + strcspn(p, "/?#");
	if (*end != '\0' && strcmp(end, "/") != 0)
		goto bad;
	if (*p == '[') {                        /* [IPv6]:port */
		const char *rb = memchr(p, ']', (size_t)(end - p));
		if (rb == NULL)
			goto bad;
		*host = xstrndup(p, (size_t)(rb + 1 - p));
		colon = rb + 1 < end && rb[1] == ':' ? rb + 1 : NULL;
		if (colon == NULL && rb + 1 != end)
			goto bad;
	} else {
		colon = memchr(p, ':', (size_t)(end - p));
		*host = xstrndup(p, (size_t)((colon ? colon : end) - p));
	}
	*port = colon ? xstrndup(colon + 1, (size_t)(end - colon - 1)) : NULL;
	if (**host == '\0' || (*port != NULL && (**port == '\0' ||
	    strspn(*port, "0123456789") != strlen(*port))))
		goto bad;
	return 0;
bad:
	free(*scheme);
	*scheme = NULL;
	return -1;
}

/* Virtual-hosted addressing puts the bucket in the host name; an IP
 * address has no subdomains. */
static bool
s3_host_is_ip(const char *host)
{
	return host[0] == '[' || strspn(host, "0123456789.") == strlen(host);
}

int
s3_target_init(struct s3_target *t, const struct store_options *o,
    char *err, size_t errlen)
{
	char *scheme = NULL, *host = NULL, *port = NULL;
	int rc = -1;

	memset(t, 0, sizeof(*t));
	if (o->s3_endpoint != NULL) {
		if (s3_split_endpoint(o->s3_endpoint, &scheme, &host,
		    &port) < 0) {
			snprintf(err, errlen, "S3_ENDPOINT: `%s' is not "
			    "http(s)://HOST[:PORT] (no path)", o->s3_endpoint);
			goto fail;
		}
	} else {
		scheme = xstrdup("https");
		host = xasprintf("s3.%s.amazonaws.com", o->s3_region);
	}
	if (!o->s3_path_style && s3_host_is_ip(host)) {
		snprintf(err, errlen, "S3_ENDPOINT: `%s' is an IP address, which "
		    "cannot carry the bucket name: set S3_PATH_STYLE=true",
		    o->s3_endpoint);
		goto fail;
	}
	if (o->s3_path_style) {
		t->base = xasprintf("%s://%s%s%s", scheme, host, port ? ":" : "",
		    port ? port : "");
		t->path = xasprintf("/%s", o->s3_bucket);
	} else {
		t->base = xasprintf("%s://%s.%s%s%s", scheme, o->s3_bucket, host,
		    port ? ":" : "", port ? port : "");
		t->path = xstrdup("");
	}
	t->bucket = xstrdup(o->s3_bucket);
	t->region = xstrdup(o->s3_region);
	t->sigv4 = xasprintf("aws:amz:%s:s3", o->s3_region);
	t->userpwd = xasprintf("%s:%s", o->access_key, o->secret_key);
	if (o->session_token != NULL && o->session_token[0] != '\0')
		t->token_hdr = xasprintf("x-amz-security-token: %s",
		    o->session_token);
	rc = 0;
fail:
	free(scheme);
	free(host);
	free(port);
	if (rc < 0)
		s3_target_free(t);
	return rc;
}

static void
s3_free_secret(char *s)
{
	if (s != NULL) {
		OPENSSL_cleanse(s, strlen(s));
		free(s);
	}
}

void
s3_target_free(struct s3_target *t)
{
	if (t == NULL)
		return;
	free(t->base);
	free(t->path);
	free(t->bucket);
	free(t->region);
	free(t->sigv4);
	s3_free_secret(t->userpwd);
	s3_free_secret(t->token_hdr);
	memset(t, 0, sizeof(*t));
}

int
s3_encode(const char *s, bool keep_slash, char *out, size_t size)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	if (size == 0)
		return -1;
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
		    c == '~' || (keep_slash && c == '/')) {
			if (o + 1 >= size)
				goto toolong;
			out[o++] = (char)c;
		} else {
			if (o + 3 >= size)
				goto toolong;
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = '\0';
	return 0;
toolong:
	/* a prefix of an UploadId or a key names another one */
	out[0] = '\0';
	return -1;
}

char *
s3_encode_dup(const char *s, bool keep_slash)
{
	size_t size = S3_ENCODED_MAX(strlen(s));
	char *out = xmalloc(size);

	if (s3_encode(s, keep_slash, out, size) < 0)
		abort();                /* S3_ENCODED_MAX is the bound */
	return out;
}

uint64_t
s3_part_size(uint64_t size, uint64_t want)
{
	uint64_t need;

	if (size > S3_MAX_OBJECT)
		return 0;
	if (want < S3_MIN_PART)
		want = S3_MIN_PART;
	if (want > S3_MAX_PART)
		want = S3_MAX_PART;
	need = (size + S3_MAX_PARTS - 1) / S3_MAX_PARTS;
	if (need > want)        /* whole MiB: part sizes an operator reads */
		want = (need + (1 << 20) - 1) & ~(uint64_t)((1 << 20) - 1);
	return want;
}

int
s3_multipart_etag(const char *const *etags, size_t n, char *out)
{
	unsigned char md[EVP_MAX_MD_SIZE], bin[16];
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx;
	char hex[33];
	size_t i, j;
	int rc = -1;

	ctx = EVP_MD_CTX_new();
	if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_md5(), NULL) != 1)
		goto done;
	for (i = 0; i < n; i++) {
		const char *e = etags[i];

		if (e == NULL || strlen(e) != 32 || strspn(e,
		    "0123456789abcdefABCDEF") != 32)
			goto done;
		for (j = 0; j < 16; j++) {
			char c1 = e[2 * j], c2 = e[2 * j + 1];
			int hi = c1 <= '9' ? c1 - '0' : (c1 | 0x20) - 'a' + 10;
			int lo = c2 <= '9' ? c2 - '0' : (c2 | 0x20) - 'a' + 10;
			bin[j] = (unsigned char)(hi << 4 | lo);
		}
		EVP_DigestUpdate(ctx, bin, sizeof(bin));
	}
	if (EVP_DigestFinal_ex(ctx, md, &mdlen) != 1 || mdlen != 16)
		goto done;
	util_hex(md, 16, hex);
	rc = util_snprintf(out, S3_ETAG_MAX, "%s-%zu", hex, n);
done:
	EVP_MD_CTX_free(ctx);
	return rc;
}

enum s3_class
s3_classify(CURLcode cc, long status, const char *code)
{
	static const char *const digest[] = { "BadDigest",
	    "XAmzContentSHA256Mismatch", NULL };
	static const char *const transient[] = { "SlowDown", "InternalError",
	    "ServiceUnavailable", "RequestTimeout", "OperationAborted", NULL };
	size_t i;

	switch (cc) {
	case CURLE_OK:
		break;
	case CURLE_ABORTED_BY_CALLBACK:
		return S3_CANCELLED;
	/* what the network, a restarting server or a stall look like */
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_HTTP3:
	case CURLE_WEIRD_SERVER_REPLY:
		return S3_TRANSIENT;
	default:
		/* bad certificate, protocol refused, local read error: asking
		 * again gives the same answer */
		return S3_FATAL;
	}
	if (code != NULL && code[0] != '\0') {
		for (i = 0; digest[i] != NULL; i++)
			if (strcmp(code, digest[i]) == 0)
				return S3_DIGEST;
		for (i = 0; transient[i] != NULL; i++)
			if (strcmp(code, transient[i]) == 0)
				return S3_TRANSIENT;
	}
	if (status >= 200 && status < 300)
		return code != NULL && code[0] != '\0' ? S3_FATAL : S3_OK;
	/* 501 Not Implemented: a server without the feature answers the
	 * same tomorrow */
	if (status == 408 || status == 429 || (status >= 500 && status != 501))
		return S3_TRANSIENT;
	return S3_FATAL;
}

/* --- curl callbacks ---------------------------------------------------- */

struct s3_io {
	const struct s3_req *rq;
	uint64_t pos;           /* bytes of the body given to curl */
	struct s3_resp *rs;
	int read_errno;
};

static size_t
s3_read_cb(char *buf, size_t size, size_t nitems, void *p)
{
	struct s3_io *io = p;
	const struct s3_req *rq = io->rq;
	size_t want = size * nitems;
	uint64_t total = rq->fd >= 0 ? rq->len : rq->mem_len;
	ssize_t n;

	if (io->pos >= total)
		return 0;
	if (want > total - io->pos)
		want = (size_t)(total - io->pos);
	if (rq->fd < 0) {
		memcpy(buf, rq->mem + io->pos, want);
		io->pos += want;
		return want;
	}
	/* read straight into curl's buffer: the only copy of the bytes in
	 * user space on the way to the socket */
	do
		n = pread(rq->fd, buf, want, (off_t)(rq->off + io->pos));
	while (n < 0 && errno == EINTR);
	if (n <= 0) {
		io->read_errno = n < 0 ? errno : EIO;   /* 0: file shrank */
		return CURL_READFUNC_ABORT;
	}
	io->pos += (size_t)n;
	return (size_t)n;
}

/* curl rewinds when it must send the body again on a new connection (the
 * server closed a kept-alive one as we started). */
static int
s3_seek_cb(void *p, curl_off_t offset, int origin)
{
	struct s3_io *io = p;

	if (origin != SEEK_SET || offset < 0)
		return CURL_SEEKFUNC_CANTSEEK;
	io->pos = (uint64_t)offset;
	return CURL_SEEKFUNC_OK;
}

static size_t
s3_write_cb(char *data, size_t size, size_t nmemb, void *p)
{
	struct s3_io *io = p;
	struct s3_resp *rs = io->rs;
	size_t n = size * nmemb;

	if (rs->body_len + n > S3_BODY_MAX)
		return 0;                       /* CURLE_WRITE_ERROR */
	rs->body = xrealloc(rs->body, rs->body_len + n + 1);
	memcpy(rs->body + rs->body_len, data, n);
	rs->body_len += n;
	rs->body[rs->body_len] = '\0';
	return n;
}

static int
s3_progress_cb(void *p, curl_off_t dltotal, curl_off_t dlnow,
    curl_off_t ultotal, curl_off_t ulnow)
{
	struct s3_io *io = p;

	(void)dltotal; (void)dlnow; (void)ultotal; (void)ulnow;
	return io->rq->cancel != NULL && atomic_load(io->rq->cancel) ? 1 : 0;
}

/* --- the request --------------------------------------------------------- */

static char *
s3_url(const struct s3_target *t, const struct s3_req *rq)
{
	char *enc = s3_encode_dup(rq->key ? rq->key : "", true), *url;

	url = xasprintf("%s%s/%s%s%s", t->base, t->path, enc,
	    rq->query ? "?" : "", rq->query ? rq->query : "");
	free(enc);
	return url;
}

static void
s3_strip_quotes(const char *in, size_t n, char *out, size_t size)
{
	while (n > 0 && (in[0] == '"' || in[0] == ' ')) {
		in++;
		n--;
	}
	while (n > 0 && (in[n - 1] == '"' || in[n - 1] == ' '))
		n--;
	if (n >= size)
		n = size - 1;
	memcpy(out, in, n);
	out[n] = '\0';
}

enum s3_class
s3_perform(CURL *h, const struct s3_target *t, const struct s3_req *rq,
    struct s3_resp *rs)
{
	struct s3_io io = { rq, 0, rs, 0 };
	struct curl_slist *hdrs = NULL;
	struct curl_header *hv;
	char line[160];
	curl_off_t cl = -1;
	char *url;
	enum s3_class cls;

	memset(rs, 0, sizeof(*rs));
	rs->length = -1;
	url = s3_url(t, rq);
	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
	/* A server that stops reading or answering: under 1 KiB/s for 30 s
	 * is a stall, not a slow link. */
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1024L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 30L);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, rs->curl_err);
	curl_easy_setopt(h, CURLOPT_HTTPAUTH, CURLAUTH_AWS_SIGV4);
	curl_easy_setopt(h, CURLOPT_AWS_SIGV4, t->sigv4);
	curl_easy_setopt(h, CURLOPT_USERPWD, t->userpwd);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "jibri-pipeline/" JP_VERSION);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, s3_write_cb);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &io);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, s3_progress_cb);
	curl_easy_setopt(h, CURLOPT_XFERINFODATA, &io);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);

	/* curl 7.88 signs the payload hash it finds in this header (and
	 * every header we add); later versions also add it themselves for
	 * service s3. Servers refuse requests without it. */
	util_snprintf(line, sizeof(line), "x-amz-content-sha256: %s",
	    rq->sha256 ? rq->sha256 : S3_EMPTY_SHA256);
	hdrs = curl_slist_append(hdrs, line);
	if (t->token_hdr != NULL)
		hdrs = curl_slist_append(hdrs, t->token_hdr);
	if (rq->content_type != NULL) {
		char *ct = xasprintf("Content-Type: %s", rq->content_type);
		hdrs = curl_slist_append(hdrs, ct);
		free(ct);
	} else if (strcmp(rq->method, "POST") == 0) {
		/* not curl's form default: that would be signed as sent */
		hdrs = curl_slist_append(hdrs, "Content-Type:");
	}

	if (strcmp(rq->method, "PUT") == 0) {
		curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)
		    (rq->fd >= 0 ? rq->len : rq->mem_len));
		curl_easy_setopt(h, CURLOPT_READFUNCTION, s3_read_cb);
		curl_easy_setopt(h, CURLOPT_READDATA, &io);
		curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, s3_seek_cb);
		curl_easy_setopt(h, CURLOPT_SEEKDATA, &io);
		/* fewer, larger reads and sends per part */
		curl_easy_setopt(h, CURLOPT_UPLOAD_BUFFERSIZE, 512L * 1024);
	} else if (strcmp(rq->method, "POST") == 0) {
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, rq->mem ? rq->mem : "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)rq->mem_len);
	} else if (strcmp(rq->method, "HEAD") == 0) {
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	} else if (strcmp(rq->method, "GET") != 0) {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, rq->method);
	}
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);

	rs->cc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &rs->status);
	if (io.read_errno != 0 && rs->cc == CURLE_ABORTED_BY_CALLBACK) {
		rs->cc = CURLE_READ_ERROR;
		util_snprintf(rs->curl_err, sizeof(rs->curl_err), "reading the "
		    "file: %s", io.read_errno == EIO ? "it is shorter than "
		    "expected" : strerror(io.read_errno));
	}
	if (rs->cc == CURLE_OK) {
		if (curl_easy_header(h, "ETag", 0, CURLH_HEADER, -1, &hv) ==
		    CURLHE_OK)
			s3_strip_quotes(hv->value, strlen(hv->value), rs->etag,
			    sizeof(rs->etag));
		if (curl_easy_getinfo(h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T,
		    &cl) == CURLE_OK)
			rs->length = cl;
	}
	if (rs->body != NULL && xml_next(rs->body, rs->body_len,
	    &(size_t){ 0 }, "Error", &(const char *){ NULL },
	    &(size_t){ 0 }) == 0) {
		if (xml_text(rs->body, rs->body_len, "Code", rs->code,
		    sizeof(rs->code)) < 0)
			util_strlcpy(rs->code, "UnknownError", sizeof(rs->code));
		xml_text(rs->body, rs->body_len, "Message", rs->message,
		    sizeof(rs->message));
	} else if (rs->status == 404 && strcmp(rq->method, "HEAD") == 0) {
		/* HEAD answers carry no body to name the error */
		util_strlcpy(rs->code, rq->key ? "NoSuchKey" : "NoSuchBucket",
		    sizeof(rs->code));
	} else if (rs->status == 403 && strcmp(rq->method, "HEAD") == 0) {
		util_strlcpy(rs->code, "AccessDenied", sizeof(rs->code));
	}
	cls = s3_classify(rs->cc, rs->status, rs->code);
	curl_slist_free_all(hdrs);
	free(url);
	return cls;
}

void
s3_resp_free(struct s3_resp *rs)
{
	if (rs == NULL)
		return;
	free(rs->body);
	rs->body = NULL;
	rs->body_len = 0;
}

void
s3_resp_describe(const struct s3_resp *rs, char *buf, size_t size)
{
	if (rs->cc != CURLE_OK) {
		snprintf(buf, size, "%s (%s)", curl_easy_strerror(rs->cc),
		    rs->curl_err[0] ? rs->curl_err : "no details");
	} else if (rs->code[0] != '\0') {
		snprintf(buf, size, "HTTP %ld %s%s%s", rs->status, rs->code,
		    rs->message[0] ? ": " : "", rs->message);
	} else {
		snprintf(buf, size, "HTTP %ld", rs->status);
	}
}
