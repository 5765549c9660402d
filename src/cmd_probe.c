/* cmd_probe.c -- jibri-pipeline probe (placeholder). */
#include "commands.h"

#include <stdio.h>

int
probe_main(int argc, char **argv)
{
	(void)argc; (void)argv;
	fprintf(stderr, "jibri-pipeline: probe: not implemented yet\n");
	return 1;
}
