/* cmd_retry.c -- jibri-pipeline retry (placeholder). */
#include "commands.h"

#include <stdio.h>

int
retry_main(int argc, char **argv)
{
	(void)argc; (void)argv;
	fprintf(stderr, "jibri-pipeline: retry: not implemented yet\n");
	return 1;
}
