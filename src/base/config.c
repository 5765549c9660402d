/* config.c -- the env file + process environment + NAME_FILE secrets. */
#include "base/config.h"
#include "base/envfile.h"
#include "base/fsutil.h"
#include "base/util.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

/* One known key: its default and whether it may come from NAME_FILE. */
struct key {
	const char *name;
	const char *def;
	bool secret;
};

static const struct key keys[] = {
	{ "JITSI_DOMAIN", NULL, false },
	{ "JITSI_JWT_SECRET", NULL, true },
	{ "JITSI_WEBHOOK_SECRET", NULL, true },
	{ "JITSI_APP_ID", "reflector", false },
	{ "JITSI_JWT_ISSUER", NULL, false },      /* JITSI_APP_ID's value */
	{ "JITSI_JWT_AUDIENCE", "jitsi", false },
	{ "JWT_TTL", "8h", false },
	{ "REFLECTOR_API_URL", "http://localhost:1250", false },
	{ "WEBHOOK_URL", NULL, false },
	{ "WEBHOOK_RETRY_FOR", "72h", false },
	{ "WEBHOOK_TIMEOUT", "30s", false },
	{ "RETRY_MAX_DELAY", "5m", false },
	{ "RECORDINGS_DIR", "/var/recordings", false },
	{ "STATE_DIR", "/var/lib/jibri-pipeline", false },
	{ "STORAGE_URL", NULL, false },
	{ "S3_ENDPOINT", NULL, false },
	{ "S3_REGION", "us-east-1", false },
	{ "S3_PATH_STYLE", "false", false },
	{ "AWS_ACCESS_KEY_ID", NULL, true },
	{ "AWS_SECRET_ACCESS_KEY", NULL, true },
	{ "AWS_SESSION_TOKEN", NULL, true },
	{ "S3_PART_SIZE", "16MiB", false },
	{ "S3_CONCURRENCY", "4", false },
	{ "OUTPUTS", "mp4,audio,manifest", false },
	{ "KEEP_LOCAL", "keep", false },
	{ "WORKERS", "2", false },
	{ "STABLE_SECONDS", "30", false },
	{ "DATABASE_URL", NULL, true },
	{ "LISTEN", "127.0.0.1:8080", false },
	{ "API_TOKENS", NULL, true },
	{ "EVENT_SYNC_TOKEN", NULL, true },
	{ "EVENT_JOURNAL_MAX", "64MiB", false },
	{ "LOG_FORMAT", "text", false },
	{ "LOG_LEVEL", "info", false },
	{ "DISK_MIN_FREE", "10%", false },
	{ "JOB_RETENTION", "30d", false },
	{ "JIBRI_RESOLUTION", "1920x1080", false },
	{ "JIBRI_FRAMERATE", "30", false },
	{ "JIBRI_PRESET", "ultrafast", false },
	{ "JIBRI_CRF", "25", false },
};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

/* A NAME_FILE secret is a key or a token, not a document. */
#define SECRET_FILE_MAX (64 * 1024)

/* The raw values while loading: index i belongs to keys[i]. */
struct raw {
	char *val[NKEYS];
	char *file[NKEYS];   /* NAME_FILE paths */
	const char *path;    /* the env file being read */
	struct config_msgs *errors;
	struct config_msgs *warnings;
};

/* The reference count lives beside the struct, hidden from users. */
struct config_box {
	struct config cfg;
	atomic_int refs;
};

static void
msg_add(struct config_msgs *m, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		abort();
	va_end(ap);
	m->v = xrealloc(m->v, (m->n + 1) * sizeof(char *));
	m->v[m->n++] = s;
}

void
config_msgs_free(struct config_msgs *m)
{
	size_t i;

	for (i = 0; i < m->n; i++)
		free(m->v[i]);
	free(m->v);
	m->v = NULL;
	m->n = 0;
}

static int
key_index(const char *name)
{
	size_t i;

	for (i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].name, name) == 0)
			return (int)i;
	return -1;
}

