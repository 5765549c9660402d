/* test_log.c -- log lines: setup and threshold, escaping, the cap, logfmt and JSON. */
#include "unit.h"
#include "base/log.h"
#include "base/util.h"

#include <jansson.h>
#include <stdlib.h>
#include <unistd.h>

/* What one setup logs: log_setup(f, level), then one line at each level
 * with value, stderr captured. Returns the text (free it). */
static char *
capture_at(enum log_format f, enum log_level level, const char *value)
{
	char path[] = "/tmp/jp-test-log-XXXXXX";
	int fd = mkstemp(path), saved = dup(2);
	char buf[32768];
	size_t n = 0;
	ssize_t r;

	dup2(fd, 2);
	log_setup(f, level);
	log_debug("at debug", "room", value);
	log_info("at info", "room", value);
	log_warn("at warn", "room", value);
	log_error("at error", "room", value);
	dup2(saved, 2);
	close(saved);
	while (n < sizeof(buf) - 1 &&
	    (r = pread(fd, buf + n, sizeof(buf) - 1 - n, (off_t)n)) > 0)
		n += (size_t)r;
	buf[n] = '\0';
	close(fd);
	unlink(path);
	log_setup(LOG_FORMAT_TEXT, LOG_LEVEL_INFO);
	return xstrdup(buf);
}

/* Run one log call with stderr captured; returns the line. */
static char *
capture(enum log_format f, const char *value)
{
	char path[] = "/tmp/jp-test-log-XXXXXX";
	int fd = mkstemp(path), saved = dup(2);
	char *text;

	dup2(fd, 2);
	log_setup(f, LOG_LEVEL_INFO);
	log_info("hello world", "room", value, "n", "1");
	log_debug("hidden", "x", "y");
	dup2(saved, 2);
	close(saved);
	close(fd);
	{
		FILE *fp = fopen(path, "r");
		char buf[8192] = "";
		size_t n = fread(buf, 1, sizeof(buf) - 1, fp);
		buf[n] = '\0';
		fclose(fp);
		text = xstrdup(buf);
	}
	unlink(path);
	log_setup(LOG_FORMAT_TEXT, LOG_LEVEL_INFO);
	return text;
}

static void
log_lines_escape(void)
{
	char *line = capture(LOG_FORMAT_TEXT, "evil\nlevel=error msg=\"forged\"");
	json_t *j;

	CHECK(strstr(line, "msg=\"hello world\"") != NULL);
	CHECK(strstr(line, "room=\"evil\\nlevel=error msg=\\\"forged\\\"\"") != NULL);
	CHECK(strstr(line, " n=1") != NULL);
	CHECK(strchr(line, '\n') == line + strlen(line) - 1); /* one line */
	CHECK(strstr(line, "hidden") == NULL);
	free(line);

	line = capture(LOG_FORMAT_JSON, "q\"\\\x01\n✓");
	j = json_loads(line, 0, NULL);
	CHECK(j != NULL);
	CHECK_STR(json_string_value(json_object_get(j, "room")), "q\"\\\x01\n✓");
	CHECK_STR(json_string_value(json_object_get(j, "level")), "info");
	json_decref(j);
	free(line);
}

static void
log_caps_long_values(void)
{
	char *big = xmalloc(20000), *line;
	json_t *j;

	memset(big, 'a', 19999);
	big[19999] = '\0';
	line = capture(LOG_FORMAT_JSON, big);
	CHECK(strlen(line) < 4200);
	CHECK(line[strlen(line) - 1] == '\n');
	CHECK(strstr(line, "…") != NULL);
	/* cut, and still one JSON object */
	j = json_loads(line, 0, NULL);
	CHECK(j != NULL);
	CHECK(json_string_value(json_object_get(j, "room")) != NULL);
	json_decref(j);
	free(line);
	line = capture(LOG_FORMAT_TEXT, big);
	CHECK(strlen(line) < 4200);
	CHECK(strchr(line, '\n') == line + strlen(line) - 1);
	CHECK(strstr(line, "…") != NULL);
	free(line);
	free(big);
}

/* The JSON line: ts, level, msg, then the pairs in order; a NULL value
 * is an empty string. */
