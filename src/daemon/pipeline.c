/* pipeline.c -- the steps of one recording: probe, remux, manifest, store, notify, finish. */
#include "daemon/pipeline.h"
#include "base/fsutil.h"
#include "base/hash.h"
#include "base/log.h"
#include "base/metrics.h"
#include "base/util.h"
#include "media/probe.h"
#include "media/remux.h"
#include "media/salvage.h"
#include "store/store.h"
#include "daemon/manifest.h"
#include "daemon/pin.h"
#include "daemon/session.h"
#include "daemon/uploadlog.h"
#include "daemon/webhook.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* What a step tells the loop. */
enum step_result {
	STEP_NEXT,      /* state advanced: go on */
	STEP_STOP,      /* waiting (retry later), failed for good, or final */
};

static void
save(struct pipeline_ctx *ctx, struct job *j)
{
	/* A job file that cannot be written (disk full) is not fatal to the
	 * recording: the step is redone after a restart. Say it loudly. */
	if (spool_save(ctx->sp, j) < 0)
		log_error("cannot save job state", "id", j->id, "dir",
		    ctx->sp->jobs, "error", strerror(errno));
	if (ctx->changed != NULL)
		ctx->changed(ctx->hooks);
}

static int64_t
retry_delay(struct pipeline_ctx *ctx, struct job *j)
{
	return util_backoff_ms(j->attempts + 1,
	    ctx->cfg->retry_max_delay * 1000);
}

/* A transient problem: wait and try this step again. */
static enum step_result
retry_later(struct pipeline_ctx *ctx, struct job *j, const char *reason)
{
	char delay[24], attempt[24];
	int64_t d = retry_delay(ctx, j);

	job_fail(j, reason, d);
	save(ctx, j);
	log_warn("step failed, will retry", "id", j->id, "step",
	    job_state_name(j->resume_step), "attempt",
	    log_i64(attempt, j->attempts), "retry_in_ms",
	    log_i64(delay, d), "error", reason);
	return STEP_STOP;
}

/* A problem only an operator can fix: wait for `retry`. */
static enum step_result
fail_for_good(struct pipeline_ctx *ctx, struct job *j, const char *reason)
{
	job_fail(j, reason, -1);
	save(ctx, j);
	metrics_inc(METRIC_FINISHED, METRICS_FINISHED_FAILED, 1);
	log_error("job failed; fix the cause, then: jibri-pipeline retry ID",
	    "id", j->id, "step", job_state_name(j->resume_step), "error", reason);
	return STEP_STOP;
}

/* Bad media: keep the file where it is, never retry blindly, report it
 * (failed webhook, upload log, status). */
static enum step_result
quarantine(struct pipeline_ctx *ctx, struct job *j, const char *reason)
{
	char work[PATH_MAX];

	j->quarantined = true;
	job_set(&j->result, "failed");
	job_set(&j->error, reason);
	j->attempts = 0;
	job_set_state(j, JOB_NOTIFYING);
	if (util_snprintf(work, sizeof(work), "%s/%s", ctx->sp->work, j->id) == 0)
		fs_remove_tree(work);
	save(ctx, j);
	log_warn("recording quarantined: kept in place, not uploaded", "id",
	    j->id, "source", j->source, "reason", reason);
	return STEP_NEXT;
}

static enum step_result
advance(struct pipeline_ctx *ctx, struct job *j, enum job_state next)
{
	j->attempts = 0;
	job_set_state(j, next);
	save(ctx, j);
	return STEP_NEXT;
}

/* RECORDINGS_DIR as it was when the job was admitted (canonical): the
 * source is root + "/" + rel. Jobs outlive a change of RECORDINGS_DIR. */
static int
job_root(const struct job *j, char *buf, size_t size)
{
	const char *src = j->source, *rel = j->rel;
	size_t ns, nr;

	if (src == NULL || rel == NULL)
		return -1;
	ns = strlen(src);
	nr = strlen(rel);
	if (nr == 0 || ns < nr + 2 || strcmp(src + ns - nr, rel) != 0 ||
	    src[ns - nr - 1] != '/' || ns - nr - 1 >= size)
		return -1;
	memcpy(buf, src, ns - nr - 1);
	buf[ns - nr - 1] = '\0';
	if (buf[0] == '\0')
		memcpy(buf, "/", 2);
	return 0;
}

/* Find the source again, beneath its root and never through a symlink,
 * and check it is the file that was admitted (pin.h). A job made by an
 * earlier version, which has no pin, is pinned now. 0, or -1 with errno
 * (ENOENT gone, ESTALE replaced) and a reason. */