static void
raw_set(struct raw *r, const char *key, const char *value, const char *where)
{
	size_t klen = strlen(key);
	int i;

	if (klen > 5 && strcmp(key + klen - 5, "_FILE") == 0) {
		char *base = xstrndup(key, klen - 5);
		i = key_index(base);
		free(base);
		if (i >= 0 && keys[i].secret) {
			free(r->file[i]);
			r->file[i] = xstrdup(value);
			return;
		}
	}
	i = key_index(key);
	if (i < 0) {
		if (where != NULL)
			msg_add(r->warnings, "%s: unknown key %s (ignored)", where,
			    key);
		return;
	}
	if (r->val[i] != NULL) {
		OPENSSL_cleanse(r->val[i], strlen(r->val[i]));
		free(r->val[i]);
	}
	r->val[i] = xstrdup(value);
}

/* Why a file could not be read, in words an operator acts on. */
static const char *
read_error(int e)
{
	switch (e) {
	case EINVAL:
		return "not a regular file (a FIFO, device or directory?)";
	case EFBIG:
		return "too large (an env file holds at most 1 MiB, a secret "
		    "file 64 KiB)";
	case ELOOP:
		return "a symbolic link (name the file it points to)";
	default:
		return strerror(e);
	}
}

/* One setting of the env file (envfile_parse_text's callback). */
static void
env_file_setting(void *arg, int lineno, const char *key, const char *value)
{
	struct raw *r = arg;
	char where[4200];

	snprintf(where, sizeof(where), "%s:%d", r->path, lineno);
	if (key == NULL) {
		msg_add(r->errors, "%s: cannot parse line (want KEY=VALUE)",
		    where);
		return;
	}
	raw_set(r, key, value, where);
}

/* The env file itself is not followed when it is a symlink (as before);
 * envfile_read wipes all of its text, not only the first line. */
static int
read_env_file(struct raw *r, const char *path)
{
	r->path = path;
	if (envfile_read(path, false, env_file_setting, r) < 0) {
		msg_add(r->errors, "cannot read configuration file %s: %s", path,
		    read_error(errno));
		return -1;
	}
	return 0;
}

static void
read_environment(struct raw *r)
{
	char name[64];
	const char *v;
	size_t i;

	for (i = 0; i < NKEYS; i++) {
		if ((v = getenv(keys[i].name)) != NULL)
			raw_set(r, keys[i].name, v, NULL);
		if (keys[i].secret) {
			snprintf(name, sizeof(name), "%s_FILE", keys[i].name);
			if ((v = getenv(name)) != NULL)
				raw_set(r, name, v, NULL);
		}
	}
}

/* NAME_FILE: the whole file is the secret, one trailing newline (\n or
 * \r\n) stripped. Symlinks are followed: Kubernetes secrets and systemd
 * credentials are symlinks, and the path comes from root's configuration,
 * not from a recording. A FIFO or directory fails at once, not blocks. */
static void
read_secret_files(struct raw *r)
{
	size_t i, len;
	char *s;

	for (i = 0; i < NKEYS; i++) {
		if (r->file[i] == NULL)
			continue;
		s = envfile_read_file(r->file[i], SECRET_FILE_MAX, true, &len);
		if (s == NULL) {
			msg_add(r->errors, "%s_FILE: cannot read `%s': %s",
			    keys[i].name, r->file[i], read_error(errno));
			continue;
		}
		if (memchr(s, '\0', len) != NULL) {
			msg_add(r->errors, "%s_FILE: `%s' holds a NUL byte (want "
			    "the secret as text)", keys[i].name, r->file[i]);
			envfile_free_secret(s, len);
			continue;
		}
		if (len > 0 && s[len - 1] == '\n') {
			s[--len] = '\0';
			if (len > 0 && s[len - 1] == '\r')
				s[--len] = '\0';
		}
		if (r->val[i] != NULL) {
			OPENSSL_cleanse(r->val[i], strlen(r->val[i]));
			free(r->val[i]);
		}
		r->val[i] = s;
	}
}

/* The value of a key after loading: set, or its default, or NULL. */
static const char *
get(struct raw *r, const char *name)
{
	int i = key_index(name);

	if (i < 0)
		abort();
	if (r->val[i] != NULL && r->val[i][0] != '\0')
		return r->val[i];
	return keys[i].def;
}

