/* cmd_check.c -- jibri-pipeline check (placeholder). */
#include "commands.h"

#include <stdio.h>

int
check_main(int argc, char **argv)
{
	(void)argc; (void)argv;
	fprintf(stderr, "jibri-pipeline: check: not implemented yet\n");
	return 1;
}