static int
check_source(struct job *j, int *dirfd, int *fd, char *err, size_t errlen)
{
	char root[PATH_MAX];

	if (job_root(j, root, sizeof(root)) < 0) {
		util_snprintf(err, errlen, "job has no usable source path");
		errno = EINVAL;
		return -1;
	}
	if (!j->pinned) {
		if (pin_take(root, j->rel, &j->pin, err, errlen) < 0)
			return -1;
		j->pinned = true;
	}
	return pin_check(root, j->rel, &j->pin, dirfd, fd, err, errlen);
}

/* The source cannot be used: gone or replaced is for an operator to look
 * at (it is not retried blindly), anything else is the system's. */
static enum step_result
source_problem(struct pipeline_ctx *ctx, struct job *j, const char *why)
{
	char msg[800];

	if (errno == ENOENT || errno == ESTALE || errno == ELOOP ||
	    errno == ENOTDIR || errno == EXDEV || errno == EINVAL) {
		util_snprintf(msg, sizeof(msg), "source not processed: %s", why);
		return fail_for_good(ctx, j, msg);
	}
	return retry_later(ctx, j, why);
}

static enum step_result
step_queued(struct pipeline_ctx *ctx, struct job *j)
{
	struct session_info info;
	char err[700];
	int dirfd;

	if (check_source(j, &dirfd, NULL, err, sizeof(err)) < 0)
		return source_problem(ctx, j, err);
	/* a file directly in RECORDINGS_DIR has no session directory */
	session_load(j->source, strchr(j->rel, '/') ?
	    dirfd : -1, j->legacy_room, &info);
	close(dirfd);
	job_set(&j->session_dir, info.session_dir);
	if (j->session_suffix != NULL) {
		char *sid = xasprintf("%s-%s", info.session_id,
		    j->session_suffix);
		job_set(&j->session_id, sid);
		free(sid);
	} else {
		job_set(&j->session_id, info.session_id);
	}
	job_set(&j->room_name, info.room_name);
	job_set(&j->room_source, info.room_source);
	job_set(&j->meeting_url, info.meeting_url);
	if (info.metadata != NULL)
		job_set_doc(&j->metadata, json_incref(info.metadata));
	if (info.metadata_error != NULL) {
		job_set(&j->metadata_error, info.metadata_error);
		log_warn("metadata.json not used", "id", j->id, "error",
		    info.metadata_error);
	}
	log_info("recording queued", "id", j->id, "room", info.room_name,
	    "session", info.session_id, "source", j->source);
	session_info_free(&info);
	return advance(ctx, j, JOB_PROBING);
}

/* $STATE_DIR/salvaged/ID.mp4: what salvage rebuilt from a source without
 * moov, read by the later steps instead of the source (which stays). */
static int
salvaged_path(struct pipeline_ctx *ctx, const struct job *j, char *buf,
    size_t size)
{
	return util_snprintf(buf, size, "%s/salvaged/%s.mp4",
	    ctx->cfg->state_dir, j->id);
}

/* The source has no moov: Jibri's ffmpeg was killed. Rebuild it (salvage.h)
 * and go on with the rebuilt file; quarantine what has nothing to rebuild. */
static enum step_result
salvage_source(struct pipeline_ctx *ctx, struct job *j, int fd,
    const char *why)
{
	struct salvage_options o;
	struct salvage_report r;
	char path[PATH_MAX], tmp[PATH_MAX], dir[PATH_MAX], cache[PATH_MAX];
	char err[1024], msg[1800], secs[32];
	int ofd, rc;

	util_snprintf(dir, sizeof(dir), "%s/salvaged", ctx->cfg->state_dir);
	util_snprintf(cache, sizeof(cache), "%s/codec", ctx->cfg->state_dir);
	if (salvaged_path(ctx, j, path, sizeof(path)) < 0 ||
	    util_snprintf(tmp, sizeof(tmp), "%s.tmp", path) < 0)
		return fail_for_good(ctx, j, "salvage: path too long");
	if (fs_mkdirs(dir, 0750) < 0 || (ofd = open(tmp, O_WRONLY | O_CREAT |
	    O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0640)) < 0) {
		util_snprintf(msg, sizeof(msg), "salvage: cannot create %s: %s",
		    tmp, strerror(errno));
		return retry_later(ctx, j, msg);
	}
	memset(&o, 0, sizeof(o));
	o.cache_dir = cache;
	o.name = j->source;
	o.jibri = (struct salvage_settings){ .width = ctx->cfg->jibri_width,
	    .height = ctx->cfg->jibri_height,
	    .fps = (unsigned)ctx->cfg->jibri_framerate,
	    .preset = ctx->cfg->jibri_preset,
	    .crf = (unsigned)ctx->cfg->jibri_crf };
	rc = salvage_fd(fd, ofd, &o, &r, err, sizeof(err));
	if (rc == SALVAGE_OK && fsync(ofd) < 0) {
		util_snprintf(err, sizeof(err), "%s: %s", tmp, strerror(errno));
		rc = SALVAGE_IO;
	}
	close(ofd);
	if (rc == SALVAGE_OK && rename(tmp, path) < 0) {
		util_snprintf(err, sizeof(err), "%s: %s", path, strerror(errno));
		rc = SALVAGE_IO;
	}
	if (rc != SALVAGE_OK) {
		unlink(tmp);
		if (rc == SALVAGE_IO) {
			util_snprintf(msg, sizeof(msg), "salvage: %s", err);
			return retry_later(ctx, j, msg);
		}
		util_snprintf(msg, sizeof(msg), "%s; salvage found nothing to "
		    "rebuild: %s", why, err);
		metrics_inc(METRIC_SALVAGE, METRICS_SALVAGE_NOTHING, 1);
		return quarantine(ctx, j, msg);
	}
	metrics_inc(METRIC_SALVAGE, METRICS_SALVAGE_SALVAGED, 1);
	j->salvaged = true;
	job_set_doc(&j->salvage, salvage_report_json(&r));
	util_snprintf(secs, sizeof(secs), "%.2f", r.recovered_seconds);
	log_warn("recording salvaged: its index was missing (ffmpeg killed); "
	    "the original is kept", "id", j->id, "source", j->source,
	    "recovered_seconds", secs, "config", r.config_source, "stopped",
	    r.stop_reason);
	return STEP_NEXT;
}