static char *
dup_or_null(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

static void
parse_duration(struct raw *r, const char *name, int64_t min, int64_t *out)
{
	const char *v = get(r, name);

	if (util_parse_duration(v, out) < 0 || *out < min)
		msg_add(r->errors, "%s: `%s' is not a duration like 30s, 15m, "
		    "8h or 7d%s", name, v, min > 0 ? " (above zero)" : "");
}

static void
parse_int(struct raw *r, const char *name, int64_t min, int64_t max, int *out)
{
	const char *v = get(r, name);
	int64_t n;

	if (util_parse_i64(v, &n) < 0 || n < min || n > max) {
		msg_add(r->errors, "%s: `%s' is not a whole number from %lld to "
		    "%lld", name, v, (long long)min, (long long)max);
		return;
	}
	*out = (int)n;
}

/* DISK_MIN_FREE: a percentage of RECORDINGS_DIR's file system or a size;
 * JOB_RETENTION: how long a finished job's file outlives its source. */
static void
parse_disk(struct raw *r, struct config *c)
{
	const char *v = get(r, "DISK_MIN_FREE");
	size_t n = strlen(v);
	int64_t pct, secs;
	char *num;

	if (n > 1 && v[n - 1] == '%') {
		num = xstrdup(v);
		num[n - 1] = '\0';
		if (util_parse_i64(num, &pct) < 0 || pct < 0 || pct > 90)
			msg_add(r->errors, "DISK_MIN_FREE: `%s' is not a "
			    "percentage from 0%% to 90%% or a size like 20GiB",
			    v);
		else
			c->disk_min_free_pct = (int)pct;
		free(num);
	} else if (util_parse_size(v, &c->disk_min_free_bytes) < 0) {
		msg_add(r->errors, "DISK_MIN_FREE: `%s' is not a percentage "
		    "like 10%% or a size like 20GiB", v);
	}
	v = get(r, "JOB_RETENTION");
	if (util_parse_duration(v, &secs) < 0 || secs < 3600)
		msg_add(r->errors, "JOB_RETENTION: `%s' is not a duration of "
		    "an hour or more like 30d", v);
	else
		c->job_retention = secs;
}

/* Jibri's recording settings (its ffmpeg's -video_size, -r, -preset and
 * -crf): salvage makes a codec configuration from them when it has no
 * other. */
static void
parse_jibri(struct raw *r, struct config *c)
{
	static const char *const presets[] = { "ultrafast", "superfast",
		"veryfast", "faster", "fast", "medium", "slow", "slower",
		"veryslow", "placebo" };
	const char *v = get(r, "JIBRI_RESOLUTION");
	int64_t w, h;
	char *x, *end;
	size_t i;

	x = strchr(v, 'x');
	w = x ? strtoll(v, &end, 10) : 0;
	if (x == NULL || end != x || util_parse_i64(x + 1, &h) < 0 || w < 16 ||
	    w > 8192 || h < 16 || h > 8192 || w % 2 || h % 2)
		msg_add(r->errors, "JIBRI_RESOLUTION: `%s' is not WIDTHxHEIGHT "
		    "(even numbers from 16 to 8192, e.g. 1920x1080)", v);
	else {
		c->jibri_width = (unsigned)w;
		c->jibri_height = (unsigned)h;
	}
	parse_int(r, "JIBRI_FRAMERATE", 1, 240, &c->jibri_framerate);
	parse_int(r, "JIBRI_CRF", 0, 51, &c->jibri_crf);
	v = get(r, "JIBRI_PRESET");
	for (i = 0; i < sizeof(presets) / sizeof(presets[0]); i++)
		if (strcmp(v, presets[i]) == 0)
			break;
	if (i == sizeof(presets) / sizeof(presets[0]))
		msg_add(r->errors, "JIBRI_PRESET: `%s' is not an x264 preset "
		    "(ultrafast, superfast, veryfast, faster, fast, medium, "
		    "slow, slower, veryslow, placebo)", v);
	else
		c->jibri_preset = xstrdup(v);
}

static void
parse_bool(struct raw *r, const char *name, bool *out)
{
	const char *v = get(r, name);

	if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0 ||
	    strcmp(v, "yes") == 0 || strcmp(v, "on") == 0)
		*out = true;
	else if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0 ||
	    strcmp(v, "no") == 0 || strcmp(v, "off") == 0)
		*out = false;
	else
		msg_add(r->errors, "%s: `%s' is neither true nor false", name, v);
}

