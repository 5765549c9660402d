/* cmd_put.c -- jibri-pipeline put (placeholder). */
#include "commands.h"

#include <stdio.h>

int
put_main(int argc, char **argv)
{
	(void)argc; (void)argv;
	fprintf(stderr, "jibri-pipeline: put: not implemented yet\n");
	return 1;
}