static enum step_result
step_probe(struct pipeline_ctx *ctx, struct job *j)
{
	const char *src = j->source;
	struct probe_result pr;
	struct stat st;
	char err[700], dur[32], path[PATH_MAX], cache[PATH_MAX];
	int rc, fd;

	if (check_source(j, NULL, &fd, err, sizeof(err)) < 0)
		return source_problem(ctx, j, err);
	if (fstat(fd, &st) < 0) {
		util_snprintf(err, sizeof(err), "source %s: %s", src,
		    strerror(errno));
		close(fd);
		return retry_later(ctx, j, err);
	}
	j->probed = true;
	j->source_size = (int64_t)st.st_size;
	j->source_mtime = (int64_t)st.st_mtim.tv_sec;
	j->source_mtime_ns = (int64_t)st.st_mtim.tv_sec *
	    1000000000 + st.st_mtim.tv_nsec;
	/* probed again (retry of a quarantined job): salvaged again */
	j->salvaged = false;
	job_set_doc(&j->salvage, NULL);
	rc = probe_fd(fd, src, &pr, err, sizeof(err));
	if (rc == PROBE_BAD_MEDIA && salvage_wanted(fd)) {
		enum step_result r = salvage_source(ctx, j, fd, err);
		close(fd);
		if (r != STEP_NEXT || !j->salvaged)
			return r;
		salvaged_path(ctx, j, path, sizeof(path));
		if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
			util_snprintf(err, sizeof(err), "%s: %s", path,
			    strerror(errno));
			return retry_later(ctx, j, err);
		}
		rc = probe_fd(fd, path, &pr, err, sizeof(err));
	} else if (rc == PROBE_OK) {
		/* an intact recording: its codec configuration is what
		 * salvage needs for the next killed one */
		char why[512];
		util_snprintf(cache, sizeof(cache), "%s/codec",
		    ctx->cfg->state_dir);
		if (salvage_remember(cache, fd, src, why, sizeof(why)) < 0)
			log_debug("codec configuration not kept", "id", j->id,
			    "reason", why);
	}
	close(fd);
	if (rc == PROBE_BAD_MEDIA)
		return quarantine(ctx, j, err);
	if (rc != PROBE_OK)
		return retry_later(ctx, j, err);
	job_set_doc(&j->probe, probe_to_json(&pr));
	j->no_audio = !pr.has_audio;
	util_snprintf(dur, sizeof(dur), "%.3f", pr.duration);
	log_info("probed", "id", j->id, "duration", dur, "format", pr.format,
	    "audio", pr.has_audio ? "yes" : "no", "salvaged",
	    j->salvaged ? "yes" : "no");
	return advance(ctx, j, JOB_REMUXING);
}

/* The storage key of an output: ROOM/SESSION/FILE, components made safe. */
static char *
object_key(struct job *j, const char *file)
{
	char *room = session_key_component(j->room_name ?
	    j->room_name : "unknown");
	char *sess = session_key_component(j->session_id ?
	    j->session_id : j->id);
	char *key = xasprintf("%s/%s/%s", room, sess, file);

	free(room);
	free(sess);
	return key;
}

/* Hash and record output o, the file named file in the work directory;
 * 0 or -1 with errno. */
