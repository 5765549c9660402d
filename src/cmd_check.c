/* cmd_check.c -- jibri-pipeline check: the configuration, the directories and the storage. */
#include "commands.h"
#include "config.h"
#include "fsutil.h"
#include "store.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>

int
check_main(int argc, char **argv)
{
	struct config *cfg;
	struct store *st;
	struct stat sb;
	char err[1024];
	int problems = 0;

	(void)argv;
	if (argc != 1) {
		fprintf(stderr, "usage: jibri-pipeline [-c ENV_FILE] check\n");
		return 2;
	}
	cfg = cmd_load_config(0);
	if (cfg == NULL)
		return 1;
	if (stat(cfg->recordings_dir, &sb) < 0 || !S_ISDIR(sb.st_mode)) {
		fprintf(stderr, "error: RECORDINGS_DIR: `%s': %s\n",
		    cfg->recordings_dir, errno ? strerror(errno) :
		    "not a directory");
		problems++;
	} else if (access(cfg->recordings_dir, R_OK | X_OK) < 0) {
		fprintf(stderr, "error: RECORDINGS_DIR: `%s' is not readable by "
		    "this user: %s\n", cfg->recordings_dir, strerror(errno));
		problems++;
	}
	if (fs_mkdirs(cfg->state_dir, 0750) < 0 ||
	    access(cfg->state_dir, W_OK | X_OK) < 0) {
		fprintf(stderr, "error: STATE_DIR: `%s' cannot be created or "
		    "written: %s\n", cfg->state_dir, strerror(errno));
		problems++;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	st = store_open(cfg, err, sizeof(err));
	if (st == NULL || store_check(st, err, sizeof(err)) != STORE_OK) {
		fprintf(stderr, "error: STORAGE_URL: `%s': %s\n", cfg->storage_url,
		    err);
		problems++;
	}
	store_close(st);
	curl_global_cleanup();
	config_unref(cfg);
	if (problems > 0)
		return 1;
	printf("configuration OK\n");
	return 0;
}
