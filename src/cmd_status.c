/* cmd_status.c -- jibri-pipeline status: the queue, read from the job files (works with the daemon stopped). */
#include "base/config.h"
#include "base/util.h"
#include "daemon/job.h"
#include "daemon/jobview.h"
#include "daemon/spool.h"
#include "commands.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/*
 * Text mode writes to a terminal, and room names (from metadata.json's
 * meeting_url), session ids and error messages are not ours: an ESC
 * sequence in a room name would recolour or rewrite the operator's
 * screen, a newline forge a job line. Every such string goes through
 * term_text. JSON mode is escaped by jansson.
 */

/* Length of the valid UTF-8 sequence at s (1-4), or 0 when it is not one
 * (overlong forms and surrogates included). */
static size_t
utf8_len(const unsigned char *s)
{
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		return (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (s[0] >= 0xe0 && s[0] <= 0xef) {
		if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] > 0x9f))
			return 0;
		return (s[1] & 0xc0) == 0x80 && (s[2] & 0xc0) == 0x80 ? 3 : 0;
	}
	if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		if ((s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] > 0x8f))
			return 0;
		return (s[1] & 0xc0) == 0x80 && (s[2] & 0xc0) == 0x80 &&
		    (s[3] & 0xc0) == 0x80 ? 4 : 0;
	}
	return 0;
}

/* An untrusted string made safe for a terminal: \n \r \t \\ for those,
 * \xNN for other control characters (below 0x20, DEL) and for bytes that
 * are not UTF-8, \u00NN for the C1 controls (U+0080-U+009F, which some
 * terminals obey as well). At most width characters when width > 0 (an
 * escape is never cut), padded with spaces to width when pad. Newly
 * allocated. */
static char *
term_text(const char *in, size_t width, bool pad)
{
	const unsigned char *s = (const unsigned char *)(in ? in : "");
	size_t len = strlen((const char *)s), n, bytes, w, cols = 0, o = 0;
	char *out = xmalloc(4 * len + width + 1), piece[8];

	while (*s != '\0') {
		const char *src = piece;
		if (*s == '\n' || *s == '\r' || *s == '\t' || *s == '\\') {
			piece[0] = '\\';
			piece[1] = *s == '\n' ? 'n' : *s == '\r' ? 'r' :
			    *s == '\t' ? 't' : '\\';
			piece[2] = '\0';
			n = 1;
		} else if (*s < 0x20 || *s == 0x7f) {
			snprintf(piece, sizeof(piece), "\\x%02x", *s);
			n = 1;
		} else if (*s < 0x80) {
			src = (const char *)s;
			n = 1;
		} else if ((n = utf8_len(s)) == 0) {
			snprintf(piece, sizeof(piece), "\\x%02x", *s);
			n = 1;
		} else if (n == 2 && s[0] == 0xc2 && s[1] <= 0x9f) {
			snprintf(piece, sizeof(piece), "\\u%04x", s[1]);
		} else {
			src = (const char *)s;
		}
		/* a verbatim character is one column, an escape its length */
		bytes = src == piece ? strlen(piece) : n;
		w = src == piece ? bytes : 1;
		if (width > 0 && cols + w > width)
			break;
		memcpy(out + o, src, bytes);
		o += bytes;
		cols += w;
		s += n;
	}
	while (pad && cols < width) {
		out[o++] = ' ';
		cols++;
	}
	out[o] = '\0';
	return out;
}

/* A job's error text as status shows it: URLs without user:password (job
 * files written before webhook.c redacted them may still hold one). */
static char *
error_text(const char *v)
{
	return util_url_redact(v != NULL ? v : "");
}

/* How often --watch redraws. */
#define STATUS_WATCH_SECONDS 2

/* What --watch remembers of each job between two screens: the bytes
 * stored then, for a rate and an ETA. */
#define STATUS_RATES 256
struct status_rate {
	char id[33];
	int64_t bytes;
	double at;                   /* monotonic seconds */
	double rate;                 /* bytes/s, smoothed; 0 unknown */
};
static struct status_rate status_rates[STATUS_RATES];

static double
status_now(void)
{
	return (double)util_mono_ms() / 1000;
}