static bool
is_http_url(const char *s)
{
	return (strncmp(s, "http://", 7) == 0 && s[7] != '\0') ||
	    (strncmp(s, "https://", 8) == 0 && s[8] != '\0');
}

/* A URL for a message: its user:password, if any, replaced by ***. The
 * string lives until the next call with the same slot. */
static const char *
shown(char **slot, const char *url)
{
	free(*slot);
	*slot = url != NULL ? util_url_redact(url) : NULL;
	return *slot;
}

/* Whether the URL carries userinfo (user:password@). */
static bool
has_userinfo(const char *url)
{
	char *red = util_url_redact(url);
	bool diff = strcmp(red, url) != 0;

	free(red);
	return diff;
}

static void
parse_storage(struct raw *r, struct config *c)
{
	const char *v = get(r, "STORAGE_URL");
	char *def = NULL, *red;

	if (v == NULL)
		v = def = xasprintf("file://%s/storage", c->state_dir);
	c->storage_url = xstrdup(v);
	red = util_url_redact(v);
	if (strncmp(v, "file://", 7) == 0 && v[7] != '\0') {
		c->storage_path = fs_absolute(v + 7);
	} else if (strncmp(v, "s3://", 5) == 0 && v[5] != '\0' && v[5] != '/') {
		const char *b = v + 5, *slash = strchr(b, '/');
		const char *p = slash ? slash + 1 : "";
		size_t plen;

		c->s3_bucket = slash ? xstrndup(b, (size_t)(slash - b)) : xstrdup(b);
		while (*p == '/')
			p++;
		plen = strlen(p);
		while (plen > 0 && p[plen - 1] == '/')
			plen--;
		c->s3_prefix = xstrndup(p, plen);
		if (has_userinfo(v))
			msg_add(r->errors, "STORAGE_URL: `%s' carries a user name "
			    "or password: give the credentials as AWS_ACCESS_KEY_ID "
			    "and AWS_SECRET_ACCESS_KEY (or their _FILE forms)", red);
		else if (strlen(c->s3_bucket) < 3 || strlen(c->s3_bucket) > 63 ||
		    strspn(c->s3_bucket, "abcdefghijklmnopqrstuvwxyz0123456789.-_")
		    != strlen(c->s3_bucket))
			msg_add(r->errors, "STORAGE_URL: `%s' has no valid bucket "
			    "name (3-63 of a-z 0-9 . - _)", red);
		if (c->aws_access_key_id == NULL || c->aws_secret_access_key == NULL)
			msg_add(r->errors, "STORAGE_URL: `%s' needs AWS_ACCESS_KEY_ID "
			    "and AWS_SECRET_ACCESS_KEY (or their _FILE forms)", red);
	} else {
		msg_add(r->errors, "STORAGE_URL: `%s' is neither file:///DIR nor "
		    "s3://BUCKET[/PREFIX]", red);
	}
	free(red);
	free(def);
}

/* LISTEN: none, HOST:PORT, [IPV6]:PORT or :PORT (every address); the
 * host is a numeric address or localhost (no name lookup at start). */
static void
parse_listen(struct raw *r, struct config *c)
{
	const char *v = get(r, "LISTEN"), *colon;
	struct in6_addr a6;
	struct in_addr a4;
	char host[64];
	size_t hl;
	long port;
	char *end;

	if (strcmp(v, "none") == 0)
		return;
	colon = strrchr(v, ':');
	if (colon == NULL)
		goto bad;
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (colon[1] == '\0' || *end != '\0' || errno != 0 || port < 1 ||
	    port > 65535)
		goto bad;
	hl = (size_t)(colon - v);
	if (hl >= sizeof(host))
		goto bad;
	memcpy(host, v, hl);
	host[hl] = '\0';
	if (host[0] == '[') {
		if (hl < 3 || host[hl - 1] != ']')
			goto bad;
		host[hl - 1] = '\0';
		memmove(host, host + 1, hl - 1);
		if (inet_pton(AF_INET6, host, &a6) != 1)
			goto bad;
		c->listen_family = AF_INET6;
	} else if (hl == 0) {
		c->listen_family = AF_UNSPEC;
	} else if (strcmp(host, "localhost") == 0) {
		strcpy(host, "127.0.0.1");
		c->listen_family = AF_INET;
	} else if (inet_pton(AF_INET, host, &a4) == 1) {
		c->listen_family = AF_INET;
	} else {
		goto bad;
	}
	c->listen = xstrdup(v);
	c->listen_host = xstrdup(host);
	c->listen_port = (int)port;
	return;
bad:
	msg_add(r->errors, "LISTEN: `%s' is not HOST:PORT, [IPV6]:PORT, :PORT "
	    "or none (HOST a numeric address or localhost; PORT 1-65535)", v);
}