static int
record_output(struct pipeline_ctx *ctx, struct job *j, const char *work,
    enum job_out o, const char *file, const char *content_type)
{
	char path[PATH_MAX], hex[HASH_HEX_LEN];
	struct job_file *f = &j->outputs[o];
	uint64_t size;
	char *key;

	util_snprintf(path, sizeof(path), "%s/%s", work, file);
	if (fs_fsync(path) < 0 || hash_sha256_file(path, hex, &size) < 0)
		return -1;
	key = object_key(j, file);
	f->made = true;
	job_set(&f->file, file);
	/* store_key: what store_put is given; key: the object's full name */
	free(f->store_key);
	f->store_key = key;
	free(f->key);
	f->key = store_full_key(ctx->cfg, key);
	job_set(&f->content_type, content_type);
	f->size = (int64_t)size;
	util_strlcpy(f->sha256, hex, sizeof(f->sha256));
	return 0;
}

/* Probe what the remux wrote and hold it against the source's probe: the
 * same streams, codecs and duration. A mismatch is our fault, not the
 * recording's: the job stops for an operator, the source untouched. */
static int
verify_one(const json_t *src, const char *path, const char *only,
    char *err, size_t errlen)
{
	struct probe_result out;
	json_t *s;
	size_t i;
	int n = 0;
	double want = json_number_value(json_object_get(src, "duration"));
	char why[300];

	if (probe_file(path, &out, why, sizeof(why)) != PROBE_OK) {
		util_snprintf(err, errlen, "remux wrote %s, which does not probe: "
		    "%s", path, why);
		return -1;
	}
	json_array_foreach(json_object_get(src, "streams"), i, s) {
		const char *type = json_string_value(json_object_get(s, "type"));
		const char *codec = json_string_value(json_object_get(s, "codec"));
		if (type == NULL || (strcmp(type, "video") != 0 &&
		    strcmp(type, "audio") != 0) || (only && strcmp(type, only)))
			continue;
		if (only != NULL && n > 0)
			break;  /* the audio file holds the first audio stream */
		if (n >= out.nb_streams || strcmp(out.streams[n].type, type) ||
		    strcmp(out.streams[n].codec, codec ? codec : "")) {
			util_snprintf(err, errlen, "remux wrote %s with other streams "
			    "than the source's (stream %d: want %s %s)", path, n,
			    type, codec ? codec : "?");
			return -1;
		}
		n++;
	}
	if (want > 1.0 && (out.duration < want - 1.0 ||
	    out.duration > want + 1.0)) {
		util_snprintf(err, errlen, "remux wrote %s lasting %.2f s, the "
		    "source lasts %.2f s", path, out.duration, want);
		return -1;
	}
	return 0;
}

static int
verify_outputs(struct job *j, const char *video, const char *audio,
    char *err, size_t errlen)
{
	const json_t *src = j->probe;

	if (video != NULL && verify_one(src, video, NULL, err, errlen) < 0)
		return -1;
	if (audio != NULL && verify_one(src, audio, "audio", err, errlen) < 0)
		return -1;
	return 0;
}

/* Jibri often writes an empty participants list: who the meeting's
 * events say was there while the file was written (its mtime back by
 * its duration) is asked for once, before the manifest. Unknown (no
 * database, no meeting): nothing, and the recording goes on. */
static void
event_participants(struct pipeline_ctx *ctx, struct job *j)
{
	json_t *dur = json_object_get(j->probe, "duration");
	int64_t to = j->source_mtime, from;

	if (ctx->participants == NULL || j->event_participants != NULL ||
	    json_array_size(json_object_get(j->metadata, "participants")) > 0 ||
	    (j->room_name == NULL && j->meeting_url == NULL) || !j->probed)
		return;
	from = to - (int64_t)(json_number_value(dur) + 1);
	j->event_participants = ctx->participants(ctx->hooks, j->room_name,
	    j->meeting_url, from, to + 1);
}

