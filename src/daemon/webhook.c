/* webhook.c -- the completion webhook: body (jansson), signature, delivery. */
#include "daemon/webhook.h"
#include "base/hash.h"
#include "base/jsonx.h"
#include "base/util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

char *
webhook_body(const json_t *job, int64_t now_ms)
{
	json_t *b = json_object(), *objects, *o, *probe, *meta;
	const char *result, *k;
	char ts[UTIL_ISO_LEN];
	char *text;

	result = json_string_value(json_object_get(job, "result"));
	if (result == NULL)
		result = "completed";
	/* the seed's four fields first: receivers written for finalize.sh */
	json_object_set_new(b, "room_name", json_string(
	    json_string_value(json_object_get(job, "room_name")) ?
	    json_string_value(json_object_get(job, "room_name")) : "unknown"));
	jsonx_copy(b, "recording_file", job, "source");
	json_object_set_new(b, "recording_status", json_string(result));
	json_object_set_new(b, "timestamp",
	    json_string(util_iso8601_ms(now_ms, ts)));
	jsonx_copy(b, "recording_id", job, "id");
	jsonx_copy(b, "session_id", job, "session_id");
	jsonx_copy(b, "meeting_url", job, "meeting_url");
	probe = json_object_get(job, "probe");
	jsonx_copy(b, "duration_seconds", probe, "duration");
	jsonx_copy(b, "size_bytes", job, "source_size");
	objects = json_object_get(job, "objects");
	if (json_object_size(objects) > 0) {
		json_t *out = json_object();
		json_object_foreach(objects, k, o) {
			json_t *e = json_object();
			jsonx_copy(e, "url", o, "url");
			jsonx_copy(e, "key", o, "key");
			jsonx_copy(e, "size", o, "size");
			jsonx_copy(e, "sha256", o, "sha256");
			json_object_set_new(out, k, e);
		}
		json_object_set_new(b, "objects", out);
	}
	meta = json_object_get(job, "metadata");
	if (json_is_array(json_object_get(meta, "participants")))
		jsonx_copy(b, "participants", meta, "participants");
	else
		json_object_set_new(b, "participants", json_array());
	if (json_is_true(json_object_get(job, "no_audio")))
		json_object_set_new(b, "no_audio", json_true());
	if (strcmp(result, "completed") != 0)
		jsonx_copy(b, "error", job, "error");
	text = json_dumps(b, JSON_COMPACT | JSON_ENSURE_ASCII);
	json_decref(b);
	if (text == NULL)
		abort();
	return text;
}

/* The start of the receiver's answer, for the log: capped, one line. */
struct answer {
	char buf[512];
	size_t len;
};

static size_t
on_body(char *data, size_t size, size_t nmemb, void *ctx)
{
	struct answer *a = ctx;
	size_t n = size * nmemb, i;

	for (i = 0; i < n && a->len < sizeof(a->buf) - 1; i++) {
		unsigned char c = (unsigned char)data[i];
		a->buf[a->len++] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
	}
	a->buf[a->len] = '\0';
	return n;
}

static size_t
on_header(char *data, size_t size, size_t nmemb, void *ctx)
{
	int64_t *retry_after = ctx;
	size_t n = size * nmemb;
	char val[32];
	int64_t secs;
	size_t i, j = 0;

	if (n > 12 && strncasecmp(data, "Retry-After:", 12) == 0) {
		for (i = 12; i < n && j < sizeof(val) - 1; i++)
			if (!isspace((unsigned char)data[i]))
				val[j++] = data[i];
		val[j] = '\0';
		if (util_parse_i64(val, &secs) == 0 && secs >= 0 && secs < 86400)
			*retry_after = secs * 1000;
	}
	return n;
}

int
webhook_post(const char *url, const char *secret, const char *key,
    const char *body, int64_t timeout_s, long *status,
    int64_t *retry_after_ms, char *err, size_t errlen)
{
	char sig[HASH_HEX_LEN], hdr[160], errbuf[CURL_ERROR_SIZE];
	struct curl_slist *headers = NULL;
	struct answer answer = { .len = 0 };
	char *shown;
	CURLcode rc;
	CURL *c;
	int result;

	*status = 0;
	*retry_after_ms = 0;
	answer.buf[0] = '\0';
	errbuf[0] = '\0';
	hash_hmac_sha256_hex(secret, strlen(secret), body, strlen(body), sig);
	c = curl_easy_init();
	if (c == NULL) {
		snprintf(err, errlen, "cannot start an HTTP client");
		return WEBHOOK_RETRY;
	}
	headers = curl_slist_append(headers, "Content-Type: application/json");
	snprintf(hdr, sizeof(hdr), "X-Jitsi-Signature: %s", sig);
	headers = curl_slist_append(headers, hdr);
	snprintf(hdr, sizeof(hdr), "Idempotency-Key: %s", key);
	headers = curl_slist_append(headers, hdr);
	headers = curl_slist_append(headers, "Expect:");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_POST, 1L);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "jibri-pipeline/" JP_VERSION);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)timeout_s);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &answer);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, retry_after_ms);
	rc = curl_easy_perform(c);
	/* err ends up in the job's last_error, status and the log: the URL's
	 * user:password (Basic auth to the receiver) must not */
	shown = util_url_redact(url);
	if (rc != CURLE_OK) {
		snprintf(err, errlen, "webhook %s: %s", shown,
		    errbuf[0] ? errbuf : curl_easy_strerror(rc));
		result = WEBHOOK_RETRY;
		goto done;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	if (*status >= 200 && *status < 300) {
		result = WEBHOOK_OK;
		err[0] = '\0';
	} else {
		result = (*status == 408 || *status == 429 || *status >= 500) ?
		    WEBHOOK_RETRY : WEBHOOK_FATAL;
		snprintf(err, errlen, "webhook %s answered HTTP %ld: %.300s",
		    shown, *status, answer.buf);
	}
done:
	free(shown);
	/* and any URL curl or the receiver quoted */
	if (result != WEBHOOK_OK) {
		shown = util_url_redact(err);
		util_strlcpy(err, shown, errlen);
		free(shown);
	}
	curl_slist_free_all(headers);
	curl_easy_cleanup(c);
	return result;
}