static void
log_json_format(void)
{
	char path[] = "/tmp/jp-test-log-XXXXXX";
	int fd = mkstemp(path), saved = dup(2);
	char buf[4096];
	ssize_t n;
	json_t *j;
	void *it;
	const char *const order[] = { "ts", "level", "msg", "id", "empty" };
	size_t i;

	dup2(fd, 2);
	log_setup(LOG_FORMAT_JSON, LOG_LEVEL_DEBUG);
	log_msg(LOG_LEVEL_WARN, "disk low", "id", "abc", "empty", NULL, NULL);
	dup2(saved, 2);
	close(saved);
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	close(fd);
	unlink(path);
	log_setup(LOG_FORMAT_TEXT, LOG_LEVEL_INFO);
	buf[n > 0 ? n : 0] = '\0';
	CHECK(n > 0 && buf[n - 1] == '\n' && strchr(buf, '\n') == buf + n - 1);
	j = json_loads(buf, JSON_REJECT_DUPLICATES, NULL);
	CHECK(j != NULL);
	if (j == NULL)
		return;
	CHECK_INT(json_object_size(j), 5);
	it = json_object_iter(j);
	for (i = 0; i < 5 && it != NULL; i++, it = json_object_iter_next(j, it))
		CHECK_STR(json_object_iter_key(it), order[i]);
	CHECK_STR(json_string_value(json_object_get(j, "level")), "warn");
	CHECK_STR(json_string_value(json_object_get(j, "msg")), "disk low");
	CHECK_STR(json_string_value(json_object_get(j, "id")), "abc");
	CHECK_STR(json_string_value(json_object_get(j, "empty")), "");
	/* 2025-01-15T11:15:00.123Z */
	CHECK_INT(strlen(json_string_value(json_object_get(j, "ts"))), 24);
	json_decref(j);
}

/* The threshold: each setup logs its own level and those above. */
static void
log_setup_threshold(void)
{
	static const char *const msgs[] = { "at debug", "at info", "at warn",
	    "at error" };
	static const enum log_level levels[] = { LOG_LEVEL_DEBUG,
	    LOG_LEVEL_INFO, LOG_LEVEL_WARN, LOG_LEVEL_ERROR };
	static const enum log_format formats[] = { LOG_FORMAT_TEXT,
	    LOG_FORMAT_JSON };
	static const char *const first[] = { "ts=", "{\"ts\":" };
	size_t f, l, m, lines;
	char *text, *p;
	bool shown;

	for (f = 0; f < 2; f++) {
		for (l = 0; l < 4; l++) {
			text = capture_at(formats[f], levels[l], "r");
			for (m = 0; m < 4; m++) {
				shown = strstr(text, msgs[m]) != NULL;
				if (shown != (m >= l))
					fprintf(stderr, "  format %zu level "
					    "%zu: `%s' %s\n", f, l, msgs[m],
					    shown ? "logged" : "missing");
				CHECK(shown == (m >= l));
			}
			for (lines = 0, p = text; (p = strchr(p, '\n')) != NULL;
			    p++)
				lines++;
			CHECK_INT(lines, 4 - l);
			/* the line's first field, in its format */
			CHECK(text[0] == '\0' || strncmp(text, first[f],
			    strlen(first[f])) == 0);
			free(text);
		}
	}
}

/* LOG_LEVEL and LOG_FORMAT values. */
static void
log_parse(void)
{
	static const struct {
		const char *s;
		int rc;
		enum log_level want;
	} levels[] = {
		{ "debug", 0, LOG_LEVEL_DEBUG }, { "info", 0, LOG_LEVEL_INFO },
		{ "warn", 0, LOG_LEVEL_WARN }, { "warning", 0, LOG_LEVEL_WARN },
		{ "error", 0, LOG_LEVEL_ERROR }, { "INFO", -1, 0 },
		{ "", -1, 0 }, { "loud", -1, 0 }, { "info ", -1, 0 },
	};
	static const struct {
		const char *s;
		int rc;
		enum log_format want;
	} formats[] = {
		{ "text", 0, LOG_FORMAT_TEXT },
		{ "logfmt", 0, LOG_FORMAT_TEXT },
		{ "json", 0, LOG_FORMAT_JSON },
		{ "JSON", -1, 0 }, { "", -1, 0 }, { "yaml", -1, 0 },
	};
	enum log_level lv;
	enum log_format fm;
	char buf[24];
	size_t i;

	for (i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		lv = (enum log_level)99;
		if (log_parse_level(levels[i].s, &lv) != levels[i].rc)
			fprintf(stderr, "  LOG_LEVEL `%s'\n", levels[i].s);
		lv = (enum log_level)99;
		CHECK_INT(log_parse_level(levels[i].s, &lv), levels[i].rc);
		CHECK_INT(lv, levels[i].rc == 0 ? levels[i].want :
		    (enum log_level)99);
	}
	for (i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
		fm = (enum log_format)99;
		if (log_parse_format(formats[i].s, &fm) != formats[i].rc)
			fprintf(stderr, "  LOG_FORMAT `%s'\n", formats[i].s);
		fm = (enum log_format)99;
		CHECK_INT(log_parse_format(formats[i].s, &fm), formats[i].rc);
		CHECK_INT(fm, formats[i].rc == 0 ? formats[i].want :
		    (enum log_format)99);
	}
	CHECK_STR(log_i64(buf, -9223372036854775807LL - 1),
	    "-9223372036854775808");
	CHECK_STR(log_i64(buf, 0), "0");
}

UNIT_MAIN("log", T(log_lines_escape), T(log_caps_long_values),
    T(log_json_format), T(log_setup_threshold), T(log_parse))