static enum step_result
step_remux(struct pipeline_ctx *ctx, struct job *j)
{
	char work[PATH_MAX], video[PATH_MAX], audio[PATH_MAX], err[512];
	char msg[700];
	struct remux_result res;
	unsigned want = ctx->cfg->outputs;
	bool want_video = want & job_outputs[JOB_OUT_VIDEO].bit;
	bool want_audio = want & job_outputs[JOB_OUT_AUDIO].bit;
	char *manifest;
	int rc;

	/* a crash mid-remux leaves partial files: always start clean */
	if (util_snprintf(work, sizeof(work), "%s/%s", ctx->sp->work, j->id) < 0)
		return fail_for_good(ctx, j, "work directory path too long");
	fs_remove_tree(work);
	if (spool_work_dir(ctx->sp, j->id, work, sizeof(work)) < 0) {
		util_snprintf(msg, sizeof(msg), "cannot create work directory %s: %s",
		    work, strerror(errno));
		return retry_later(ctx, j, msg);
	}
	job_clear_outputs(j);
	util_snprintf(video, sizeof(video), "%s/%s", work,
	    job_outputs[JOB_OUT_VIDEO].file);
	util_snprintf(audio, sizeof(audio), "%s/%s", work,
	    job_outputs[JOB_OUT_AUDIO].file);
	memset(&res, 0, sizeof(res));
	if (want_video || want_audio) {
		int fd;
		char spath[PATH_MAX];
		if (check_source(j, NULL, &fd, err, sizeof(err)) < 0) {
			fs_remove_tree(work);
			return source_problem(ctx, j, err);
		}
		if (j->salvaged) {
			/* the source was checked; the rebuilt copy is read */
			close(fd);
			salvaged_path(ctx, j, spath, sizeof(spath));
			if ((fd = open(spath, O_RDONLY | O_NOFOLLOW |
			    O_CLOEXEC)) < 0) {
				fs_remove_tree(work);
				log_warn("salvaged copy gone: salvaging again",
				    "id", j->id, "path", spath);
				return advance(ctx, j, JOB_PROBING);
			}
		}
		rc = remux_fd(fd, j->salvaged ? spath : j->source,
		    want_video ? video : NULL, want_audio ? audio : NULL, &res,
		    err, sizeof(err));
		close(fd);
		if (rc == REMUX_BAD_MEDIA)
			return quarantine(ctx, j, err);
		if (rc != REMUX_OK) {
			fs_remove_tree(work);
			util_snprintf(msg, sizeof(msg), "remux into %s: %s%s", work, err,
			    res.sys_errno == ENOSPC ? " (disk full: waiting for "
			    "space; the source is untouched)" : "");
			return retry_later(ctx, j, msg);
		}
		if (res.no_audio)
			j->no_audio = true;
		if (verify_outputs(j, want_video ? video : NULL,
		    res.audio_path[0] ? res.audio_path : NULL, err,
		    sizeof(err)) < 0) {
			fs_remove_tree(work);
			return fail_for_good(ctx, j, err);
		}
	}
	if (want_video &&
	    record_output(ctx, j, work, JOB_OUT_VIDEO, job_outputs[JOB_OUT_VIDEO].file,
	    job_outputs[JOB_OUT_VIDEO].content_type) < 0)
		goto io_fail;
	if (want_audio && !res.no_audio && res.audio_path[0] != '\0') {
		const char *base = strrchr(res.audio_path, '/') + 1;
		const char *ctype = strcmp(res.audio_ext, "m4a") == 0 ?
		    job_outputs[JOB_OUT_AUDIO].content_type :
		    strcmp(res.audio_ext, "mka") == 0 ? "audio/x-matroska" :
		    "application/octet-stream";
		if (record_output(ctx, j, work, JOB_OUT_AUDIO, base, ctype) < 0)
			goto io_fail;
	}
	event_participants(ctx, j);
	if (want & job_outputs[JOB_OUT_MANIFEST].bit) {
		char mpath[PATH_MAX];
		manifest = manifest_build(j, util_now_ms());
		util_snprintf(mpath, sizeof(mpath), "%s/%s", work,
		    job_outputs[JOB_OUT_MANIFEST].file);
		rc = fs_write_atomic(mpath, manifest, strlen(manifest), 0640, true);
		free(manifest);
		if (rc < 0 || record_output(ctx, j, work, JOB_OUT_MANIFEST,
		    job_outputs[JOB_OUT_MANIFEST].file,
		    job_outputs[JOB_OUT_MANIFEST].content_type) < 0)
			goto io_fail;
	}
	if (fs_fsync(work) < 0)
		goto io_fail;
	log_info("remuxed", "id", j->id, "method", res.video_method,
	    "no_audio", res.no_audio ? "true" : "false");
	return advance(ctx, j, JOB_STORING);
io_fail:
	util_snprintf(msg, sizeof(msg), "writing outputs in %s: %s", work,
	    strerror(errno));
	fs_remove_tree(work);
	job_clear_outputs(j);
	return retry_later(ctx, j, msg);
}

struct checkpoint_ctx {
	struct pipeline_ctx *ctx;
	struct job *j;
};

static void
checkpoint(void *p)
{
	struct checkpoint_ctx *c = p;

	save(c->ctx, c->j);
}

/* Whether output o is stored and verified with what was made (a restart
 * after its upload). */
static bool
stored(const struct job *j, enum job_out o)
{
	return j->objects[o].stored &&
	    strcmp(j->objects[o].sha256, j->outputs[o].sha256) == 0;
}

/* Whether every output not yet stored is in the work directory with the
 * size recorded when it was made. */
