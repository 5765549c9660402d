/* cmd_remux.c -- jibri-pipeline remux IN OUT [--audio A]: fast-start MP4
 * (+ audio-only file) by stream copy, one summary line. */
#include "commands.h"
#include "remux.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static long long
cmd_remux_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

int
remux_main(int argc, char **argv)
{
	struct remux_result res;
	const char *in = NULL, *out = NULL, *audio = NULL;
	char err[1024];
	int i, rc;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--audio") == 0 && i + 1 < argc) {
			audio = argv[++i];
		} else if (strcmp(argv[i], "--") == 0 && i + 2 == argc - 1) {
			in = argv[i + 1];
			out = argv[i + 2];
			break;
		} else if (argv[i][0] == '-' && argv[i][1] != '\0') {
			in = out = NULL;
			break;
		} else if (in == NULL) {
			in = argv[i];
		} else if (out == NULL) {
			out = argv[i];
		} else {
			in = out = NULL;
			break;
		}
	}
	if (in == NULL || out == NULL) {
		fprintf(stderr, "usage: jibri-pipeline remux IN OUT "
		    "[--audio A]\n");
		return 2;
	}
	rc = remux_file(in, out, audio, &res, err, sizeof(err));
	if (rc != REMUX_OK) {
		fprintf(stderr, "error: %s%s\n", err, rc == REMUX_IO ?
		    " (system error, try again)" : "");
		return 1;
	}
	printf("%s: %lld bytes (%s)", out, cmd_remux_size(out),
	    res.video_method);
	if (audio != NULL) {
		if (res.no_audio)
			printf("; no audio stream");
		else
			printf("; %s: %lld bytes (%s)", res.audio_path,
			    cmd_remux_size(res.audio_path), res.audio_ext);
	}
	printf("\n");
	return 0;
}
