/* config.h -- the env file + process environment + NAME_FILE secrets. */
#ifndef JP_CONFIG_H
#define JP_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/log.h"

#define CONFIG_DEFAULT_PATH JP_SYSCONFDIR "/jibri-pipeline/env"

/* OUTPUTS bits */
enum { OUT_MP4 = 1, OUT_AUDIO = 2, OUT_MANIFEST = 4 };

enum keep_local { KEEP_KEEP = 0, KEEP_DELETE, KEEP_AGE };

/* Every setting, parsed and checked. Strings are owned by the struct;
 * unset optional strings are NULL. Paths are absolute. */
struct config {
	char *jitsi_domain;
	char *jwt_secret;
	char *webhook_secret;
	char *app_id;
	char *jwt_issuer;
	char *jwt_audience;
	int64_t jwt_ttl;               /* seconds */

	char *reflector_api_url;
	char *webhook_url;             /* effective URL; NULL when disabled */
	int64_t webhook_retry_for;     /* seconds of retries before giving up */
	int64_t webhook_timeout;       /* seconds per delivery attempt */
	int64_t retry_max_delay;       /* seconds: cap of the retry backoff */

	char *recordings_dir;
	char *state_dir;
	char *storage_url;             /* as given, e.g. file:///x or s3://b/p */
	char *storage_path;            /* file://: the absolute directory */
	char *s3_bucket;               /* s3://: bucket */
	char *s3_prefix;               /* s3://: key prefix without slashes at
	                                  either end, "" when none */
	char *s3_endpoint;             /* NULL: https://s3.REGION.amazonaws.com */
	char *s3_region;
	bool s3_path_style;
	char *aws_access_key_id;
	char *aws_secret_access_key;
	char *aws_session_token;
	uint64_t s3_part_size;
	int s3_concurrency;

	unsigned outputs;              /* OUT_* bits */
	enum keep_local keep_local;
	int64_t keep_local_age;        /* seconds, for KEEP_AGE */
	int workers;
	/* below this much free space on RECORDINGS_DIR, finished sources
	 * are deleted oldest first: a percentage, or bytes (one is 0) */
	int disk_min_free_pct;
	uint64_t disk_min_free_bytes;
	int64_t job_retention;         /* seconds a finished job's file
	                                  outlives its source */
	/* Jibri's recording settings, for salvage (JIBRI_*) */
	unsigned jibri_width, jibri_height;
	int jibri_framerate;
	char *jibri_preset;
	int jibri_crf;
	int64_t stable_seconds;

	char *database_url;
	char *listen;                  /* as given; NULL when "none" */
	char *listen_host;             /* numeric address ("" every address) */
	int listen_port;
	int listen_family;             /* AF_INET, AF_INET6, AF_UNSPEC (any) */
	char *api_tokens;
	char *event_sync_token;
	uint64_t event_journal_max;    /* bytes: events kept while the
	                                  database is down */

	enum log_format log_format;
	enum log_level log_level;

	char *source;                  /* the env file read, or NULL */
	struct config_file *files;     /* the NAME_FILE secrets read */
	size_t nfiles;
};

/* A secret read from a file (NAME_FILE=path), so that check can tell
 * whether the service user could read it too. */
struct config_file {
	char *key;                     /* e.g. AWS_SECRET_ACCESS_KEY_FILE */
	char *path;                    /* as given */
};

/* A list of messages, one per problem. */
struct config_msgs {
	char **v;
	size_t n;
};
void config_msgs_free(struct config_msgs *m);

/* Load the configuration: the env file at path (NULL: the file named by
 * $JIBRI_PIPELINE_CONFIG, else the default path when it exists), then the process environment over it, then NAME_FILE
 * secrets. Every invalid value adds one message naming the key and value
 * to errors; unknown keys add warnings. Returns the config when errors is
 * empty, else NULL. */
struct config *config_load(const char *path, struct config_msgs *errors,
    struct config_msgs *warnings);
void config_free(struct config *cfg);

/* Take a reference / drop one: workers hold the config they started a
 * step with while SIGHUP swaps in a new one. */
struct config *config_ref(struct config *cfg);
void config_unref(struct config *cfg);

#endif
