/* cmd_run.c -- jibri-pipeline run: the daemon in the foreground. */
#include "base/config.h"
#include "daemon/worker.h"
#include "commands.h"

#include <stdio.h>

int
run_main(int argc, char **argv)
{
	struct config *cfg;

	(void)argv;
	if (argc != 1) {
		fprintf(stderr, "usage: jibri-pipeline [-c ENV_FILE] run\n");
		return 2;
	}
	cfg = cmd_load_config(0);
	if (cfg == NULL) {
		fprintf(stderr, "jibri-pipeline: not started: fix the "
		    "configuration above (jibri-pipeline check)\n");
		return 1;
	}
	return worker_main(cfg, cmd_config_path);
}
