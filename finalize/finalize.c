/* finalize.c -- jibri-finalize: hand a finished Jibri session to the pipeline and exit. */

/*
 * Jibri runs its finalize script after ffmpeg exited and waits for it with
 * no timeout, staying busy until it returns. So this program only checks
 * its argument and drops a request file into the daemon's spool; it never
 * touches the network and never waits for the daemon (which may be
 * stopped: it takes the request when it starts).
 *
 * The request is written atomically (temporary name, then rename) but not
 * fsync'ed by default: if the host dies within the next seconds, the
 * daemon's start-up rescan of RECORDINGS_DIR still finds the recording.
 * FINALIZE_FSYNC=1 in the environment makes the hand-off durable.
 */
#include "base/config.h"
#include "base/envfile.h"
#include "base/fsutil.h"
#include "daemon/request.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *config_path;

/* A setting as the daemon sees it: environment first, then the env file. */
static char *
setting(const char *key, const char *def)
{
	const char *v = getenv(key);
	char *f;

	if (v != NULL && *v != '\0')
		return strdup(v);
	if (config_path != NULL && (f = envfile_get(config_path, key)) != NULL) {
		if (*f != '\0')
			return f;
		free(f);
	}
	return strdup(def);
}

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: jibri-finalize SESSION_DIR\n"
	    "       jibri-finalize FILE ROOM\n\n"
	    "Queues a finished Jibri recording for jibri-pipeline and exits.\n"
	    "Settings (RECORDINGS_DIR, STATE_DIR) come from the environment, "
	    "then\n$JIBRI_PIPELINE_CONFIG or %s.\n", CONFIG_DEFAULT_PATH);
}

static int
fail(const char *fmt, const char *a, const char *b)
{
	fputs("jibri-finalize: ", stderr);
	fprintf(stderr, fmt, a, b);
	fputs("\n", stderr);
	return 1;
}

static int finalize(int argc, char **argv, const char *recordings_dir,
    const char *state_dir);

int
main(int argc, char **argv)
{
	char *recordings_dir, *state_dir;
	int rc;

	if (argc == 2 && (strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "--help") == 0)) {
		usage(stdout);
		return 0;
	}
	if (argc != 2 && argc != 3) {
		usage(stderr);
		return 2;
	}
	config_path = getenv("JIBRI_PIPELINE_CONFIG");
	if (config_path == NULL && access(CONFIG_DEFAULT_PATH, R_OK) == 0)
		config_path = CONFIG_DEFAULT_PATH;
	recordings_dir = setting("RECORDINGS_DIR", "/var/recordings");
	state_dir = setting("STATE_DIR", "/var/lib/jibri-pipeline");
	if (recordings_dir == NULL || state_dir == NULL)
		rc = fail("out of memory%s%s", "", "");
	else
		rc = finalize(argc, argv, recordings_dir, state_dir);
	free(recordings_dir);
	free(state_dir);
	return rc;
}

static int
finalize(int argc, char **argv, const char *recordings_dir,
    const char *state_dir)
{
	char real[PATH_MAX], root[PATH_MAX], incoming[PATH_MAX], name[128];
	struct request req;
	struct stat st;

	if (realpath(recordings_dir, root) == NULL)
		return fail("RECORDINGS_DIR `%s': %s", recordings_dir,
		    strerror(errno));
	if (realpath(argv[1], real) == NULL)
		return fail("`%s': %s", argv[1], strerror(errno));
	/* the path must resolve inside RECORDINGS_DIR: never queue a file a
	 * symlink or "../" points elsewhere */
	if (!fs_path_inside(root, real))
		return fail("`%s' is not inside RECORDINGS_DIR (%s); not queued",
		    real, root);
	if (stat(real, &st) < 0)
		return fail("`%s': %s", real, strerror(errno));

	memset(&req, 0, sizeof(req));
	if (S_ISDIR(st.st_mode) && argc == 2) {
		memcpy(req.kind, "session", 8);
	} else if (S_ISREG(st.st_mode)) {
		memcpy(req.kind, "file", 5);
		if (argc == 3 && strlen(argv[2]) >= sizeof(req.room))
			return fail("ROOM `%.64s…': too long%s", argv[2], "");
		if (argc == 3)
			memcpy(req.room, argv[2], strlen(argv[2]) + 1);
	} else {
		return fail("`%s' is not a %s", real,
		    argc == 2 ? "session directory or media file" :
		    "regular file");
	}
	memcpy(req.path, real, strlen(real) + 1);

	if (snprintf(incoming, sizeof(incoming), "%s/incoming", state_dir) >=
	    (int)sizeof(incoming))
		return fail("STATE_DIR `%s': path too long%s", state_dir, "");
	if (request_write(incoming, &req, getenv("FINALIZE_FSYNC") != NULL &&
	    strcmp(getenv("FINALIZE_FSYNC"), "1") == 0, name, sizeof(name)) < 0) {
		int e = errno;
		if (e == ENOENT && fs_mkdirs(incoming, 0750) == 0 &&
		    request_write(incoming, &req, 0, name, sizeof(name)) == 0)
			goto queued;
		return fail("cannot write to the spool %s: %s (the daemon's "
		    "start-up rescan will still find the recording)", incoming,
		    strerror(e));
	}
queued:
	printf("jibri-finalize: queued %s (%s)\n", real, name);
	return 0;
}