static bool
outputs_present(const struct job *j, const char *work)
{
	char path[PATH_MAX];
	struct stat st;
	int o;

	for (o = 0; o < JOB_NOUT; o++) {
		if (!j->outputs[o].made || stored(j, (enum job_out)o))
			continue;
		if (util_snprintf(path, sizeof(path), "%s/%s", work,
		    j->outputs[o].file) < 0 || stat(path, &st) < 0 ||
		    (int64_t)st.st_size != j->outputs[o].size)
			return false;
	}
	return true;
}

/* Store output o; STORE_OK, or another STORE_* with a reason. */
static int
store_output(struct pipeline_ctx *ctx, struct job *j, struct store *st,
    const char *work, enum job_out o, char *err, size_t errlen)
{
	struct checkpoint_ctx cp = { ctx, j };
	struct job_file *f = &j->outputs[o];
	struct job_object *ob = &j->objects[o];
	struct store_object obj;
	struct store_put put;
	char path[PATH_MAX], size[24];
	int64_t t0;
	int rc;

	util_snprintf(path, sizeof(path), "%s/%s", work, f->file);
	if (j->store_resume[o] == NULL)
		j->store_resume[o] = json_object();
	memset(&put, 0, sizeof(put));
	put.key = f->store_key;
	put.path = path;
	put.content_type = f->content_type;
	put.sha256 = f->sha256;
	put.resume = j->store_resume[o];
	put.checkpoint = checkpoint;
	put.ctx = &cp;
	put.cancel = ctx->stopping;
	t0 = util_mono_ms();
	rc = store_put(st, &put, &obj, err, errlen);
	if (rc != STORE_OK)
		return rc;
	metrics_observe(METRIC_STORE_SECONDS, o,
	    (double)(util_mono_ms() - t0) / 1000.0);
	metrics_inc(METRIC_STORED_BYTES, o, (uint64_t)obj.size);
	ob->stored = true;
	job_set(&ob->key, f->key);
	job_set(&ob->url, obj.url);
	job_set(&ob->etag, obj.etag);
	ob->size = (int64_t)obj.size;
	util_strlcpy(ob->sha256, f->sha256, sizeof(ob->sha256));
	job_set_doc(&j->store_resume[o], NULL);
	save(ctx, j);
	log_info("stored", "id", j->id, "object", obj.url, "size",
	    log_i64(size, (long long)obj.size));
	return STORE_OK;
}

static enum step_result
step_store(struct pipeline_ctx *ctx, struct job *j)
{
	char work[PATH_MAX], err[1024];
	struct store *st;
	int o, rc;

	util_snprintf(work, sizeof(work), "%s/%s", ctx->sp->work, j->id);
	if (!outputs_present(j, work)) {
		/* the work files are gone (STATE_DIR restored, tmpfs after a
		 * reboot): make them again rather than wait for them forever */
		log_warn("outputs missing before storing: remuxing again", "id",
		    j->id, "dir", work);
		return advance(ctx, j, JOB_REMUXING);
	}
	st = store_open_config(ctx->cfg, err, sizeof(err));
	if (st == NULL)
		return fail_for_good(ctx, j, err);
	for (o = 0; o < JOB_NOUT; o++) {
		if (!j->outputs[o].made || stored(j, (enum job_out)o))
			continue;       /* stored and verified before a restart */
		if (atomic_load(ctx->stopping)) {
			store_close(st);
			return STEP_STOP;
		}
		rc = store_output(ctx, j, st, work, (enum job_out)o, err,
		    sizeof(err));
		if (rc == STORE_RETRY) {
			store_close(st);
			return retry_later(ctx, j, err);
		}
		if (rc != STORE_OK) {
			store_close(st);
			return fail_for_good(ctx, j, err);
		}
	}
	store_close(st);
	return advance(ctx, j, JOB_NOTIFYING);
}

