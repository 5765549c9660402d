/* test_config.c -- env-file parsing, defaults, _FILE secrets, every problem named. */
#include "unit.h"
#include "base/config.h"
#include "base/envfile.h"
#include "base/util.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char dir[] = "/tmp/jp-test-config-XXXXXX";

static const char *const all_keys[] = { "JITSI_DOMAIN", "JITSI_JWT_SECRET",
	"JITSI_WEBHOOK_SECRET", "JITSI_WEBHOOK_SECRET_FILE", "WEBHOOK_URL",
	"STORAGE_URL", "STATE_DIR", "RECORDINGS_DIR", "S3_PART_SIZE",
	"WORKERS", "KEEP_LOCAL", "OUTPUTS", "LOG_LEVEL", "STABLE_SECONDS",
	"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "JIBRI_PIPELINE_CONFIG",
	"REFLECTOR_API_URL", "S3_PATH_STYLE", "S3_ENDPOINT" };

static void
clean_env(void)
{
	size_t i;

	for (i = 0; i < sizeof(all_keys) / sizeof(all_keys[0]); i++)
		unsetenv(all_keys[i]);
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

static void
defaults(void)
{
	struct config_msgs e = { 0 }, w = { 0 };
	struct config *c;

	clean_env();
	setenv("WEBHOOK_URL", "none", 1);
	setenv("STATE_DIR", "/tmp/jp-state", 1);
	c = config_load(NULL, &e, &w);
	CHECK(c != NULL);
	if (c == NULL)
		return;
	CHECK_STR(c->recordings_dir, "/var/recordings");
	CHECK_STR(c->storage_path, "/tmp/jp-state/storage");
	CHECK(c->webhook_url == NULL);
	CHECK_INT(c->workers, 2);
	CHECK_INT(c->stable_seconds, 30);
	CHECK_INT(c->s3_part_size, 16 << 20);
	CHECK_INT(c->outputs, OUT_MP4 | OUT_AUDIO | OUT_MANIFEST);
	CHECK_INT(c->jwt_ttl, 8 * 3600);
	CHECK_INT(c->webhook_retry_for, 72 * 3600);
	CHECK_STR(c->listen, "127.0.0.1:8080");
	CHECK_STR(c->app_id, "reflector");
	config_unref(c);
	config_msgs_free(&e);
	config_msgs_free(&w);
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

	clean_env();
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

	clean_env();
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
	c = config_load(NULL, &e, &w);
	CHECK(c == NULL);
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

static void
webhook_needs_secret(void)
{
	struct config_msgs e = { 0 }, w = { 0 };
	struct config *c;

	clean_env();
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

	clean_env();
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
		clean_env();
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

	clean_env();
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

	clean_env();
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
	unsetenv("WEBHOOK_URL");
	unsetenv("S3_ENDPOINT");
	unsetenv("STORAGE_URL");
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
		T(parse_line_forms), T(defaults), T(file_env_and_secret_file),
		T(every_problem_named), T(webhook_needs_secret), T(s3_url),
		T(numbers), T(iso_and_backoff), T(keep_local_needs_mp4),
		T(env_text_wiped_whole), T(secret_file_symlink_fifo),
		T(read_file_refuses_fifo), T(urls_redacted_in_messages),
	};
	int rc;
	char *rm;

	if (mkdtemp(dir) == NULL)
		return 1;
	rc = unit_run("config", tests, sizeof(tests) / sizeof(tests[0]));
	rm = xasprintf("rm -rf %s", dir);
	if (system(rm) != 0)
		rc = 1;
	free(rm);
	return rc;
}
