/* test_config.c -- env-file parsing, defaults, _FILE secrets, every problem named. */
#include "unit.h"
#include "base/config.h"
#include "base/envfile.h"
#include "base/fsutil.h"
#include "base/util.h"

#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char dir[] = "/tmp/jp-test-config-XXXXXX";

/* An empty env file: JIBRI_PIPELINE_CONFIG names it so that an installed
 * CONFIG_DEFAULT_PATH is not read either. */
static char *empty_env;

/* Every test starts from an empty environment: nothing of the
 * developer's (or CI's) leaks in, whatever keys config.c learns. */
static void
fresh_env(void)
{
	clearenv();
	setenv("JIBRI_PIPELINE_CONFIG", empty_env, 1);
}

static char *
write_file(const char *name, const char *text)
{
	char *path = xasprintf("%s/%s", dir, name);
	FILE *f = fopen(path, "w");

	fputs(text, f);
	fclose(f);
	return path;
}

static bool
has_msg(const struct config_msgs *m, const char *needle)
{
	size_t i;

	for (i = 0; i < m->n; i++)
		if (strstr(m->v[i], needle) != NULL)
			return true;
	return false;
}

static void
parse_line_forms(void)
{
	char *k, *v;

	CHECK_INT(envfile_parse_line("# comment", &k, &v), 0);
	CHECK_INT(envfile_parse_line("   ", &k, &v), 0);
	CHECK_INT(envfile_parse_line("A=b c  ", &k, &v), 1);
	CHECK_STR(k, "A");
	CHECK_STR(v, "b c");
	free(k); free(v);
	CHECK_INT(envfile_parse_line("export B=\"x \\\"q\\\" y\"", &k, &v), 1);
	CHECK_STR(k, "B");
	CHECK_STR(v, "x \"q\" y");
	free(k); free(v);
	CHECK_INT(envfile_parse_line("C='a\\b $x'", &k, &v), 1);
	CHECK_STR(v, "a\\b $x");
	free(k); free(v);
	CHECK_INT(envfile_parse_line("D=", &k, &v), 1);
	CHECK_STR(v, "");
	free(k); free(v);
	CHECK_INT(envfile_parse_line("no equals", &k, &v), -1);
	CHECK_INT(envfile_parse_line("1X=y", &k, &v), -1);
	CHECK_INT(envfile_parse_line("E=\"unterminated", &k, &v), -1);
}

/* Nothing set but what must be: every key's default. */
static void
defaults(void)
{
	struct config_msgs e = { 0 }, w = { 0 };
	struct config *c;

	fresh_env();
	setenv("WEBHOOK_URL", "none", 1);
	setenv("STATE_DIR", "/tmp/jp-state", 1);
	c = config_load(NULL, &e, &w);
	CHECK(c != NULL);
	CHECK_INT(e.n, 0);
	CHECK_INT(w.n, 0);
	if (c == NULL)
		return;
	CHECK(c->jitsi_domain == NULL);
	CHECK(c->jwt_secret == NULL);
	CHECK(c->webhook_secret == NULL);
	CHECK_STR(c->app_id, "reflector");
	CHECK_STR(c->jwt_issuer, "reflector");
	CHECK_STR(c->jwt_audience, "jitsi");
	CHECK_INT(c->jwt_ttl, 8 * 3600);
	CHECK_STR(c->reflector_api_url, "http://localhost:1250");
	CHECK(c->webhook_url == NULL);
	CHECK_INT(c->webhook_retry_for, 72 * 3600);
	CHECK_INT(c->webhook_timeout, 30);
	CHECK_INT(c->retry_max_delay, 5 * 60);
	CHECK_STR(c->recordings_dir, "/var/recordings");
	CHECK_STR(c->state_dir, "/tmp/jp-state");
	CHECK_STR(c->storage_url, "file:///tmp/jp-state/storage");
	CHECK_STR(c->storage_path, "/tmp/jp-state/storage");
	CHECK(c->s3_bucket == NULL);
	CHECK(c->s3_endpoint == NULL);
	CHECK_STR(c->s3_region, "us-east-1");
	CHECK(!c->s3_path_style);
	CHECK(c->aws_access_key_id == NULL);
	CHECK(c->aws_secret_access_key == NULL);
	CHECK(c->aws_session_token == NULL);
	CHECK_INT(c->s3_part_size, 16 << 20);
	CHECK_INT(c->s3_concurrency, 4);
	CHECK_INT(c->outputs, OUT_MP4 | OUT_AUDIO | OUT_MANIFEST);
	CHECK_INT(c->keep_local, KEEP_KEEP);
	CHECK_INT(c->workers, 2);
	CHECK_INT(c->stable_seconds, 30);
	CHECK(c->database_url == NULL);
	CHECK_STR(c->listen, "127.0.0.1:8080");
	CHECK(c->api_tokens == NULL);
	CHECK(c->event_sync_token == NULL);
	CHECK_INT(c->log_format, LOG_FORMAT_TEXT);
	CHECK_INT(c->log_level, LOG_LEVEL_INFO);
	CHECK_INT(c->disk_min_free_pct, 10);
	CHECK_INT(c->disk_min_free_bytes, 0);
	CHECK_INT(c->job_retention, 30 * 86400);
	CHECK_INT(c->jibri_width, 1920);
	CHECK_INT(c->jibri_height, 1080);
	CHECK_INT(c->jibri_framerate, 30);
	CHECK_STR(c->jibri_preset, "ultrafast");
	CHECK_INT(c->jibri_crf, 25);
	CHECK_STR(c->source, empty_env);
	CHECK_INT(c->nfiles, 0);
	config_unref(c);
	config_msgs_free(&e);
	config_msgs_free(&w);
	/* the state directory's default, too */
	unsetenv("STATE_DIR");
	c = config_load(NULL, &e, &w);
	CHECK(c != NULL);
	if (c != NULL) {
		CHECK_STR(c->state_dir, "/var/lib/jibri-pipeline");
		CHECK_STR(c->storage_path, "/var/lib/jibri-pipeline/storage");
	}
	config_unref(c);
	config_msgs_free(&e);
	config_msgs_free(&w);
}

