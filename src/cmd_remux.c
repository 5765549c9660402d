/* cmd_remux.c -- jibri-pipeline remux (placeholder). */
#include "commands.h"

#include <stdio.h>

int
remux_main(int argc, char **argv)
{
	(void)argc; (void)argv;
	fprintf(stderr, "jibri-pipeline: remux: not implemented yet\n");
	return 1;
}
