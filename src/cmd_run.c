/* cmd_run.c -- jibri-pipeline run (placeholder). */
#include "commands.h"

#include <stdio.h>

int
run_main(int argc, char **argv)
{
	(void)argc; (void)argv;
	fprintf(stderr, "jibri-pipeline: run: not implemented yet\n");
	return 1;
}
