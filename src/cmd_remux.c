/* cmd_remux.c -- jibri-pipeline remux IN OUT [--audio A]: one summary line. */
#include "media/remux.h"
#include "commands.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static long long
cmd_remux_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

static int
cmd_remux_usage(void)
{
	fprintf(stderr, "usage: jibri-pipeline remux IN OUT [--audio A]\n");
	return 2;
}

int
remux_main(int argc, char **argv)
{
	struct remux_result res;
	const char *in = NULL, *out = NULL, *audio = NULL;
	char err[1024];
	bool options = true;
	int i, rc;

	for (i = 1; i < argc; i++) {
		if (options && strcmp(argv[i], "--") == 0) {
			options = false;
		} else if (options && strcmp(argv[i], "--audio") == 0) {
			if (i + 1 >= argc || audio != NULL)
				return cmd_remux_usage();
			audio = argv[++i];
		} else if (options && argv[i][0] == '-' && argv[i][1] != '\0') {
			fprintf(stderr, "jibri-pipeline: remux: unknown option "
			    "`%s'\n", argv[i]);
			return cmd_remux_usage();
		} else if (in == NULL) {
			in = argv[i];
		} else if (out == NULL) {
			out = argv[i];
		} else {
			return cmd_remux_usage();
		}
	}
	if (in == NULL || out == NULL)
		return cmd_remux_usage();
	/* on a terminal, say what is going on while the copy runs (the
	 * kernel copies the samples in one call: there is no percentage) */
	if (isatty(STDERR_FILENO))
		fprintf(stderr, "remux: %s (%.1f MB) -> %s%s%s ...", in,
		    (double)cmd_remux_size(in) / 1e6, out, audio ? " + " : "",
		    audio ? audio : "");
	rc = remux_file(in, out, audio, &res, err, sizeof(err));
	if (isatty(STDERR_FILENO))
		fputs("\r\033[K", stderr);
	if (rc != REMUX_OK) {
		/* both exit 1; the daemon tells them apart (quarantine vs.
		 * retry), a shell user reads the reason */
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
	return fflush(stdout) == EOF ? 1 : 0;
}