/* Where a key lands in struct config, and how to read it there. */
enum field { STR, STR_NULL, I64, INT, U64, BOOL, UINT, ENUM };

/* One key of config.c's table set to a value other than its default (a
 * NAME_FILE row: value is the file's text), and what the config holds. */
static const struct key_case {
	const char *key;
	const char *value;
	size_t off;
	enum field type;
	const char *want;  /* STR */
	long long num;     /* the others */
} key_cases[] = {
#define F(field) offsetof(struct config, field)
	{ "JITSI_DOMAIN", "meet.example.org", F(jitsi_domain), STR,
	    "meet.example.org", 0 },
	{ "JITSI_JWT_SECRET", "0123456789abcdef0123456789abcdef",
	    F(jwt_secret), STR, "0123456789abcdef0123456789abcdef", 0 },
	{ "JITSI_WEBHOOK_SECRET", "hook-secret", F(webhook_secret), STR,
	    "hook-secret", 0 },
	{ "JITSI_APP_ID", "my-app", F(app_id), STR, "my-app", 0 },
	{ "JITSI_JWT_ISSUER", "my-issuer", F(jwt_issuer), STR, "my-issuer",
	    0 },
	{ "JITSI_JWT_AUDIENCE", "my-audience", F(jwt_audience), STR,
	    "my-audience", 0 },
	{ "JWT_TTL", "2h", F(jwt_ttl), I64, NULL, 2 * 3600 },
	{ "REFLECTOR_API_URL", "https://reflector.example.org/",
	    F(reflector_api_url), STR, "https://reflector.example.org/", 0 },
	{ "REFLECTOR_API_URL", "https://reflector.example.org/",
	    F(webhook_url), STR, "https://reflector.example.org/v1/jibri/"
	    "recording-complete", 0 },
	{ "WEBHOOK_URL", "https://hook.example.org/done", F(webhook_url), STR,
	    "https://hook.example.org/done", 0 },
	{ "WEBHOOK_URL", "none", F(webhook_url), STR_NULL, NULL, 0 },
	{ "WEBHOOK_RETRY_FOR", "1h", F(webhook_retry_for), I64, NULL, 3600 },
	{ "WEBHOOK_TIMEOUT", "10s", F(webhook_timeout), I64, NULL, 10 },
	{ "RETRY_MAX_DELAY", "2m", F(retry_max_delay), I64, NULL, 120 },
	{ "RECORDINGS_DIR", "/srv/rec", F(recordings_dir), STR, "/srv/rec",
	    0 },
	{ "STATE_DIR", "/srv/state", F(state_dir), STR, "/srv/state", 0 },
	{ "STATE_DIR", "/srv/state", F(storage_path), STR,
	    "/srv/state/storage", 0 },
	{ "STORAGE_URL", "file:///srv/store", F(storage_path), STR,
	    "/srv/store", 0 },
	{ "STORAGE_URL", "file:///srv/store", F(storage_url), STR,
	    "file:///srv/store", 0 },
	{ "S3_ENDPOINT", "https://s3.example.org", F(s3_endpoint), STR,
	    "https://s3.example.org", 0 },
	{ "S3_REGION", "eu-west-1", F(s3_region), STR, "eu-west-1", 0 },
	{ "S3_PATH_STYLE", "true", F(s3_path_style), BOOL, NULL, 1 },
	{ "S3_PATH_STYLE", "yes", F(s3_path_style), BOOL, NULL, 1 },
	{ "AWS_ACCESS_KEY_ID", "AKID", F(aws_access_key_id), STR, "AKID", 0 },
	{ "AWS_SECRET_ACCESS_KEY", "SK", F(aws_secret_access_key), STR, "SK",
	    0 },
	{ "AWS_SESSION_TOKEN", "TOKEN", F(aws_session_token), STR, "TOKEN",
	    0 },
	{ "S3_PART_SIZE", "32MiB", F(s3_part_size), U64, NULL, 32 << 20 },
	{ "S3_CONCURRENCY", "8", F(s3_concurrency), INT, NULL, 8 },
	{ "OUTPUTS", "mp4", F(outputs), UINT, NULL, OUT_MP4 },
	{ "OUTPUTS", "video, manifest", F(outputs), UINT, NULL,
	    OUT_MP4 | OUT_MANIFEST },
	{ "KEEP_LOCAL", "delete", F(keep_local), ENUM, NULL, KEEP_DELETE },
	{ "KEEP_LOCAL", "7d", F(keep_local), ENUM, NULL, KEEP_AGE },
	{ "KEEP_LOCAL", "7d", F(keep_local_age), I64, NULL, 7 * 86400 },
	{ "WORKERS", "4", F(workers), INT, NULL, 4 },
	{ "STABLE_SECONDS", "5", F(stable_seconds), I64, NULL, 5 },
	{ "DATABASE_URL", "postgres://db/rec", F(database_url), STR,
	    "postgres://db/rec", 0 },
	{ "LISTEN", "0.0.0.0:9000", F(listen), STR, "0.0.0.0:9000", 0 },
	{ "LISTEN", "none", F(listen), STR_NULL, NULL, 0 },
	{ "LISTEN", "0.0.0.0:9000", F(listen_host), STR, "0.0.0.0", 0 },
	{ "LISTEN", "0.0.0.0:9000", F(listen_port), INT, NULL, 9000 },
	{ "LISTEN", "[::1]:8081", F(listen_host), STR, "::1", 0 },
	{ "LISTEN", "[::1]:8081", F(listen_family), INT, NULL, AF_INET6 },
	{ "LISTEN", ":8082", F(listen_host), STR, "", 0 },
	{ "LISTEN", "localhost:8083", F(listen_port), INT, NULL, 8083 },
	{ "API_TOKENS", "t1,t2", F(api_tokens), STR, "t1,t2", 0 },
	{ "EVENT_SYNC_TOKEN", "sync", F(event_sync_token), STR, "sync", 0 },
	{ "EVENT_JOURNAL_MAX", "1MiB", F(event_journal_max), U64, NULL,
	    1 << 20 },
	{ "LOG_FORMAT", "json", F(log_format), ENUM, NULL, LOG_FORMAT_JSON },
	{ "LOG_LEVEL", "debug", F(log_level), ENUM, NULL, LOG_LEVEL_DEBUG },
	{ "LOG_LEVEL", "error", F(log_level), ENUM, NULL, LOG_LEVEL_ERROR },
	{ "DISK_MIN_FREE", "15%", F(disk_min_free_pct), INT, NULL, 15 },
	{ "DISK_MIN_FREE", "2GiB", F(disk_min_free_bytes), U64, NULL,
	    2ULL << 30 },
	{ "JOB_RETENTION", "7d", F(job_retention), I64, NULL, 7 * 86400 },
	{ "JIBRI_RESOLUTION", "1280x720", F(jibri_width), UINT, NULL, 1280 },
	{ "JIBRI_RESOLUTION", "1280x720", F(jibri_height), UINT, NULL, 720 },
	{ "JIBRI_FRAMERATE", "25", F(jibri_framerate), INT, NULL, 25 },
	{ "JIBRI_PRESET", "veryfast", F(jibri_preset), STR, "veryfast", 0 },
	{ "JIBRI_CRF", "23", F(jibri_crf), INT, NULL, 23 },
	/* the secrets from files: the text, one trailing newline dropped */
	{ "JITSI_JWT_SECRET_FILE", "jwt-from-file-0123456789abcdef01\n",
	    F(jwt_secret), STR, "jwt-from-file-0123456789abcdef01", 0 },
	{ "JITSI_WEBHOOK_SECRET_FILE", "hook-from-file\n", F(webhook_secret),
	    STR, "hook-from-file", 0 },
	{ "AWS_ACCESS_KEY_ID_FILE", "AKID-file", F(aws_access_key_id), STR,
	    "AKID-file", 0 },
	{ "AWS_SECRET_ACCESS_KEY_FILE", "SK-file\r\n",
	    F(aws_secret_access_key), STR, "SK-file", 0 },
	{ "AWS_SESSION_TOKEN_FILE", "TOKEN-file\n", F(aws_session_token),
	    STR, "TOKEN-file", 0 },
	{ "DATABASE_URL_FILE", "postgres://file/rec\n", F(database_url), STR,
	    "postgres://file/rec", 0 },
	{ "API_TOKENS_FILE", "t3,t4\n", F(api_tokens), STR, "t3,t4", 0 },
	{ "EVENT_SYNC_TOKEN_FILE", "sync-file\n", F(event_sync_token), STR,
	    "sync-file", 0 },
#undef F
};
#define NCASES (sizeof(key_cases) / sizeof(key_cases[0]))

