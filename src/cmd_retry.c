/* cmd_retry.c -- jibri-pipeline retry: resume failed jobs (through the spool, so the daemon applies it). */
#include "base/config.h"
#include "base/util.h"
#include "daemon/job.h"
#include "daemon/request.h"
#include "daemon/spool.h"
#include "commands.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct find {
	const char *prefix;
	struct job *match;
	int count;
	int failed;
};

static void
match(struct job *j, void *ctx)
{
	struct find *f = ctx;
	enum job_state s = j->state;

	if (s == JOB_FAILED)
		f->failed++;
	if (f->prefix != NULL && strncmp(j->id, f->prefix, strlen(f->prefix)) == 0) {
		f->count++;
		job_free(f->match);
		f->match = j;
		return;
	}
	job_free(j);
}

int
retry_main(int argc, char **argv)
{
	struct find f = { 0 };
	struct request r;
	struct config *cfg;
	struct spool sp;
	char name[128];
	enum job_state s;
	int rc = 1;

	if (argc != 2) {
		fprintf(stderr, "usage: jibri-pipeline [-c ENV_FILE] retry "
		    "ID|--failed\n");
		return 2;
	}
	cfg = cmd_open_spool(&sp);
	if (cfg == NULL)
		return 1;
	memset(&r, 0, sizeof(r));
	memcpy(r.kind, "retry", 6);
	if (strcmp(argv[1], "--failed") == 0) {
		spool_each_job(&sp, match, NULL, &f);
		if (f.failed == 0) {
			printf("no failed jobs\n");
			rc = 0;
			goto out;
		}
		memcpy(r.path, "--failed", 9);
	} else {
		f.prefix = argv[1];
		if (strlen(argv[1]) < 4 || strspn(argv[1], "0123456789abcdef") !=
		    strlen(argv[1])) {
			fprintf(stderr, "error: `%s' is not a job id (hex, at least 4 "
			    "digits; see jibri-pipeline status)\n", argv[1]);
			goto out;
		}
		spool_each_job(&sp, match, NULL, &f);
		if (f.count != 1) {
			fprintf(stderr, "error: %s job matches `%s'\n",
			    f.count ? "more than one" : "no", argv[1]);
			goto out;
		}
		s = f.match->state;
		if (s != JOB_FAILED && s != JOB_QUARANTINED) {
			fprintf(stderr, "error: job %s is %s, not failed\n",
			    f.match->id, job_state_name(s));
			goto out;
		}
		util_strlcpy(r.path, f.match->id, sizeof(r.path));
	}
	if (request_write(sp.incoming, &r, 1, name, sizeof(name)) < 0) {
		fprintf(stderr, "error: cannot write to %s: %s\n", sp.incoming,
		    strerror(errno));
		goto out;
	}
	if (f.match != NULL)
		printf("retry of %s queued (was %s%s%s)\n", f.match->id,
		    job_state_name(f.match->state),
		    f.match->error ? ": " : "",
		    f.match->error ? f.match->error : "");
	else
		printf("retry of %d failed jobs queued\n", f.failed);
	if (!spool_locked_by_other(&sp))
		printf("the daemon is not running: it applies the retry when it "
		    "starts\n");
	rc = 0;
out:
	job_free(f.match);
	spool_close(&sp);
	config_unref(cfg);
	return rc;
}