/* The rate of job id now at bytes (0 when not known yet). */
static double
status_rate_of(const char *id, int64_t bytes)
{
	struct status_rate *r = NULL, *oldest = &status_rates[0];
	double now = status_now(), inst;
	size_t i;

	for (i = 0; i < STATUS_RATES && r == NULL; i++) {
		if (strcmp(status_rates[i].id, id) == 0)
			r = &status_rates[i];
		else if (status_rates[i].at < oldest->at)
			oldest = &status_rates[i];
	}
	if (r == NULL) {
		r = oldest;
		snprintf(r->id, sizeof(r->id), "%s", id);
		r->bytes = bytes;
		r->at = now;
		r->rate = 0;
		return 0;
	}
	if (now - r->at >= 0.5 && bytes >= r->bytes) {
		inst = (double)(bytes - r->bytes) / (now - r->at);
		r->rate = r->rate > 0 ? 0.5 * r->rate + 0.5 * inst : inst;
		r->bytes = bytes;
		r->at = now;
	}
	return r->rate;
}

static const char *
status_mb(int64_t bytes, char *buf, size_t size)
{
	snprintf(buf, size, "%.1f", (double)bytes / 1e6);
	return buf;
}

/* "[#########-----------]  45%  55.3/123.4 MB  12.3 MB/s  ETA 6s" for a job
 * storing its outputs: bytes of the outputs made and stored (jobview). */
static void
status_bar(struct job *j, char *out, size_t size)
{
	json_t *sum = jobview_summary(j), *p = json_object_get(sum, "progress");
	int64_t done = json_integer_value(json_object_get(p, "bytes_stored"));
	int64_t total = json_integer_value(json_object_get(p, "bytes_total"));
	char bar[21], a[32], b[32], rate[48] = "";
	double r;
	int fill, i;

	if (total <= 0) {
		snprintf(out, size, "%lld/%lld outputs stored",
		    (long long)json_integer_value(json_object_get(p,
		    "outputs_stored")), (long long)json_integer_value(
		    json_object_get(p, "outputs_total")));
		json_decref(sum);
		return;
	}
	fill = (int)(done * 20 / total);
	for (i = 0; i < 20; i++)
		bar[i] = i < fill ? '#' : '-';
	bar[20] = '\0';
	r = status_rate_of(j->id, done);
	if (r > 0)
		snprintf(rate, sizeof(rate), "  %.1f MB/s  ETA %.0fs", r / 1e6,
		    (double)(total - done) / r);
	snprintf(out, size, "[%s] %3d%%  %s/%s MB%s", bar,
	    (int)(done * 100 / total), status_mb(done, a, sizeof(a)),
	    status_mb(total, b, sizeof(b)), rate);
	json_decref(sum);
}

static void
print_line(struct job *j)
{
	enum job_state st = j->state;
	char info[400] = "", ts[UTIL_ISO_LEN];
	char *id, *room, *session, *text, *last_error, *error;
	const char *step = j->has_resume_step ?
	    job_state_name(j->resume_step) : "-";
	size_t nobj = 0;
	int o;

	for (o = 0; o < JOB_NOUT; o++)
		nobj += j->objects[o].stored;
	last_error = error_text(j->last_error);
	error = error_text(j->error);
	if (st == JOB_FAILED && j->next_attempt_at > 0)
		snprintf(info, sizeof(info), "%s: retry %lld at %s: %.200s",
		    step, (long long)j->attempts,
		    util_iso8601_ms(j->next_attempt_at, ts),
		    last_error);
	else if (st == JOB_FAILED)
		snprintf(info, sizeof(info), "%s: %.250s (jibri-pipeline retry "
		    "%.12s)", step, error, j->id);
	else if (st == JOB_QUARANTINED)
		snprintf(info, sizeof(info), "%.300s", error);
	else if (st == JOB_DONE)
		snprintf(info, sizeof(info), "%zu objects, webhook %s", nobj,
		    j->webhook.disabled || j->webhook.attempts == 0 ?
		    "disabled" : "acknowledged");
	else if (st == JOB_STORING)
		status_bar(j, info, sizeof(info));
	else if (st != JOB_DONE && j->attempts > 0 && j->last_error != NULL)
		snprintf(info, sizeof(info), "attempt %lld: %.250s",
		    (long long)j->attempts + 1, last_error);
	id = term_text(j->id, 12, true);
	room = term_text(j->room_name ? j->room_name : "-", 24, true);
	session = term_text(j->session_id ? j->session_id : "-", 8, true);
	text = term_text(info, 0, false);
	printf("%s  %-11s  %s  %s  %s\n", id, job_state_name(st), room,
	    session, text);
	free(id);
	free(room);
	free(session);
	free(text);
	free(last_error);
	free(error);
}