/* Whether the value at off of c is the row's (if not and report, say
 * what it is). */
static bool
field_is(const struct config *c, const struct key_case *k, bool report)
{
	const char *p = (const char *)c + k->off;
	const char *str;
	long long n;

	switch (k->type) {
	case STR:
		memcpy(&str, p, sizeof(str));
		if (str == NULL || strcmp(str, k->want) != 0) {
			if (report)
				fprintf(stderr, "  %s=%s: `%s', want "
				    "`%s'\n", k->key, k->value,
				    str ? str : "(null)", k->want);
			return false;
		}
		return true;
	case STR_NULL:
		memcpy(&str, p, sizeof(str));
		if (str != NULL && report)
			fprintf(stderr, "  %s=%s: `%s', want NULL\n", k->key,
			    k->value, str);
		return str == NULL;
	case I64:
		n = *(const int64_t *)(const void *)p;
		break;
	case U64:
		n = (long long)*(const uint64_t *)(const void *)p;
		break;
	case INT:
	case ENUM:
		n = *(const int *)(const void *)p;
		break;
	case UINT:
		n = *(const unsigned *)(const void *)p;
		break;
	case BOOL:
		n = *(const bool *)(const void *)p;
		break;
	default:
		return false;
	}
	if (n != k->num && report)
		fprintf(stderr, "  %s=%s: %lld, want %lld\n", k->key,
		    k->value, n, k->num);
	return n == k->num;
}