static void
parse_outputs(struct raw *r, struct config *c)
{
	const char *v = get(r, "OUTPUTS");
	char *copy = xstrdup(v), *tok, *save;

	c->outputs = 0;
	for (tok = strtok_r(copy, ", ", &save); tok != NULL;
	    tok = strtok_r(NULL, ", ", &save)) {
		if (strcmp(tok, "mp4") == 0 || strcmp(tok, "video") == 0)
			c->outputs |= OUT_MP4;
		else if (strcmp(tok, "audio") == 0)
			c->outputs |= OUT_AUDIO;
		else if (strcmp(tok, "manifest") == 0)
			c->outputs |= OUT_MANIFEST;
		else
			msg_add(r->errors, "OUTPUTS: unknown output `%s' in `%s' "
			    "(want a list of mp4, audio, manifest)", tok, v);
	}
	if (c->outputs == 0)
		msg_add(r->errors, "OUTPUTS: `%s' names no output (want a list "
		    "of mp4, audio, manifest)", v);
	free(copy);
}

static void
parse_keep_local(struct raw *r, struct config *c)
{
	const char *v = get(r, "KEEP_LOCAL");

	if (strcmp(v, "keep") == 0)
		c->keep_local = KEEP_KEEP;
	else if (strcmp(v, "delete") == 0)
		c->keep_local = KEEP_DELETE;
	else if (util_parse_duration(v, &c->keep_local_age) == 0 &&
	    c->keep_local_age > 0)
		c->keep_local = KEEP_AGE;
	else {
		msg_add(r->errors, "KEEP_LOCAL: `%s' is not keep, delete or an "
		    "age like 7d", v);
		return;
	}
	/* the source is the only copy of the video when no mp4 is stored:
	 * audio and manifest alone do not replace it */
	if (c->keep_local != KEEP_KEEP && c->outputs != 0 &&
	    (c->outputs & OUT_MP4) == 0)
		msg_add(r->errors, "KEEP_LOCAL=%s would delete the only copy of "
		    "the video: OUTPUTS=`%s' has no mp4 (add mp4 to OUTPUTS or "
		    "set KEEP_LOCAL=keep)", v, get(r, "OUTPUTS"));
}

