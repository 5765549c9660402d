/* cmd_sign.c -- jibri-pipeline sign (placeholder). */
#include "commands.h"

#include <stdio.h>

int
sign_main(int argc, char **argv)
{
	(void)argc; (void)argv;
	fprintf(stderr, "jibri-pipeline: sign: not implemented yet\n");
	return 1;
}