/* The environment every row is loaded over: a webhook secret, so that
 * the default webhook is allowed. */
static void
base_env(void)
{
	fresh_env();
	setenv("JITSI_WEBHOOK_SECRET", "base-secret", 1);
}

/* Each row alone over base_env: loaded without a problem, the value where
 * it belongs, and not there without the key (so it came from the key). */
static void
every_key_read(void)
{
	struct config_msgs e = { 0 }, w = { 0 };
	const struct key_case *k;
	struct config *c, *base;
	char *file = NULL;
	size_t i, j;

	base_env();
	base = config_load(NULL, &e, &w);
	CHECK(base != NULL);
	CHECK_INT(e.n, 0);
	config_msgs_free(&e);
	config_msgs_free(&w);
	if (base == NULL)
		return;
	for (i = 0; i < NCASES; i++) {
		k = &key_cases[i];
		if (field_is(base, k, false))
			fprintf(stderr, "  %s=%s: the default already\n",
			    k->key, k->value);
		CHECK(!field_is(base, k, false));
		base_env();
		if (util_str_has_suffix(k->key, "_FILE")) {
			file = write_file("key-file", k->value);
			setenv(k->key, file, 1);
		} else {
			setenv(k->key, k->value, 1);
		}
		c = config_load(NULL, &e, &w);
		for (j = 0; j < e.n; j++)
			fprintf(stderr, "  %s=%s: %s\n", k->key, k->value,
			    e.v[j]);
		CHECK(c != NULL);
		CHECK_INT(e.n, 0);
		if (c != NULL)
			CHECK(field_is(c, k, true));
		config_unref(c);
		config_msgs_free(&e);
		config_msgs_free(&w);
		free(file);
		file = NULL;
	}
	config_unref(base);
}

/* Whether a row of key_cases sets key. */
static bool
has_case(const char *key)
{
	size_t i;

	for (i = 0; i < NCASES; i++)
		if (strcmp(key_cases[i].key, key) == 0)
			return true;
	return false;
}

/* Every key in config.c's table (read from the source: the test runs in
 * the tree) has a row above, a secret its NAME_FILE form too: a key added
 * there without a test here fails. */
static void
every_key_has_a_case(void)
{
	char *src = fs_read_file("src/base/config.c", 1 << 20, NULL);
	char *p, *end, *q, *nl, name[64], *file;
	size_t nkeys = 0, nsecrets = 0;

	CHECK(src != NULL);
	if (src == NULL)
		return;
	p = strstr(src, "keys[] = {");
	end = p != NULL ? strstr(p, "\n};") : NULL;
	CHECK(p != NULL && end != NULL);
	while (p != NULL && end != NULL &&
	    (p = strstr(p, "\n\t{ \"")) != NULL && p < end) {
		p += 5;
		q = strchr(p, '"');
		if (q == NULL || (size_t)(q - p) >= sizeof(name))
			break;
		memcpy(name, p, (size_t)(q - p));
		name[q - p] = '\0';
		nl = strchr(q, '\n');
		if (nl == NULL)
			break;
		*nl = '\0'; /* the row: { "NAME", DEFAULT, SECRET }, */
		nkeys++;
		if (!has_case(name))
			fprintf(stderr, "  %s (config.c) has no row in "
			    "key_cases\n", name);
		CHECK(has_case(name));
		if (strstr(q, ", true }") != NULL) {
			nsecrets++;
			file = xasprintf("%s_FILE", name);
			if (!has_case(file))
				fprintf(stderr, "  %s (a secret) has no row "
				    "for %s\n", name, file);
			CHECK(has_case(file));
			free(file);
		}
		*nl = '\n';
	}
	/* the table was found and read, its secrets told apart */
	CHECK(nkeys >= 33);
	CHECK(nsecrets >= 8 && nsecrets < nkeys);
	free(src);
}

