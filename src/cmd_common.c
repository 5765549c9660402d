/* cmd_common.c -- what every subcommand shares: loading the configuration. */
#include "base/config.h"
#include "daemon/spool.h"
#include "commands.h"

#include <stdio.h>

const char *cmd_config_path;

struct config *
cmd_load_config(int quiet)
{
	struct config_msgs errors = { 0 }, warnings = { 0 };
	struct config *cfg;
	size_t i;

	cfg = config_load(cmd_config_path, &errors, &warnings);
	if (!quiet)
		for (i = 0; i < warnings.n; i++)
			fprintf(stderr, "warning: %s\n", warnings.v[i]);
	for (i = 0; i < errors.n; i++)
		fprintf(stderr, "error: %s\n", errors.v[i]);
	config_msgs_free(&errors);
	config_msgs_free(&warnings);
	if (cfg != NULL)
		log_setup(cfg->log_format, cfg->log_level);
	return cfg;
}

struct config *
cmd_open_spool(struct spool *sp)
{
	struct config *cfg = cmd_load_config(1);
	char err[512];

	if (cfg == NULL)
		return NULL;
	if (spool_open(sp, cfg->state_dir, err, sizeof(err)) < 0) {
		fprintf(stderr, "error: %s\n", err);
		config_unref(cfg);
		return NULL;
	}
	return cfg;
}