static enum step_result
step_notify(struct pipeline_ctx *ctx, struct job *j)
{
	struct job_webhook *wh = &j->webhook;
	int64_t now = util_now_ms(), first, retry_after, attempts, delay, t0;
	char err[700], code[24], msg[800], key[64];
	long status;
	int rc;

	if (j->result == NULL)
		job_set(&j->result, "completed");
	if (ctx->cfg->webhook_url == NULL) {
		wh->disabled = true;
		return advance(ctx, j, JOB_FINISHING);
	}
	if (wh->body == NULL) {
		/* built once: every retry carries the same bytes and signature */
		wh->body = webhook_body(j, now);
		wh->first_attempt_at = now;
		save(ctx, j);
	}
	if (wh->first_attempt_at == 0)
		wh->first_attempt_at = now;
	attempts = ++wh->attempts;
	if (j->generation > 1)
		snprintf(key, sizeof(key), "%s.%lld", j->id,
		    (long long)j->generation);
	else
		snprintf(key, sizeof(key), "%s", j->id);
	t0 = util_mono_ms();
	rc = webhook_post(ctx->cfg->webhook_url, ctx->cfg->webhook_secret, key,
	    wh->body, ctx->cfg->webhook_timeout, &status, &retry_after, err,
	    sizeof(err));
	metrics_observe(METRIC_WEBHOOK_SECONDS, 0,
	    (double)(util_mono_ms() - t0) / 1000.0);
	metrics_inc(METRIC_WEBHOOK_ATTEMPTS, rc == WEBHOOK_OK ?
	    METRICS_WEBHOOK_ACKNOWLEDGED : rc == WEBHOOK_FATAL ?
	    METRICS_WEBHOOK_FAILED : METRICS_WEBHOOK_RETRY, 1);
	wh->status = status;
	if (rc == WEBHOOK_OK) {
		char ts[UTIL_ISO_LEN];
		job_set(&wh->delivered_at, util_iso8601_ms(util_now_ms(), ts));
		log_info("webhook delivered", "id", j->id, "status",
		    log_i64(code, status), "result", j->result);
		return advance(ctx, j, JOB_FINISHING);
	}
	if (rc == WEBHOOK_FATAL) {
		util_snprintf(msg, sizeof(msg), "%s (not retried: fix the receiver, "
		    "then retry)", err);
		return fail_for_good(ctx, j, msg);
	}
	first = wh->first_attempt_at;
	if (now - first > ctx->cfg->webhook_retry_for * 1000) {
		util_snprintf(msg, sizeof(msg), "%s (gave up after WEBHOOK_RETRY_FOR)",
		    err);
		return fail_for_good(ctx, j, msg);
	}
	delay = util_backoff_ms(attempts, ctx->cfg->retry_max_delay * 1000);
	if (retry_after > delay)
		delay = retry_after > ctx->cfg->retry_max_delay * 1000 ?
		    ctx->cfg->retry_max_delay * 1000 : retry_after;
	job_fail(j, err, delay);
	save(ctx, j);
	log_warn("webhook not delivered, will retry", "id", j->id, "attempt",
	    log_i64(code, attempts), "error", err);
	return STEP_STOP;
}

/* Whether the job holds a verified video object: what makes deleting
 * the source safe (OUTPUTS without mp4 never stores one). */
static bool
video_stored(const struct job *j)
{
	return j->outputs[JOB_OUT_VIDEO].made && stored(j, JOB_OUT_VIDEO) &&
	    j->objects[JOB_OUT_VIDEO].size == j->outputs[JOB_OUT_VIDEO].size;
}

/* Remove the session directory dirfd (rel's directory) when nothing but
 * metadata.json is left in it; never RECORDINGS_DIR or anything above
 * the session directory. The name is looked up again beneath root
 * without following links and must still be the pinned directory. */