/* JIBRI_PIPELINE_CONFIG names the env file when none is given. */
/* The JWT issuer is JITSI_APP_ID's value unless JITSI_JWT_ISSUER is set
 * (Prosody wants iss equal to its app_id). */
static void
issuer_follows_app_id(void)
{
	struct config_msgs e = { 0 }, w = { 0 };
	struct config *c;

	fresh_env();
	setenv("WEBHOOK_URL", "none", 1);
	setenv("JITSI_APP_ID", "my-app", 1);
	c = config_load(empty_env, &e, &w);
	CHECK(c != NULL);
	if (c != NULL)
		CHECK_STR(c->jwt_issuer, "my-app");
	config_unref(c);
	setenv("JITSI_JWT_ISSUER", "other", 1);
	c = config_load(empty_env, &e, &w);
	CHECK(c != NULL);
	if (c != NULL) {
		CHECK_STR(c->jwt_issuer, "other");
		CHECK_STR(c->app_id, "my-app");
	}
	config_unref(c);
	unsetenv("JITSI_APP_ID");
	unsetenv("JITSI_JWT_ISSUER");
	config_msgs_free(&e);
	config_msgs_free(&w);
}

static void
config_file_from_environment(void)
{
	struct config_msgs e = { 0 }, w = { 0 };
	struct config *c;
	char *env = write_file("named.env", "WEBHOOK_URL=none\n"
	    "RECORDINGS_DIR=/from/named\n");

	fresh_env();
	setenv("JIBRI_PIPELINE_CONFIG", env, 1);
	c = config_load(NULL, &e, &w);
	CHECK(c != NULL);
	if (c != NULL) {
		CHECK_STR(c->source, env);
		CHECK_STR(c->recordings_dir, "/from/named");
	}
	config_unref(c);
	/* a path given wins over it */
	c = config_load(empty_env, &e, &w);
	CHECK(c == NULL); /* the webhook needs its secret: none in the file */
	CHECK(has_msg(&e, "JITSI_WEBHOOK_SECRET: not set"));
	config_msgs_free(&e);
	/* neither: the installed file, or none */
	unsetenv("JIBRI_PIPELINE_CONFIG");
	if (access(CONFIG_DEFAULT_PATH, F_OK) != 0) {
		setenv("WEBHOOK_URL", "none", 1);
		c = config_load(NULL, &e, &w);
		CHECK(c != NULL);
		if (c != NULL)
			CHECK(c->source == NULL);
		config_unref(c);
	}
	config_msgs_free(&e);
	config_msgs_free(&w);
	free(env);
}

static void
file_env_and_secret_file(void)
{
	struct config_msgs e = { 0 }, w = { 0 };
	struct config *c;
	char *secret = write_file("secret", "s3cr3t-from-file\n");
	char *envtext = xasprintf(
	    "# jibri-pipeline\n"
	    "RECORDINGS_DIR=/srv/rec\n"
	    "JITSI_WEBHOOK_SECRET_FILE=%s\n"
	    "REFLECTOR_API_URL=http://127.0.0.1:1250/\n"
	    "WORKERS=3\n"
	    "MYSTERY_KEY=1\n", secret);
	char *env = write_file("env", envtext);

	fresh_env();
	setenv("WORKERS", "5", 1);   /* the environment wins over the file */
	c = config_load(env, &e, &w);
	CHECK(c != NULL);
	CHECK_INT(e.n, 0);
	if (c != NULL) {
		CHECK_STR(c->recordings_dir, "/srv/rec");
		CHECK_STR(c->webhook_secret, "s3cr3t-from-file");
		CHECK_STR(c->webhook_url,
		    "http://127.0.0.1:1250/v1/jibri/recording-complete");
		CHECK_INT(c->workers, 5);
		CHECK_STR(c->source, env);
	}
	CHECK(has_msg(&w, "MYSTERY_KEY"));
	CHECK(has_msg(&w, ":6:"));
	config_unref(c);
	config_msgs_free(&e);
	config_msgs_free(&w);
	free(secret); free(envtext); free(env);
}