/* One screen (or one JSON document) of the queue. */
static void
status_screen(struct config *cfg, struct spool *sp, bool as_json, bool all)
{
	struct { struct job **v; size_t n; } l;
	size_t i, pending, shown = 0, counts[JOB_QUARANTINED + 1] = { 0 };
	int running;

	l.v = jobview_jobs(sp, &l.n);
	pending = spool_pending_requests(sp);
	running = spool_locked_by_other(sp);
	for (i = 0; i < l.n; i++)
		counts[l.v[i]->state]++;
	if (as_json) {
		json_t *out = json_object(), *jobs = json_array(), *c = json_object();
		char *text;
		for (i = 0; i < l.n; i++)
			json_array_append_new(jobs, jobview_summary(l.v[i]));
		for (i = 0; i <= JOB_QUARANTINED; i++)
			json_object_set_new(c, job_state_name((enum job_state)i),
			    json_integer((json_int_t)counts[i]));
		json_object_set_new(out, "daemon_running", json_boolean(running));
		json_object_set_new(out, "state_dir", json_string(cfg->state_dir));
		json_object_set_new(out, "pending_requests",
		    json_integer((json_int_t)pending));
		json_object_set_new(out, "counts", c);
		json_object_set_new(out, "jobs", jobs);
		text = json_dumps(out, JSON_INDENT(2));
		printf("%s\n", text);
		free(text);
		json_decref(out);
	} else {
		char *incoming = term_text(sp->incoming, 0, false);
		printf("daemon: %s; %zu jobs (%zu done, %zu failed, %zu "
		    "quarantined); %zu requests waiting in %s\n",
		    running ? "running" : "stopped", l.n, counts[JOB_DONE],
		    counts[JOB_FAILED], counts[JOB_QUARANTINED], pending,
		    incoming);
		free(incoming);
		if (l.n > 0)
			printf("\n%-12s  %-11s  %-24s  %-8s  %s\n", "ID", "STATE",
			    "ROOM", "SESSION", "INFO");
		/* finished jobs pile up: show the unfinished, then the last 20 */
		for (i = 0; i < l.n; i++) {
			enum job_state s = l.v[i]->state;
			if (all || s != JOB_DONE || i + 20 >= l.n) {
				print_line(l.v[i]);
				shown++;
			}
		}
		if (shown < l.n)
			printf("(%zu older finished jobs not shown: --all)\n",
			    l.n - shown);
	}
	jobview_jobs_free(l.v, l.n);
}

int
status_main(int argc, char **argv)
{
	struct config *cfg;
	struct spool sp;
	bool as_json = false, all = false, watch = false, tty;
	int a;

	for (a = 1; a < argc; a++) {
		if (strcmp(argv[a], "--json") == 0)
			as_json = true;
		else if (strcmp(argv[a], "--all") == 0)
			all = true;
		else if (strcmp(argv[a], "--watch") == 0)
			watch = true;
		else {
			fprintf(stderr, "usage: jibri-pipeline [-c ENV_FILE] status "
			    "[--json] [--all] [--watch]\n");
			return 2;
		}
	}
	cfg = cmd_open_spool(&sp);
	if (cfg == NULL)
		return 1;
	tty = isatty(STDOUT_FILENO);
	for (;;) {
		/* a terminal is redrawn in place; a pipe gets one screen
		 * after another, without escape codes */
		if (watch && tty)
			fputs("\033[H\033[2J", stdout);
		status_screen(cfg, &sp, as_json, all);
		if (!watch || fflush(stdout) == EOF)
			break;
		if (!tty)
			putchar('\n');
		sleep(STATUS_WATCH_SECONDS);
	}
	spool_close(&sp);
	config_unref(cfg);
	return 0;
}