static void
build(struct raw *r, struct config *c)
{
	const char *v;
	char *red = NULL;
	uint64_t size;
	int64_t n;

	c->jitsi_domain = dup_or_null(get(r, "JITSI_DOMAIN"));
	c->jwt_secret = dup_or_null(get(r, "JITSI_JWT_SECRET"));
	c->webhook_secret = dup_or_null(get(r, "JITSI_WEBHOOK_SECRET"));
	c->app_id = dup_or_null(get(r, "JITSI_APP_ID"));
	/* Prosody wants iss equal to its app_id: the issuer follows
	 * JITSI_APP_ID unless set apart */
	c->jwt_issuer = dup_or_null(get(r, "JITSI_JWT_ISSUER"));
	if (c->jwt_issuer == NULL && c->app_id != NULL)
		c->jwt_issuer = xstrdup(c->app_id);
	c->jwt_audience = dup_or_null(get(r, "JITSI_JWT_AUDIENCE"));
	parse_duration(r, "JWT_TTL", 60, &c->jwt_ttl);
	if (c->jwt_secret != NULL && strlen(c->jwt_secret) < 32)
		msg_add(r->warnings, "JITSI_JWT_SECRET: shorter than 32 bytes; "
		    "generate one with: openssl rand -hex 32");

	v = get(r, "REFLECTOR_API_URL");
	c->reflector_api_url = xstrdup(v);
	if (!is_http_url(v))
		msg_add(r->errors, "REFLECTOR_API_URL: `%s' is not an http:// or "
		    "https:// URL", shown(&red, v));
	v = get(r, "WEBHOOK_URL");
	if (v != NULL && strcmp(v, "none") == 0) {
		c->webhook_url = NULL;
	} else if (v != NULL) {
		c->webhook_url = xstrdup(v);
		if (!is_http_url(v))
			msg_add(r->errors, "WEBHOOK_URL: `%s' is not an http:// or "
			    "https:// URL (or none)", shown(&red, v));
	} else {
		size_t len = strlen(c->reflector_api_url);
		while (len > 0 && c->reflector_api_url[len - 1] == '/')
			len--;
		c->webhook_url = xasprintf("%.*s/v1/jibri/recording-complete",
		    (int)len, c->reflector_api_url);
	}
	if (c->webhook_url != NULL && c->webhook_secret == NULL)
		msg_add(r->errors, "JITSI_WEBHOOK_SECRET: not set, but the "
		    "completion webhook to %s must be signed (set it, or "
		    "WEBHOOK_URL=none to send no webhook)",
		    shown(&red, c->webhook_url));
	parse_duration(r, "WEBHOOK_RETRY_FOR", 0, &c->webhook_retry_for);
	parse_duration(r, "WEBHOOK_TIMEOUT", 1, &c->webhook_timeout);
	parse_duration(r, "RETRY_MAX_DELAY", 1, &c->retry_max_delay);

	c->recordings_dir = fs_absolute(get(r, "RECORDINGS_DIR"));
	c->state_dir = fs_absolute(get(r, "STATE_DIR"));

	c->s3_endpoint = dup_or_null(get(r, "S3_ENDPOINT"));
	if (c->s3_endpoint != NULL && !is_http_url(c->s3_endpoint))
		msg_add(r->errors, "S3_ENDPOINT: `%s' is not an http:// or "
		    "https:// URL", shown(&red, c->s3_endpoint));
	else if (c->s3_endpoint != NULL && has_userinfo(c->s3_endpoint))
		msg_add(r->errors, "S3_ENDPOINT: `%s' carries a user name or "
		    "password: give the credentials as AWS_ACCESS_KEY_ID and "
		    "AWS_SECRET_ACCESS_KEY (or their _FILE forms)",
		    shown(&red, c->s3_endpoint));
	c->s3_region = xstrdup(get(r, "S3_REGION"));
	if (strspn(c->s3_region, "abcdefghijklmnopqrstuvwxyz0123456789-") !=
	    strlen(c->s3_region))
		msg_add(r->errors, "S3_REGION: `%s' is not a region name like "
		    "us-east-1", c->s3_region);
	parse_bool(r, "S3_PATH_STYLE", &c->s3_path_style);
	c->aws_access_key_id = dup_or_null(get(r, "AWS_ACCESS_KEY_ID"));
	c->aws_secret_access_key = dup_or_null(get(r, "AWS_SECRET_ACCESS_KEY"));
	c->aws_session_token = dup_or_null(get(r, "AWS_SESSION_TOKEN"));
	v = get(r, "S3_PART_SIZE");
	if (util_parse_size(v, &size) < 0 || size < (5ULL << 20) ||
	    size > (5ULL << 30))
		msg_add(r->errors, "S3_PART_SIZE: `%s' is not a size from 5MiB to "
		    "5GiB (S3's limits for a part)", v);
	else
		c->s3_part_size = size;
	parse_int(r, "S3_CONCURRENCY", 1, 64, &c->s3_concurrency);
	parse_storage(r, c);

	parse_outputs(r, c);
	parse_keep_local(r, c);
	parse_int(r, "WORKERS", 1, 64, &c->workers);
	parse_jibri(r, c);
	parse_disk(r, c);
	v = get(r, "STABLE_SECONDS");
	if (util_parse_duration(v, &n) < 0 || n < 1)
		msg_add(r->errors, "STABLE_SECONDS: `%s' is not a number of "
		    "seconds above zero", v);
	else
		c->stable_seconds = n;

	c->database_url = dup_or_null(get(r, "DATABASE_URL"));
	parse_listen(r, c);
	c->api_tokens = dup_or_null(get(r, "API_TOKENS"));
	c->event_sync_token = dup_or_null(get(r, "EVENT_SYNC_TOKEN"));
	v = get(r, "EVENT_JOURNAL_MAX");
	if (util_parse_size(v, &size) < 0 || size < 4096)
		msg_add(r->errors, "EVENT_JOURNAL_MAX: `%s' is not a size of at "
		    "least 4KiB", v);
	else
		c->event_journal_max = size;

	v = get(r, "LOG_FORMAT");
	if (log_parse_format(v, &c->log_format) < 0)
		msg_add(r->errors, "LOG_FORMAT: `%s' is neither text nor json", v);
	v = get(r, "LOG_LEVEL");
	if (log_parse_level(v, &c->log_level) < 0)
		msg_add(r->errors, "LOG_LEVEL: `%s' is not debug, info, warn or "
		    "error", v);
	free(red);
}

