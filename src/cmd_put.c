/* cmd_put.c -- jibri-pipeline put: store one file under a key in the configured storage, resumably. */
#include "base/config.h"
#include "base/fsutil.h"
#include "base/log.h"
#include "base/util.h"
#include "store/store.h"
#include "daemon/job.h"
#include "commands.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#define PUT_EXIT_TEMPFAIL 75    /* sysexits.h EX_TEMPFAIL: run it again */
#define PUT_STATE_MAX     (16 << 20)

struct put_state {
	const char *path;       /* --resume STATEFILE, or NULL */
	json_t *resume;
	bool failed;            /* a checkpoint could not be written */
};

static void
put_usage(void)
{
	fprintf(stderr, "usage: jibri-pipeline [-c ENV_FILE] put FILE KEY "
	    "[--resume STATEFILE] [--content-type TYPE]\n");
}

/* The pipeline's outputs by name (job.h's table), then what other media
 * and text files are; anything else is plain bytes. */
static const char *
put_content_type(const char *path)
{
	static const struct { const char *ext, *type; } types[] = {
		{ ".mp4", "video/mp4" }, { ".m4a", "audio/mp4" },
		{ ".json", "application/json" }, { ".webm", "video/webm" },
		{ ".mka", "audio/x-matroska" }, { ".ogg", "audio/ogg" },
		{ ".opus", "audio/ogg" }, { ".txt", "text/plain; charset=utf-8" },
	};
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	size_t i;

	for (i = 0; i < JOB_NOUT; i++)
		if (strcmp(base, job_outputs[i].file) == 0)
			return job_outputs[i].content_type;
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (util_str_has_suffix(path, types[i].ext))
			return types[i].type;
	return "application/octet-stream";
}

/* Persist the backend's progress: atomically and durably, so a kill -9
 * or a power cut leaves the previous state or this one. */
static void
put_checkpoint(void *p)
{
	struct put_state *ps = p;
	char *text;

	if (ps->path == NULL)
		return;
	text = json_dumps(ps->resume, JSON_COMPACT | JSON_SORT_KEYS);
	if (text == NULL || fs_write_atomic(ps->path, text, strlen(text), 0600,
	    true) < 0) {
		if (!ps->failed)
			log_warn("cannot write the resume state", "file",
			    ps->path, "error", text ? strerror(errno) :
			    "out of memory");
		ps->failed = true;
	}
	free(text);
}

static json_t *
put_load_state(const char *path)
{
	json_error_t jerr;
	size_t len;
	char *text;
	json_t *j;

	text = fs_read_file(path, PUT_STATE_MAX, &len);
	if (text == NULL) {
		if (errno == ENOENT)
			return json_object();
		fprintf(stderr, "error: --resume %s: %s\n", path,
		    strerror(errno));
		return NULL;
	}
	j = len == 0 ? json_object() : json_loadb(text, len, 0, &jerr);
	free(text);
	if (!json_is_object(j)) {
		fprintf(stderr, "error: --resume %s: not a JSON object%s%s\n",
		    path, j == NULL ? ": " : "", j == NULL ? jerr.text : "");
		json_decref(j);
		return NULL;
	}
	return j;
}

int
put_main(int argc, char **argv)
{
	struct put_state ps = { NULL, NULL, false };
	const char *file = NULL, *key = NULL, *ctype = NULL;
	struct store_object obj;
	struct store_put put;
	struct store *st = NULL;
	struct config *cfg = NULL;
	char err[2048];
	json_t *res;
	char *line;
	int i, rc, status = 1;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--resume") == 0 && i + 1 < argc) {
			ps.path = argv[++i];
		} else if (strcmp(argv[i], "--content-type") == 0 &&
		    i + 1 < argc) {
			ctype = argv[++i];
		} else if (argv[i][0] == '-' && argv[i][1] != '\0') {
			put_usage();
			return 2;
		} else if (file == NULL) {
			file = argv[i];
		} else if (key == NULL) {
			key = argv[i];
		} else {
			put_usage();
			return 2;
		}
	}
	if (file == NULL || key == NULL) {
		put_usage();
		return 2;
	}
	/* keys the pipeline makes are clean (store.h); one typed by hand is
	 * held to the same rule */
	if (strlen(key) > 1024 || !util_relpath_clean(key)) {
		fprintf(stderr, "error: key `%s': must be 1-1024 bytes with no "
		    "empty, \".\" or \"..\" component\n", key);
		return 2;
	}
	ps.resume = ps.path != NULL ? put_load_state(ps.path) : json_object();
	if (ps.resume == NULL)
		return 1;
	cfg = cmd_load_config(0);
	if (cfg == NULL)
		goto done;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	st = store_open_config(cfg, err, sizeof(err));
	if (st == NULL) {
		fprintf(stderr, "error: %s\n", err);
		goto done;
	}
	memset(&put, 0, sizeof(put));
	put.key = key;
	put.path = file;
	put.content_type = ctype ? ctype : put_content_type(file);
	put.resume = ps.resume;
	/* without a state file nothing could resume an interrupted
	 * multipart upload: the backend then aborts it */
	put.checkpoint = ps.path != NULL ? put_checkpoint : NULL;
	put.ctx = &ps;
	rc = store_put(st, &put, &obj, err, sizeof(err));
	if (rc == STORE_OK) {
		res = json_pack("{s:s, s:I, s:s}", "url", obj.url, "size",
		    (json_int_t)obj.size, "etag", obj.etag);
		line = json_dumps(res, JSON_COMPACT);
		printf("%s\n", line);
		free(line);
		json_decref(res);
		status = 0;
	} else if (rc == STORE_RETRY) {
		fprintf(stderr, "error: %s\ntemporary failure: run the same "
		    "command again%s\n", err, ps.path ? " to resume" : "");
		status = PUT_EXIT_TEMPFAIL;
	} else {
		fprintf(stderr, "error: %s\n", err);
	}
	/* Done or refused for good: nothing left to resume. */
	if (ps.path != NULL && status != PUT_EXIT_TEMPFAIL &&
	    json_object_size(ps.resume) == 0)
		unlink(ps.path);
done:
	store_close(st);
	if (cfg != NULL) {
		config_unref(cfg);
		curl_global_cleanup();
	}
	json_decref(ps.resume);
	return status;
}
