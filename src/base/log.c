/* log.c -- one line per event on stderr (journald), logfmt or JSON. */
#include "base/log.h"
#include "base/util.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Format and threshold in one atomic word: log_setup runs on SIGHUP
 * while worker threads log, and each line must see one consistent pair
 * (read once per line, so a line never switches format half-way). */
#define LOG_PACK(format, level) (((unsigned)(format) << 8) | (unsigned)(level))
static atomic_uint log_conf = LOG_PACK(LOG_FORMAT_TEXT, LOG_LEVEL_INFO);

static const char *const level_names[] = { "debug", "info", "warn", "error" };

void
log_setup(enum log_format format, enum log_level level)
{
	atomic_store_explicit(&log_conf, LOG_PACK(format, level),
	    memory_order_relaxed);
}

int
log_parse_level(const char *s, enum log_level *out)
{
	int i;

	for (i = 0; i < 4; i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	if (strcmp(s, "warning") == 0) {
		*out = LOG_LEVEL_WARN;
		return 0;
	}
	return -1;
}

int
log_parse_format(const char *s, enum log_format *out)
{
	if (strcmp(s, "text") == 0 || strcmp(s, "logfmt") == 0)
		*out = LOG_FORMAT_TEXT;
	else if (strcmp(s, "json") == 0)
		*out = LOG_FORMAT_JSON;
	else
		return -1;
	return 0;
}

const char *
log_i64(char *buf, long long v)
{
	snprintf(buf, 24, "%lld", v);
	return buf;
}

/* A line buffer with a hard cap: an oversized value is cut, never overflows. */
struct line {
	char buf[4096];
	size_t len;
	int cut;
};

static void
put(struct line *l, const char *s, size_t n)
{
	/* keep room for "…\n" */
	if (l->len + n > sizeof(l->buf) - 8) {
		n = sizeof(l->buf) - 8 - l->len;
		l->cut = 1;
	}
	memcpy(l->buf + l->len, s, n);
	l->len += n;
}

static void
puts_raw(struct line *l, const char *s)
{
	put(l, s, strlen(s));
}

/* Escape for both formats: \" \\ \n \r \t and \u00XX for other controls. */
static void
put_escaped(struct line *l, const char *s)
{
	char esc[8];

	for (; *s != '\0' && !l->cut; s++) {
		unsigned char c = (unsigned char)*s;
		switch (c) {
		case '"': put(l, "\\\"", 2); break;
		case '\\': put(l, "\\\\", 2); break;
		case '\n': put(l, "\\n", 2); break;
		case '\r': put(l, "\\r", 2); break;
		case '\t': put(l, "\\t", 2); break;
		default:
			if (c < 0x20 || c == 0x7f) {
				snprintf(esc, sizeof(esc), "\\u%04x", c);
				put(l, esc, 6);
			} else {
				put(l, (const char *)s, 1);
			}
		}
	}
}

/* logfmt values need quotes only when they hold spaces, quotes, = or
 * controls; keys are ours and never need them. */
static int
needs_quotes(const char *s)
{
	if (*s == '\0')
		return 1;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c == 0x7f)
			return 1;
	}
	return 0;
}

static void
put_field(struct line *l, enum log_format fmt, const char *key,
    const char *value, int first)
{
	if (value == NULL)
		value = "";
	if (fmt == LOG_FORMAT_JSON) {
		puts_raw(l, first ? "\"" : ",\"");
		puts_raw(l, key);
		puts_raw(l, "\":\"");
		put_escaped(l, value);
		puts_raw(l, "\"");
	} else {
		if (!first)
			puts_raw(l, " ");
		puts_raw(l, key);
		puts_raw(l, "=");
		if (needs_quotes(value)) {
			puts_raw(l, "\"");
			put_escaped(l, value);
			puts_raw(l, "\"");
		} else {
			put_escaped(l, value);
		}
	}
}

void
log_msg(enum log_level level, const char *msg, ...)
{
	struct line l;
	char ts[UTIL_ISO_LEN];
	const char *k, *v, *tail;
	unsigned conf = atomic_load_explicit(&log_conf, memory_order_relaxed);
	enum log_format fmt = (enum log_format)(conf >> 8);
	va_list ap;

	if (level < (enum log_level)(conf & 0xff))
		return;
	l.len = 0;
	l.cut = 0;
	util_iso8601_ms(util_now_ms(), ts);
	if (fmt == LOG_FORMAT_JSON)
		puts_raw(&l, "{");
	put_field(&l, fmt, "ts", ts, 1);
	put_field(&l, fmt, "level", level_names[level], 0);
	put_field(&l, fmt, "msg", msg, 0);
	va_start(ap, msg);
	while ((k = va_arg(ap, const char *)) != NULL) {
		v = va_arg(ap, const char *);
		put_field(&l, fmt, k, v, 0);
	}
	va_end(ap);
	/* the tail goes into the 8 bytes put() always keeps free */
	tail = l.cut ? (fmt == LOG_FORMAT_JSON ? "…\"}\n" : "…\n") :
	    (fmt == LOG_FORMAT_JSON ? "}\n" : "\n");
	memcpy(l.buf + l.len, tail, strlen(tail));
	l.len += strlen(tail);
	/* one write: lines from several threads never interleave */
	if (write(STDERR_FILENO, l.buf, l.len) < 0) {
		/* nowhere left to report it */
	}
}