struct config *
config_load(const char *path, struct config_msgs *errors,
    struct config_msgs *warnings)
{
	struct config_box *box;
	struct raw r;
	size_t i;

	memset(&r, 0, sizeof(r));
	r.errors = errors;
	r.warnings = warnings;
	box = xcalloc(1, sizeof(*box));
	atomic_init(&box->refs, 1);
	if (path == NULL)
		path = getenv("JIBRI_PIPELINE_CONFIG");
	if (path == NULL && access(CONFIG_DEFAULT_PATH, F_OK) == 0)
		path = CONFIG_DEFAULT_PATH;
	if (path != NULL) {
		box->cfg.source = xstrdup(path);
		read_env_file(&r, path);
	}
	read_environment(&r);
	read_secret_files(&r);
	build(&r, &box->cfg);
	for (i = 0; i < NKEYS; i++) {
		if (r.val[i] != NULL) {
			OPENSSL_cleanse(r.val[i], strlen(r.val[i]));
			free(r.val[i]);
		}
		if (r.file[i] != NULL) {
			struct config_file *f;
			box->cfg.files = xrealloc(box->cfg.files,
			    (box->cfg.nfiles + 1) * sizeof(*box->cfg.files));
			f = &box->cfg.files[box->cfg.nfiles++];
			f->key = xasprintf("%s_FILE", keys[i].name);
			f->path = r.file[i];
		}
	}
	if (errors->n > 0) {
		config_free(&box->cfg);
		return NULL;
	}
	return &box->cfg;
}

static void
free_secret(char *s)
{
	if (s != NULL) {
		OPENSSL_cleanse(s, strlen(s));
		free(s);
	}
}

void
config_free(struct config *c)
{
	size_t i;

	if (c == NULL)
		return;
	free(c->jitsi_domain);
	free_secret(c->jwt_secret);
	free_secret(c->webhook_secret);
	free(c->app_id);
	free(c->jwt_issuer);
	free(c->jwt_audience);
	free(c->jibri_preset);
	free(c->reflector_api_url);
	free(c->webhook_url);
	free(c->recordings_dir);
	free(c->state_dir);
	free(c->storage_url);
	free(c->storage_path);
	free(c->s3_bucket);
	free(c->s3_prefix);
	free(c->s3_endpoint);
	free(c->s3_region);
	free_secret(c->aws_access_key_id);
	free_secret(c->aws_secret_access_key);
	free_secret(c->aws_session_token);
	free_secret(c->database_url);
	free(c->listen);
	free(c->listen_host);
	free_secret(c->api_tokens);
	free_secret(c->event_sync_token);
	free(c->source);
	for (i = 0; i < c->nfiles; i++) {
		free(c->files[i].key);
		free(c->files[i].path);
	}
	free(c->files);
	free((struct config_box *)c);
}

struct config *
config_ref(struct config *cfg)
{
	atomic_fetch_add(&((struct config_box *)cfg)->refs, 1);
	return cfg;
}

void
config_unref(struct config *cfg)
{
	if (cfg != NULL &&
	    atomic_fetch_sub(&((struct config_box *)cfg)->refs, 1) == 1)
		config_free(cfg);
}
