/* webhook.h -- the completion webhook: body (jansson), signature, delivery. */
#ifndef JP_WEBHOOK_H
#define JP_WEBHOOK_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "daemon/job.h"

enum { WEBHOOK_OK = 0, WEBHOOK_RETRY = -1, WEBHOOK_FATAL = -2 };

/* The body for a job (see job.h), built once and then sent
 * byte-for-byte on every retry:
 *   room_name, recording_file, recording_status, timestamp (the seed's
 *   four), recording_id, session_id, meeting_url, duration_seconds,
 *   size_bytes, objects{video,audio,manifest}{url,key,size,sha256},
 *   participants, no_audio, error (when failed).
 * Newly allocated compact JSON. */
char *webhook_body(const struct job *j, int64_t now_ms);

/* POST body to url with Content-Type application/json, X-Jitsi-Signature
 * (hex HMAC-SHA256 of the exact body with secret) and Idempotency-Key.
 * OK on 2xx; RETRY on network errors, timeouts, 408, 429, 5xx; FATAL on
 * anything else. *status gets the HTTP status (0 when none), err a
 * message with the receiver's answer (URLs in it without their
 * user:password: util_url_redact), *retry_after_ms the receiver's
 * Retry-After (0 when none). */
int webhook_post(const char *url, const char *secret, const char *key,
    const char *body, int64_t timeout_s, long *status,
    int64_t *retry_after_ms, char *err, size_t errlen);

#endif
