/* cmd_status.c -- jibri-pipeline status (placeholder). */
#include "commands.h"

#include <stdio.h>

int
status_main(int argc, char **argv)
{
	(void)argc; (void)argv;
	fprintf(stderr, "jibri-pipeline: status: not implemented yet\n");
	return 1;
}