static void
remove_session_dir(const char *root, const char *rel, int dirfd,
    const struct pin *pin)
{
	char dir[PATH_MAX];
	const char *name;
	struct stat st;
	char *slash;
	int parent, rootfd;

	if (session_count_media_at(dirfd) != 0)
		return;
	if (fstatat(dirfd, "metadata.json", &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISREG(st.st_mode))
		unlinkat(dirfd, "metadata.json", 0);
	if (util_strlcpy(dir, rel, sizeof(dir)) < 0 ||
	    (slash = strrchr(dir, '/')) == NULL)
		return;         /* a top-level file: no session directory */
	*slash = '\0';
	rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return;
	slash = strrchr(dir, '/');
	if (slash == NULL) {
		parent = rootfd;
		name = dir;
	} else {
		*slash = '\0';
		parent = fs_open_beneath(rootfd, dir, O_RDONLY | O_DIRECTORY);
		name = slash + 1;
	}
	if (parent >= 0 && fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISDIR(st.st_mode) && (int64_t)st.st_dev == pin->dir_dev &&
	    (int64_t)st.st_ino == pin->dir_ino)
		unlinkat(parent, name, AT_REMOVEDIR); /* only when empty */
	if (parent >= 0 && parent != rootfd)
		close(parent);
	close(rootfd);
}

int
pipeline_delete_source(struct job *j)
{
	const char *src = j->source, *rel = j->rel;
	char root[PATH_MAX], err[700], ts[UTIL_ISO_LEN];
	const char *base;
	struct stat st;
	int dirfd;

	if (j->quarantined || j->result == NULL ||
	    strcmp(j->result, "completed") != 0 ||
	    j->source_deleted_at != NULL)
		return 0;
	if (j->salvaged) {
		/* what salvage could not read may still be worth a try by
		 * hand: a salvaged original is never deleted */
		log_info("salvaged original kept", "id", j->id, "source", src);
		return 0;
	}
	if (!video_stored(j)) {
		log_warn("no verified video object: source kept (OUTPUTS has no "
		    "mp4?)", "id", j->id, "source", src);
		return 0;
	}
	if (job_root(j, root, sizeof(root)) < 0 || !j->pinned) {
		log_warn("source not pinned: kept", "id", j->id, "source", src);
		return 0;
	}
	if (pin_check(root, rel, &j->pin, &dirfd, NULL, err, sizeof(err)) < 0) {
		if (errno != ENOENT) {
			log_warn("source kept", "id", j->id, "error", err);
			return 0;
		}
		log_info("source already gone", "id", j->id, "source", src);
	} else {
		base = strrchr(rel, '/') ? strrchr(rel, '/') + 1 : rel;
		if (fstatat(dirfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    (int64_t)st.st_size != j->source_size) {
			log_warn("source changed since it was stored: kept", "id",
			    j->id, "source", src);
			close(dirfd);
			return 0;
		}
		/* through the checked directory: a swap of the name since
		 * cannot redirect the unlink */
		if (unlinkat(dirfd, base, 0) < 0 && errno != ENOENT) {
			log_error("cannot delete source", "id", j->id, "source", src,
			    "error", strerror(errno));
			close(dirfd);
			return -1;
		}
		remove_session_dir(root, rel, dirfd, &j->pin);
		close(dirfd);
	}
	job_set(&j->source_deleted_at, util_iso8601_ms(util_now_ms(), ts));
	log_info("source deleted after verified upload", "id", j->id, "source",
	    src);
	return 1;
}

static enum step_result
step_finish(struct pipeline_ctx *ctx, struct job *j)
{
	char logpath[PATH_MAX], work[PATH_MAX], ts[UTIL_ISO_LEN];
	json_t *entry;
	int64_t off;
	bool quarantined = j->quarantined;

	util_snprintf(logpath, sizeof(logpath), "%s/uploads.log", ctx->sp->dir);
	if (!j->logged) {
		if (!(j->has_log_offset && uploadlog_has(logpath, j->log_offset,
		    j->id))) {
			if (uploadlog_rotate(logpath, UPLOADLOG_MAX) < 0)
				log_warn("cannot rotate uploads.log", "path",
				    logpath, "error", strerror(errno));
			off = uploadlog_size(logpath);
			if (off < 0)
				return retry_later(ctx, j, "cannot read uploads.log");
			j->has_log_offset = true;
			j->log_offset = off;
			save(ctx, j);
			entry = uploadlog_entry(j, util_now_ms());
			if (uploadlog_append(logpath, entry) < 0) {
				char msg[600];
				json_decref(entry);
				util_snprintf(msg, sizeof(msg), "cannot append to %s: %s",
				    logpath, strerror(errno));
				return retry_later(ctx, j, msg);
			}
			json_decref(entry);
		}
		j->logged = true;
		save(ctx, j);
	}
	if (!quarantined && ctx->cfg->keep_local == KEEP_DELETE)
		pipeline_delete_source(j);
	if (util_snprintf(work, sizeof(work), "%s/%s", ctx->sp->work, j->id) == 0)
		fs_remove_tree(work);
	/* the rebuilt copy was stored as recording.mp4 */
	if (j->salvaged && salvaged_path(ctx, j, work, sizeof(work)) == 0)
		unlink(work);
	job_set(&j->finished_at, util_iso8601_ms(util_now_ms(), ts));
	j->finished_at_ms = util_now_ms();
	advance(ctx, j, quarantined ? JOB_QUARANTINED : JOB_DONE);
	metrics_inc(METRIC_FINISHED, quarantined ?
	    METRICS_FINISHED_QUARANTINED : METRICS_FINISHED_COMPLETED, 1);
	log_info(quarantined ? "recording quarantined and reported" :
	    "recording done", "id", j->id, "room", j->room_name,
	    "session", j->session_id);
	return STEP_STOP;
}

void
pipeline_run(struct pipeline_ctx *ctx, struct job *j)
{
	enum step_result r = STEP_NEXT;

	while (r == STEP_NEXT && !atomic_load(ctx->stopping)) {
		switch (j->state) {
		case JOB_QUEUED: r = step_queued(ctx, j); break;
		case JOB_PROBING: r = step_probe(ctx, j); break;
		case JOB_REMUXING: r = step_remux(ctx, j); break;
		case JOB_STORING: r = step_store(ctx, j); break;
		case JOB_NOTIFYING: r = step_notify(ctx, j); break;
		case JOB_FINISHING: r = step_finish(ctx, j); break;
		case JOB_FAILED:
			if (job_due(j) < 0 || job_due(j) > util_now_ms())
				return;
			job_wake(j);
			break;
		default:
			return;
		}
	}
}
