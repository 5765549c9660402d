/* cmd_probe.c -- jibri-pipeline probe FILE: what a recording holds, as JSON. */
#include "media/probe.h"
#include "commands.h"

#include <stdio.h>
#include <string.h>

#include <jansson.h>

int
probe_main(int argc, char **argv)
{
	struct probe_result pr;
	char err[512];
	json_t *j;
	int rc;

	if (argc != 2 || argv[1][0] == '\0') {
		fprintf(stderr, "usage: jibri-pipeline probe FILE\n");
		return 2;
	}
	rc = probe_file(argv[1], &pr, err, sizeof(err));
	if (rc != PROBE_OK) {
		/* bad media and read errors both exit 1; the daemon tells
		 * them apart (quarantine vs. retry), a shell user reads the
		 * reason */
		fprintf(stderr, "error: %s: %s%s\n", argv[1], err,
		    rc == PROBE_IO ? " (read error, try again)" : "");
		return 1;
	}
	j = probe_to_json(&pr);
	rc = json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER |
	    JSON_REAL_PRECISION(12));
	json_decref(j);
	if (rc < 0 || fputc('\n', stdout) == EOF || fflush(stdout) == EOF) {
		fprintf(stderr, "error: writing to stdout failed\n");
		return 1;
	}
	return 0;
}