static void
every_problem_named(void)
{
	struct config_msgs e = { 0 }, w = { 0 };
	struct config *c;

	fresh_env();
	setenv("WORKERS", "zero", 1);
	setenv("S3_PART_SIZE", "1M", 1);
	setenv("KEEP_LOCAL", "forever", 1);
	setenv("OUTPUTS", "mp4,video3d", 1);
	setenv("LOG_LEVEL", "loud", 1);
	setenv("STORAGE_URL", "ftp://x", 1);
	setenv("STABLE_SECONDS", "-1", 1);
	setenv("S3_PATH_STYLE", "maybe", 1);
	setenv("JITSI_JWT_SECRET", "short", 1);
	setenv("JITSI_WEBHOOK_SECRET_FILE", "/nonexistent/secret", 1);
	setenv("EVENT_JOURNAL_MAX", "12", 1);
	setenv("JIBRI_RESOLUTION", "1920*1080", 1);
	setenv("JIBRI_PRESET", "warp", 1);
	setenv("DISK_MIN_FREE", "95%", 1);
	c = config_load(NULL, &e, &w);
	CHECK(c == NULL);
	CHECK(has_msg(&e, "JIBRI_RESOLUTION: `1920*1080'"));
	CHECK(has_msg(&e, "JIBRI_PRESET: `warp'"));
	CHECK(has_msg(&e, "DISK_MIN_FREE: `95%'"));
	CHECK(has_msg(&e, "EVENT_JOURNAL_MAX: `12'"));
	CHECK(has_msg(&e, "WORKERS: `zero'"));
	CHECK(has_msg(&e, "S3_PART_SIZE: `1M'"));
	CHECK(has_msg(&e, "KEEP_LOCAL: `forever'"));
	CHECK(has_msg(&e, "OUTPUTS: unknown output `video3d'"));
	CHECK(has_msg(&e, "LOG_LEVEL: `loud'"));
	CHECK(has_msg(&e, "STORAGE_URL: `ftp://x'"));
	CHECK(has_msg(&e, "STABLE_SECONDS: `-1'"));
	CHECK(has_msg(&e, "S3_PATH_STYLE: `maybe'"));
	CHECK(has_msg(&e, "JITSI_WEBHOOK_SECRET_FILE: cannot read"));
	CHECK(has_msg(&w, "JITSI_JWT_SECRET"));
	CHECK(e.n >= 9);
	config_msgs_free(&e);
	config_msgs_free(&w);
}

/* LISTEN: what is not HOST:PORT with a numeric host and a port in range
 * is named, never looked up. */
static void
listen_refused(void)
{
	static const char *bad[] = { "8080", "127.0.0.1", "127.0.0.1:",
	    "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:80x",
	    "example.org:80", "[::1:80", "[nope]:80", "::1:80", "1.2.3:80" };
	struct config_msgs e = { 0 }, w = { 0 };
	struct config *c;
	char want[64];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		fresh_env();
		setenv("WEBHOOK_URL", "none", 1);
		setenv("LISTEN", bad[i], 1);
		c = config_load(NULL, &e, &w);
		CHECK(c == NULL);
		snprintf(want, sizeof(want), "LISTEN: `%s'", bad[i]);
		if (!has_msg(&e, want))
			fprintf(stderr, "  LISTEN=%s not refused\n", bad[i]);
		CHECK(has_msg(&e, want));
		config_free(c);
		config_msgs_free(&e);
		config_msgs_free(&w);
	}
}

static void
webhook_needs_secret(void)
{
	struct config_msgs e = { 0 }, w = { 0 };
	struct config *c;

	fresh_env();
	c = config_load(NULL, &e, &w);
	CHECK(c == NULL);
	CHECK(has_msg(&e, "JITSI_WEBHOOK_SECRET: not set"));
	config_msgs_free(&e);
	config_msgs_free(&w);
}

static void
s3_url(void)
{
	struct config_msgs e = { 0 }, w = { 0 };
	struct config *c;

	fresh_env();
	setenv("WEBHOOK_URL", "none", 1);
	setenv("STORAGE_URL", "s3://my-bucket//rec/jibri/", 1);
	setenv("AWS_ACCESS_KEY_ID", "AK", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "SK", 1);
	c = config_load(NULL, &e, &w);
	CHECK(c != NULL);
	if (c != NULL) {
		CHECK_STR(c->s3_bucket, "my-bucket");
		CHECK_STR(c->s3_prefix, "rec/jibri");
	}
	config_unref(c);
	unsetenv("AWS_SECRET_ACCESS_KEY");
	c = config_load(NULL, &e, &w);
	CHECK(c == NULL);
	CHECK(has_msg(&e, "AWS_SECRET_ACCESS_KEY"));
	config_msgs_free(&e);
	config_msgs_free(&w);
}

