/* cmd_salvage.c -- jibri-pipeline salvage BROKEN OUT [--reference REF] [--json]: a killed recording made playable. */
#include "base/config.h"
#include "base/util.h"
#include "media/salvage.h"
#include "commands.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* On a terminal: one line on stderr, redrawn. */
static void
cmd_salvage_progress(void *ctx, const char *what, uint64_t done,
    uint64_t total)
{
	(void)ctx;
	if (total == 0)
		return;
	fprintf(stderr, "\rsalvage: %s %3d%% (%.1f of %.1f MB)\033[K", what,
	    (int)(done * 100 / total), (double)done / 1e6, (double)total / 1e6);
}

static int
cmd_salvage_usage(void)
{
	fprintf(stderr, "usage: jibri-pipeline salvage BROKEN OUT "
	    "[--reference REF] [--json]\n");
	return 2;
}

int
salvage_main(int argc, char **argv)
{
	const char *in = NULL, *out = NULL, *ref = NULL;
	struct salvage_options o;
	struct salvage_report r;
	struct config *cfg;
	struct stat si, so;
	char err[1024], *tmp = NULL, *cache = NULL, *text;
	bool json = false, options = true;
	int i, rc = 1, ifd = -1, ofd = -1, s;

	for (i = 1; i < argc; i++) {
		if (options && strcmp(argv[i], "--") == 0) {
			options = false;
		} else if (options && strcmp(argv[i], "--json") == 0) {
			json = true;
		} else if (options && strcmp(argv[i], "--reference") == 0) {
			if (i + 1 >= argc || ref != NULL)
				return cmd_salvage_usage();
			ref = argv[++i];
		} else if (options && argv[i][0] == '-' && argv[i][1] != '\0') {
			fprintf(stderr, "jibri-pipeline: salvage: unknown option "
			    "`%s'\n", argv[i]);
			return cmd_salvage_usage();
		} else if (in == NULL) {
			in = argv[i];
		} else if (out == NULL) {
			out = argv[i];
		} else {
			return cmd_salvage_usage();
		}
	}
	if (in == NULL || out == NULL)
		return cmd_salvage_usage();
	if ((cfg = cmd_load_config(1)) == NULL)
		return 1;
	/* BROKEN is only ever read; OUT appears whole or not at all */
	if ((ifd = open(in, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)) <
	    0 || fstat(ifd, &si) < 0) {
		fprintf(stderr, "jibri-pipeline: salvage: %s: %s\n", in,
		    strerror(errno));
		goto out;
	}
	if (!S_ISREG(si.st_mode)) {
		fprintf(stderr, "jibri-pipeline: salvage: %s: not a regular "
		    "file\n", in);
		goto out;
	}
	if (stat(out, &so) == 0 && so.st_dev == si.st_dev &&
	    so.st_ino == si.st_ino) {
		fprintf(stderr, "jibri-pipeline: salvage: OUT is BROKEN: the "
		    "broken file is never changed\n");
		goto out;
	}
	tmp = xasprintf("%s.tmp", out);
	if ((ofd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
	    O_CLOEXEC, 0644)) < 0) {
		fprintf(stderr, "jibri-pipeline: salvage: %s: %s\n", tmp,
		    strerror(errno));
		goto out;
	}
	cache = xasprintf("%s/codec", cfg->state_dir);
	memset(&o, 0, sizeof(o));
	o.reference = ref;
	o.cache_dir = cache;
	o.name = in;
	o.jibri = (struct salvage_settings){ .width = cfg->jibri_width,
	    .height = cfg->jibri_height, .fps = (unsigned)cfg->jibri_framerate,
	    .preset = cfg->jibri_preset, .crf = (unsigned)cfg->jibri_crf };
	if (isatty(STDERR_FILENO))
		o.progress = cmd_salvage_progress;
	s = salvage_fd(ifd, ofd, &o, &r, err, sizeof(err));
	if (o.progress != NULL)
		fputs("\r\033[K", stderr);
	if (s == SALVAGE_OK && (fsync(ofd) < 0 || close(ofd) < 0)) {
		snprintf(err, sizeof(err), "%s: %s", tmp, strerror(errno));
		s = SALVAGE_IO;
	} else if (s != SALVAGE_OK) {
		close(ofd);
	}
	ofd = -1;
	if (s == SALVAGE_OK && rename(tmp, out) < 0) {
		snprintf(err, sizeof(err), "%s: %s", out, strerror(errno));
		s = SALVAGE_IO;
	}
	if (s != SALVAGE_OK) {
		unlink(tmp);
		fprintf(stderr, "jibri-pipeline: salvage: %s\n", err);
		goto out;
	}
	if (json) {
		json_t *j = salvage_report_json(&r);
		text = json_dumps(j, JSON_INDENT(2));
		json_decref(j);
		printf("%s\n", text ? text : "{}");
		free(text);
	} else {
		printf("%s: %.1f s recovered (%llu video frames, %llu audio "
		    "frames) with the %s codec configuration; stopped: %s\n",
		    out, r.recovered_seconds,
		    (unsigned long long)r.video_frames,
		    (unsigned long long)r.audio_frames, r.config_source,
		    r.stop_reason);
		if (r.sync_guessed)
			printf("warning: audio and video were not interleaved "
			    "as ffmpeg writes them (off by up to %.2f s): "
			    "check the sync\n", r.sync_error_seconds);
	}
	rc = fflush(stdout) == EOF ? 1 : 0;
out:
	if (ifd >= 0)
		close(ifd);
	if (ofd >= 0)
		close(ofd);
	free(tmp);
	free(cache);
	config_unref(cfg);
	return rc;
}
