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
webhook_body(const struct job *j, int64_t now_ms)
{
	json_t *b = json_object(), *objects = NULL, *participants;
	const char *result = j->result != NULL ? j->result : "completed";
	char ts[UTIL_ISO_LEN];
	char *text;
	int o;

	/* the seed's four fields first: receivers written for finalize.sh */
	jsonx_set_str(b, "room_name", j->room_name != NULL ? j->room_name : "unknown");
	jsonx_set_str(b, "recording_file", j->source);
	jsonx_set_str(b, "recording_status", result);
	jsonx_set_str(b, "timestamp", util_iso8601_ms(now_ms, ts));
	jsonx_set_str(b, "recording_id", j->id);
	jsonx_set_str(b, "session_id", j->session_id);
	jsonx_set_str(b, "meeting_url", j->meeting_url);
	jsonx_copy(b, "duration_seconds", j->probe, "duration");
	if (j->probed)
		json_object_set_new(b, "size_bytes", json_integer(j->source_size));
	for (o = 0; o < JOB_NOUT; o++) {
		const struct job_object *ob = &j->objects[o];
		json_t *e;
		if (!ob->stored)
			continue;
		if (objects == NULL)
			objects = json_object();
		e = json_object();
		jsonx_set_str(e, "url", ob->url);
		jsonx_set_str(e, "key", ob->key);
		json_object_set_new(e, "size", json_integer(ob->size));
		jsonx_set_str(e, "sha256", ob->sha256);
		json_object_set_new(objects, job_outputs[o].name, e);
	}
	if (objects != NULL)
		json_object_set_new(b, "objects", objects);
	/* Jibri's list; when it named nobody, who the meeting's events say
	 * was there, marked as such */
	participants = json_object_get(j->metadata, "participants");
	if (json_array_size(participants) == 0 &&
	    json_is_array(j->event_participants)) {
		json_object_set_new(b, "participants",
		    json_deep_copy(j->event_participants));
		jsonx_set_str(b, "participants_source", "meeting_events");
	} else {
		json_object_set_new(b, "participants",
		    json_is_array(participants) ?
		    json_deep_copy(participants) : json_array());
	}
	if (j->no_audio)
		json_object_set_new(b, "no_audio", json_true());
	if (j->salvaged) {
		json_object_set_new(b, "salvaged", json_true());
		if (j->salvage != NULL)
			json_object_set_new(b, "salvage",
			    json_deep_copy(j->salvage));
	}
	if (strcmp(result, "completed") != 0)
		jsonx_set_str(b, "error", j->error);
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
