/* util.h -- small helpers every module uses: memory, time, strings. */
#ifndef JP_UTIL_H
#define JP_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Allocation that cannot fail: on out-of-memory the process aborts, like
 * Redis' zmalloc. A daemon that cannot allocate 100 bytes cannot report it. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Wall-clock milliseconds since the epoch, and monotonic milliseconds. */
int64_t util_now_ms(void);
int64_t util_mono_ms(void);

/* ISO-8601 UTC with milliseconds and Z ("2025-01-15T11:15:00.000Z").
 * buf must hold UTIL_ISO_LEN bytes; returns buf. */
#define UTIL_ISO_LEN 32
char *util_iso8601_ms(int64_t ms, char *buf);

/* Strict number parsing: the whole string must be the number. 0 or -1. */
int util_parse_i64(const char *s, int64_t *out);

/* "30", "30s", "15m", "8h", "7d", "1h30m" -> seconds. 0 or -1. */
int util_parse_duration(const char *s, int64_t *seconds);

/* "16777216", "16M", "16MiB", "512k", "1G"; KB/MB/GB are powers of 1000. */
int util_parse_size(const char *s, uint64_t *bytes);

/* Bounded copy that always terminates; returns -1 when s did not fit. */
int util_strlcpy(char *dst, const char *src, size_t size);

/* snprintf that reports truncation: 0 on success, -1 when it did not fit. */
int util_snprintf(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

bool util_str_has_suffix(const char *s, const char *suffix);

/* qsort comparator for an array of char *. */
int util_cmp_strp(const void *a, const void *b);

/* A relative slash-separated path (a storage key, a key prefix) with no
 * empty, "." or ".." component: what no URL parser folds and no file://
 * path can escape with. "" is not one. */
bool util_relpath_clean(const char *p);

/* Lower-case hex of n bytes; out must hold 2n+1. */
void util_hex(const unsigned char *in, size_t n, char *out);

/* Random bytes from getrandom(2); aborts if the kernel cannot give any. */
void util_random(void *buf, size_t n);

/* A random version-4 UUID in its 36-character text form (buf: 37 bytes). */
void util_uuid4(char *buf);

/* Delay before retry number attempt (1 = the first retry): exponential
 * from 1 s, capped at max_ms, with jitter (half fixed, half random) so
 * that many jobs failing together do not retry together. */
int64_t util_backoff_ms(int64_t attempt, int64_t max_ms);

/* A copy of url (or of a message quoting URLs) with the userinfo of every
 * URL in it replaced by "***": https://user:pass@host/p comes back with
 * "***" in place of "user:pass". The authority is what follows "://" up to the first
 * '/', space or quote (not '?' or '#': a password may hold them); its
 * userinfo is everything up to its last '@'. Text without userinfo comes
 * back unchanged. For every message and log line that names a configured
 * URL: WEBHOOK_URL may carry a password. Newly allocated (xmalloc). */
char *util_url_redact(const char *url);

#endif