static void
numbers(void)
{
	int64_t s;
	uint64_t b;

	CHECK(util_parse_duration("30", &s) == 0 && s == 30);
	CHECK(util_parse_duration("8h", &s) == 0 && s == 8 * 3600);
	CHECK(util_parse_duration("1h30m", &s) == 0 && s == 5400);
	CHECK(util_parse_duration("7d", &s) == 0 && s == 7 * 86400);
	CHECK(util_parse_duration("", &s) < 0);
	CHECK(util_parse_duration("h", &s) < 0);
	CHECK(util_parse_duration("5w", &s) < 0);
	CHECK(util_parse_duration("-5s", &s) < 0);
	CHECK(util_parse_size("16MiB", &b) == 0 && b == 16ULL << 20);
	CHECK(util_parse_size("5M", &b) == 0 && b == 5ULL << 20);
	CHECK(util_parse_size("5MB", &b) == 0 && b == 5000000);
	CHECK(util_parse_size("1G", &b) == 0 && b == 1ULL << 30);
	CHECK(util_parse_size("12", &b) == 0 && b == 12);
	CHECK(util_parse_size("12 M", &b) < 0);
	CHECK(util_parse_size("99999999999999999999", &b) < 0);
	CHECK(util_parse_size("M", &b) < 0);
}

static void
iso_and_backoff(void)
{
	char ts[UTIL_ISO_LEN];
	int64_t d;
	int i;

	CHECK_STR(util_iso8601_ms(1736939700123LL, ts),
	    "2025-01-15T11:15:00.123Z");
	for (i = 1; i < 40; i++) {
		d = util_backoff_ms(i, 300000);
		CHECK(d >= 250 && d <= 300000);
	}
	d = util_backoff_ms(1, 300000);
	CHECK(d >= 500 && d <= 1000);
	d = util_backoff_ms(30, 300000);
	CHECK(d >= 150000);
}

static void
keep_local_needs_mp4(void)
{
	static const char *const keeps[] = { "delete", "7d" };
	struct config_msgs e = { 0 }, w = { 0 };
	struct config *c;
	char want[300];
	size_t i;

	for (i = 0; i < 2; i++) {
		fresh_env();
		setenv("WEBHOOK_URL", "none", 1);
		setenv("OUTPUTS", "audio,manifest", 1);
		setenv("KEEP_LOCAL", keeps[i], 1);
		c = config_load(NULL, &e, &w);
		CHECK(c == NULL);
		snprintf(want, sizeof(want), "KEEP_LOCAL=%s would delete the only "
		    "copy of the video: OUTPUTS=`audio,manifest' has no mp4 (add "
		    "mp4 to OUTPUTS or set KEEP_LOCAL=keep)", keeps[i]);
		CHECK_INT(e.n, 1);
		if (e.n > 0)
			CHECK_STR(e.v[0], want);
		config_unref(c);
		config_msgs_free(&e);
		config_msgs_free(&w);
	}
	/* with the video stored, or the source kept: fine */
	setenv("OUTPUTS", "video,audio", 1);
	c = config_load(NULL, &e, &w);
	CHECK(c != NULL);
	CHECK_INT(e.n, 0);
	config_unref(c);
	setenv("OUTPUTS", "audio", 1);
	setenv("KEEP_LOCAL", "keep", 1);
	c = config_load(NULL, &e, &w);
	CHECK(c != NULL);
	CHECK_INT(e.n, 0);
	config_unref(c);
	config_msgs_free(&e);
	config_msgs_free(&w);
}

struct seen {
	char text[256];
	int bad_lines;
};

static void
collect_setting(void *arg, int lineno, const char *key, const char *value)
{
	struct seen *s = arg;
	size_t n = strlen(s->text);

	if (key == NULL) {
		s->bad_lines++;
		return;
	}
	snprintf(s->text + n, sizeof(s->text) - n, "%d:%s=%s;", lineno, key,
	    value);
}

static void
env_text_wiped_whole(void)
{
	static const char text[] = "# secrets\nA=first\n\nB=\"second line "
	    "secret\"\nbroken line\nC='third'\n";
	struct seen s = { "", 0 };
	size_t len = sizeof(text) - 1, i, nonzero = 0;
	char *buf = xmalloc(len + 1);

	memcpy(buf, text, len + 1);
	envfile_parse_text(buf, len, collect_setting, &s);
	CHECK_STR(s.text, "2:A=first;4:B=second line secret;6:C=third;");
	CHECK_INT(s.bad_lines, 1);
	/* every byte, not only the first line */
	for (i = 0; i < len; i++)
		if (buf[i] != '\0')
			nonzero++;
	CHECK_INT(nonzero, 0);
	free(buf);
}

