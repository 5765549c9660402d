/* log.h -- one line per event on stderr (journald), logfmt or JSON. */
#ifndef JP_LOG_H
#define JP_LOG_H

enum log_level { LOG_LEVEL_DEBUG = 0, LOG_LEVEL_INFO, LOG_LEVEL_WARN, LOG_LEVEL_ERROR };
enum log_format { LOG_FORMAT_TEXT = 0, LOG_FORMAT_JSON };

/* Set the threshold and line format; safe to call again (SIGHUP) while
 * other threads log: each line uses one consistent setting. */
void log_setup(enum log_format format, enum log_level level);
int log_parse_level(const char *s, enum log_level *out);
int log_parse_format(const char *s, enum log_format *out);

/* Log MSG with key/value string pairs, terminated by NULL:
 *
 *   log_msg(LOG_LEVEL_INFO, "job done", "id", id, "room", room, NULL);
 *
 * Values are untrusted: they are quoted and escaped (control characters,
 * quotes, backslashes), so a room name cannot forge a log line. A NULL value
 * is written as an empty string. Thread-safe: one write(2) per line. */
void log_msg(enum log_level level, const char *msg, ...)
	__attribute__((sentinel));

#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__, NULL)
#define log_info(...)  log_msg(LOG_LEVEL_INFO, __VA_ARGS__, NULL)
#define log_warn(...)  log_msg(LOG_LEVEL_WARN, __VA_ARGS__, NULL)
#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__, NULL)

/* Format a number for a log value; returns a pointer into buf (24 bytes). */
const char *log_i64(char *buf, long long v);

#endif