static void
secret_file_symlink_fifo(void)
{
	struct config_msgs e = { 0 }, w = { 0 };
	struct config *c;
	char *secret = write_file("real-secret", "linked-secret\n\n");
	char *link = xasprintf("%s/secret-link", dir);
	char *fifo = xasprintf("%s/secret-fifo", dir);
	char *msg;
	time_t t0;

	fresh_env();
	CHECK(symlink(secret, link) == 0);
	setenv("JITSI_WEBHOOK_SECRET_FILE", link, 1);
	c = config_load(NULL, &e, &w);
	CHECK(c != NULL);
	CHECK_INT(e.n, 0);
	if (c != NULL) {
		/* one trailing newline stripped, not two */
		CHECK_STR(c->webhook_secret, "linked-secret\n");
		CHECK_INT(c->nfiles, 1);
		if (c->nfiles == 1) {
			CHECK_STR(c->files[0].key, "JITSI_WEBHOOK_SECRET_FILE");
			CHECK_STR(c->files[0].path, link);
		}
	}
	config_unref(c);

	/* a FIFO nobody writes: refused at once, not waited on */
	CHECK(mkfifo(fifo, 0600) == 0);
	setenv("JITSI_WEBHOOK_SECRET_FILE", fifo, 1);
	t0 = time(NULL);
	c = config_load(NULL, &e, &w);
	CHECK(time(NULL) - t0 < 3);
	CHECK(c == NULL);
	msg = xasprintf("JITSI_WEBHOOK_SECRET_FILE: cannot read `%s': not a "
	    "regular file", fifo);
	CHECK(has_msg(&e, msg));
	free(msg);
	config_msgs_free(&e);

	setenv("JITSI_WEBHOOK_SECRET_FILE", dir, 1);
	c = config_load(NULL, &e, &w);
	CHECK(c == NULL);
	CHECK(has_msg(&e, "JITSI_WEBHOOK_SECRET_FILE: cannot read"));
	CHECK(has_msg(&e, "not a regular file"));
	config_msgs_free(&e);
	config_msgs_free(&w);
	unlink(fifo);
	unlink(link);
	free(secret); free(link); free(fifo);
}

static void
read_file_refuses_fifo(void)
{
	char *fifo = xasprintf("%s/plain-fifo", dir), *text;
	size_t len;

	CHECK(mkfifo(fifo, 0600) == 0);
	errno = 0;
	text = envfile_read_file(fifo, 100, true, &len);
	CHECK(text == NULL);
	CHECK_INT(errno, EINVAL);
	unlink(fifo);
	free(fifo);
}

static void
urls_redacted_in_messages(void)
{
	struct config_msgs e = { 0 }, w = { 0 };
	struct config *c;
	size_t i;

	fresh_env();
	setenv("WEBHOOK_URL", "ftp://hook:pw-webhook@example.com/x", 1);
	setenv("S3_ENDPOINT", "https://ak:pw-endpoint@s3.example.com", 1);
	setenv("STORAGE_URL", "s3://ak:pw-storage@bucket/p", 1);
	c = config_load(NULL, &e, &w);
	CHECK(c == NULL);
	CHECK(has_msg(&e, "WEBHOOK_URL: `ftp://***@example.com/x'"));
	CHECK(has_msg(&e, "S3_ENDPOINT: `https://***@s3.example.com' carries "
	    "a user name or password"));
	CHECK(has_msg(&e, "STORAGE_URL: `s3://***@bucket/p' carries a user "
	    "name or password"));
	for (i = 0; i < e.n; i++)
		CHECK(strstr(e.v[i], "pw-") == NULL);
	config_msgs_free(&e);
	config_msgs_free(&w);
	fresh_env();
	setenv("REFLECTOR_API_URL", "http://user:pw-reflector@127.0.0.1:1250", 1);
	c = config_load(NULL, &e, &w);
	CHECK(c == NULL);
	CHECK(has_msg(&e, "webhook to http://***@127.0.0.1:1250/v1/jibri/"
	    "recording-complete must be signed"));
	for (i = 0; i < e.n; i++)
		CHECK(strstr(e.v[i], "pw-") == NULL);
	config_msgs_free(&e);
	config_msgs_free(&w);
}

int
main(void)
{
	static const struct unit_test tests[] = {
		T(parse_line_forms), T(defaults), T(every_key_read),
		T(every_key_has_a_case), T(config_file_from_environment),
		T(issuer_follows_app_id),
		T(file_env_and_secret_file),
		T(every_problem_named), T(listen_refused), T(webhook_needs_secret), T(s3_url),
		T(numbers), T(iso_and_backoff), T(keep_local_needs_mp4),
		T(env_text_wiped_whole), T(secret_file_symlink_fifo),
		T(read_file_refuses_fifo), T(urls_redacted_in_messages),
	};
	int rc;

	if (mkdtemp(dir) == NULL)
		return 1;
	empty_env = write_file("empty.env", "");
	rc = unit_run("config", tests, sizeof(tests) / sizeof(tests[0]));
	if (fs_remove_tree(dir) != 0)
		rc = 1;
	free(empty_env);
	return rc;
}
