/* page.c -- the status page (GET /): one read-only HTML document of the queue, progress, recent recordings, failures, disk headroom and the endpoint's counts. */
#include "api/page.h"

#include "base/buf.h"
#include "base/metrics.h"
#include "base/util.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- escaping and formatting ---------------------------------------------- */

void
page_escape(struct buf *b, const char *s)
{
	const char *run = s;

	if (s == NULL)
		return;
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		const char *ent;

		switch (c) {
		case '&': ent = "&amp;"; break;
		case '<': ent = "&lt;"; break;
		case '>': ent = "&gt;"; break;
		case '"': ent = "&quot;"; break;
		case '\'': ent = "&#39;"; break;
		default:
			/* controls (but tab and newline) are dropped */
			ent = (c < 0x20 && c != '\t' && c != '\n') || c == 0x7f ?
			    "" : NULL;
			break;
		}
		if (ent == NULL)
			continue;
		buf_add(b, run, (size_t)(s - run));
		buf_puts(b, ent);
		run = s + 1;
	}
	buf_add(b, run, (size_t)(s - run));
}

/* s quoted for a POSIX shell ('...'), then escaped for HTML. */
static void
put_shell_word(struct buf *b, const char *s)
{
	struct buf q;
	char *t;

	buf_init(&q, 64 * 1024);
	buf_puts(&q, "'");
	for (; *s != '\0'; s++) {
		if (*s == '\'')
			buf_puts(&q, "'\\''");
		else
			buf_add(&q, s, 1);
	}
	buf_puts(&q, "'");
	t = buf_take(&q);
	page_escape(b, t);
	free(t);
}

static const char *
jstr(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static int64_t
jint(const json_t *o, const char *k)
{
	return (int64_t)json_integer_value(json_object_get(o, k));
}

/* 1.5 GiB, 12.0 MiB, 512 B. */
static const char *
fmt_bytes(char buf[32], double n)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB",
		"PiB" };
	int u = 0;

	while (n >= 1024 && u < 5) {
		n /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, 32, "%.0f B", n);
	else
		snprintf(buf, 32, "%.1f %s", n, units[u]);
	return buf;
}

/* 3.2 s, 4 min 05 s, 2 h 03 min, 3 d 04 h. */
static const char *
fmt_duration(char buf[32], double s)
{
	long long t;

	if (!(s > 0))
		s = 0;
	if (s > 1e9)
		s = 1e9;
	t = (long long)(s + 0.5);
	if (s < 10)
		snprintf(buf, 32, "%.1f s", s);
	else if (t < 60)
		snprintf(buf, 32, "%lld s", t);
	else if (t < 3600)
		snprintf(buf, 32, "%lld min %02lld s", t / 60, t % 60);
	else if (t < 86400)
		snprintf(buf, 32, "%lld h %02lld min", t / 3600, t % 3600 / 60);
	else
		snprintf(buf, 32, "%lld d %02lld h", t / 86400, t % 86400 / 3600);
	return buf;
}

/* "2025-01-15T11:15:00.000Z" as Unix ms; -1 when it is not one. */
static int64_t
iso_ms(const char *s)
{
	struct tm tm;
	time_t t;

	memset(&tm, 0, sizeof(tm));
	if (s == NULL || strptime(s, "%Y-%m-%dT%H:%M:%S", &tm) == NULL ||
	    (t = timegm(&tm)) == (time_t)-1)
		return -1;
	return (int64_t)t * 1000;
}

/* "2025-01-15 11:15:00" of an ISO time (the page says UTC once). */
static void
put_time(struct buf *b, const char *iso)
{
	char t[20];

	if (iso == NULL || strlen(iso) < 19) {
		buf_puts(b, "&ndash;");
		return;
	}
	memcpy(t, iso, 19);
	t[10] = ' ';
	t[19] = '\0';
	page_escape(b, t);
}

/* ---- upload rates: what earlier renders saw ------------------------------- */

#define RATE_JOBS 64
/* a rate is measured over this much time at most */
#define RATE_WINDOW_MS (60 * 1000)

static pthread_mutex_t rate_mu = PTHREAD_MUTEX_INITIALIZER;
static struct rate_sample {
	char id[33];                 /* "" when free */
	int64_t t0_ms, bytes0;       /* the window's start */
	int64_t t1_ms, bytes1;       /* the last render */
	uint64_t generation;         /* the last render that saw it */
} rates[RATE_JOBS];
static uint64_t rate_generation;

/* Bytes per second of job id's upload, now at bytes (0: not known yet). */
static double
rate_of(const char *id, int64_t bytes, int64_t now, uint64_t gen)
{
	struct rate_sample *r = NULL, *spare = NULL;
	double rate = 0;
	size_t i;

	for (i = 0; i < RATE_JOBS && r == NULL; i++) {
		if (strcmp(rates[i].id, id) == 0)
			r = &rates[i];
		else if (spare == NULL && (rates[i].id[0] == '\0' ||
		    rates[i].generation + 2 < gen))
			spare = &rates[i];
	}
	if (r == NULL) {
		if (spare == NULL)
			return 0;
		r = spare;
		util_strlcpy(r->id, id, sizeof(r->id));
		r->t0_ms = r->t1_ms = now;
		r->bytes0 = r->bytes1 = bytes;
	}
	if (bytes < r->bytes1) {        /* started again */
		r->t0_ms = now;
		r->bytes0 = bytes;
	} else if (now - r->t0_ms > RATE_WINDOW_MS && r->t1_ms > r->t0_ms) {
		r->t0_ms = r->t1_ms;
		r->bytes0 = r->bytes1;
	}
	r->t1_ms = now;
	r->bytes1 = bytes;
	r->generation = gen;
	if (now - r->t0_ms >= 1000 && bytes > r->bytes0)
		rate = (double)(bytes - r->bytes0) * 1000.0 /
		    (double)(now - r->t0_ms);
	return rate;
}

/* ---- the sections ---------------------------------------------------------- */

static const char style[] =
	"body{font:14px/1.4 system-ui,-apple-system,'Segoe UI',Roboto,"
	"sans-serif;margin:0;color:#1d2430;background:#f4f6f9}"
	"header{background:#1d2430;color:#fff;padding:12px 24px}"
	"header h1{margin:0;font-size:20px}header p{margin:2px 0 0;color:#c5ccd6}"
	"main{padding:8px 24px 24px;max-width:1400px}"
	"section{background:#fff;border:1px solid #dde2e9;border-radius:6px;"
	"margin:16px 0;padding:12px 16px}"
	"h2{font-size:16px;margin:0 0 8px}"
	"table{border-collapse:collapse;width:100%}"
	"th,td{text-align:left;padding:5px 8px;border-bottom:1px solid #eef1f5;"
	"vertical-align:top}th{font-weight:600;color:#4a5668;font-size:12px;"
	"text-transform:uppercase;letter-spacing:.03em}"
	"td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}"
	"code{font:12px ui-monospace,SFMono-Regular,Menlo,monospace;"
	"background:#eef1f5;padding:1px 4px;border-radius:3px;"
	"word-break:break-all}code.id{white-space:nowrap;word-break:normal}"
	".bar{background:#e3e8ef;border-radius:4px;height:12px;min-width:160px;"
	"overflow:hidden}.bar span{display:block;height:100%;background:#2f7de1}"
	".bar.disk span{background:#4b9a5f}.bar.low span{background:#d9534f}"
	".sub{font-size:12px;color:#4a5668}.err{color:#b02a2a}"
	".st{display:inline-block;padding:0 6px;border-radius:10px;"
	"font-size:12px;background:#e3e8ef}"
	".st-done{background:#d4edda}.st-failed,.st-quarantined{background:#f8d7da}"
	".st-storing,.st-notifying{background:#d6e6fb}"
	".counts td{font-size:20px;font-weight:600}.none{color:#7a8596}"
	".warn{background:#fff3cd;border:1px solid #f0d78c;padding:6px 10px;"
	"border-radius:4px}";

static void
put_state(struct buf *b, const char *state)
{
	buf_puts(b, "<span class=\"st st-");
	page_escape(b, state);
	buf_puts(b, "\">");
	page_escape(b, state);
	buf_puts(b, "</span>");
}

/* The queue: how many jobs in each state. */
static void
section_queue(struct buf *b, const json_t *jobs, int64_t now_ms)
{
	size_t n = metrics_dim_size(METRICS_DIM_STATE), i, k;
	const json_t *j;
	int64_t oldest = -1, t;
	char d[32];

	buf_puts(b, "<section id=\"queue\"><h2>Queue</h2>");
	if (jobs == NULL) {
		buf_puts(b, "<p class=\"none\">The pipeline is not running in "
		    "this process.</p></section>");
		return;
	}
	buf_puts(b, "<table class=\"counts\"><tr>");
	for (i = 0; i < n; i++) {
		buf_puts(b, "<th class=\"num\">");
		page_escape(b, metrics_dim_value(METRICS_DIM_STATE, i));
		buf_puts(b, "</th>");
	}
	buf_puts(b, "<th class=\"num\">all</th></tr><tr>");
	for (i = 0; i < n; i++) {
		const char *st = metrics_dim_value(METRICS_DIM_STATE, i);
		size_t c = 0;
		json_array_foreach(jobs, k, j)
			c += jstr(j, "state") != NULL &&
			    strcmp(jstr(j, "state"), st) == 0;
		buf_printf(b, "<td class=\"num\" id=\"count-%s\">%zu</td>",
		    st, c);
	}
	buf_printf(b, "<td class=\"num\">%zu</td></tr></table>",
	    json_array_size(jobs));
	json_array_foreach(jobs, k, j) {
		const char *st = jstr(j, "state");
		if (st == NULL || strcmp(st, "done") == 0 ||
		    strcmp(st, "quarantined") == 0 || (strcmp(st, "failed") == 0
		    && jstr(j, "next_attempt_at") == NULL))
			continue;
		t = iso_ms(jstr(j, "created_at"));
		if (t >= 0 && (oldest < 0 || t < oldest))
			oldest = t;
	}
	if (oldest >= 0)
		buf_printf(b, "<p class=\"sub\">Oldest unfinished recording "
		    "admitted %s ago.</p>", fmt_duration(d,
		    (double)(now_ms - oldest) / 1000.0));
	buf_puts(b, "</section>");
}

/* Whether a job is under way: not final, not waiting for an operator. */
static bool
is_active(const json_t *j)
{
	const char *st = jstr(j, "state");

	if (st == NULL || strcmp(st, "done") == 0 ||
	    strcmp(st, "quarantined") == 0)
		return false;
	return strcmp(st, "failed") != 0 || jstr(j, "next_attempt_at") != NULL;
}

static void
put_job_cells(struct buf *b, const json_t *j)
{
	const char *id = jstr(j, "id");

	buf_puts(b, "<td><code class=\"id\" title=\"");
	page_escape(b, id);
	buf_puts(b, "\">");
	if (id != NULL && strlen(id) > 12)
		buf_add(b, id, 12);     /* hex digits: nothing to escape */
	else
		page_escape(b, id);
	buf_puts(b, "</code></td><td class=\"room\">");
	page_escape(b, jstr(j, "room_name") ? jstr(j, "room_name") : "-");
	buf_puts(b, "</td><td class=\"session\">");
	page_escape(b, jstr(j, "session_id") ? jstr(j, "session_id") : "-");
	buf_puts(b, "</td>");
}

/* A job's progress bar: bytes stored of the outputs made, the upload's
 * rate and what is left; before storing, the step it is at. */
static void
put_progress(struct buf *b, const json_t *j, const struct page_view *v,
    uint64_t gen)
{
	const json_t *p = json_object_get(j, "progress");
	const json_t *up = json_object_get(p, "uploading");
	const char *st = jstr(j, "state");
	int64_t done = jint(p, "bytes_stored"), total = jint(p, "bytes_total");
	double pct = 0, rate = 0;
	char a[32], c[32], r[32], e[32];

	if (total > 0) {
		pct = 100.0 * (double)done / (double)total;
		if (st != NULL && strcmp(st, "storing") == 0 && done < total) {
			pthread_mutex_lock(&rate_mu);
			rate = rate_of(jstr(j, "id"), done, v->mono_ms, gen);
			pthread_mutex_unlock(&rate_mu);
		}
	}
	buf_printf(b, "<td class=\"prog\"><div class=\"bar\" title=\"%.0f%%\">"
	    "<span style=\"width:%.1f%%\"></span></div><div class=\"sub\">",
	    pct, pct);
	if (total > 0) {
		buf_printf(b, "<span class=\"bytes\">%s of %s</span> (%.0f%%)",
		    fmt_bytes(a, (double)done), fmt_bytes(c, (double)total), pct);
		if (rate > 0)
			buf_printf(b, " &middot; %s/s &middot; ETA %s",
			    fmt_bytes(r, rate), fmt_duration(e,
			    (double)(total - done) / rate));
		else if (done < total && st != NULL &&
		    strcmp(st, "storing") == 0)
			buf_puts(b, " &middot; rate: measuring");
	} else {
		buf_puts(b, "outputs not made yet");
	}
	if (up != NULL) {
		buf_puts(b, "<br>");
		page_escape(b, jstr(up, "output"));
		buf_printf(b, ": part %lld of %lld uploaded",
		    (long long)jint(up, "parts_done"),
		    (long long)jint(up, "parts_total"));
	}
	buf_printf(b, "<br>%lld of %lld outputs stored</div></td>",
	    (long long)jint(p, "outputs_stored"),
	    (long long)jint(p, "outputs_total"));
}

static void
section_active(struct buf *b, const struct page_view *v, uint64_t gen)
{
	const json_t *j;
	size_t k, n = 0;

	buf_puts(b, "<section id=\"active\"><h2>Active jobs</h2>");
	json_array_foreach(v->jobs, k, j)
		n += is_active(j);
	if (n == 0) {
		buf_puts(b, "<p class=\"none\">Nothing in progress.</p>"
		    "</section>");
		return;
	}
	buf_puts(b, "<table><tr><th>Job</th><th>Room</th><th>Session</th>"
	    "<th>State</th><th>Progress</th><th class=\"num\">Attempts</th>"
	    "<th>Last error</th></tr>");
	json_array_foreach(v->jobs, k, j) {
		const char *st = jstr(j, "state"), *next;
		if (!is_active(j))
			continue;
		buf_puts(b, "<tr class=\"job\" id=\"job-");
		page_escape(b, jstr(j, "id"));
		buf_puts(b, "\">");
		put_job_cells(b, j);
		buf_puts(b, "<td>");
		put_state(b, st);
		if ((next = jstr(j, "next_attempt_at")) != NULL) {
			buf_puts(b, "<div class=\"sub\">");
			page_escape(b, jstr(j, "resume_step"));
			buf_puts(b, " again at ");
			put_time(b, next);
			buf_puts(b, "</div>");
		}
		buf_puts(b, "</td>");
		put_progress(b, j, v, gen);
		buf_printf(b, "<td class=\"num\">%lld</td><td class=\"err\">",
		    (long long)jint(j, "attempts"));
		page_escape(b, jstr(j, "last_error"));
		buf_puts(b, "</td></tr>");
	}
	buf_puts(b, "</table></section>");
}

static int
by_finished_desc(const void *x, const void *y)
{
	const char *a = jstr(*(const json_t *const *)x, "finished_at");
	const char *c = jstr(*(const json_t *const *)y, "finished_at");

	return strcmp(c ? c : "", a ? a : "");
}

/* A link to an object: only URLs of a scheme a browser or an operator
 * knows; anything else is shown as text. */
static void
put_object(struct buf *b, const char *name, const json_t *o)
{
	const char *url = jstr(o, "url");
	char s[32];
	bool link = url != NULL && (strncmp(url, "https://", 8) == 0 ||
	    strncmp(url, "http://", 7) == 0 || strncmp(url, "s3://", 5) == 0 ||
	    strncmp(url, "file://", 7) == 0);

	if (link) {
		buf_puts(b, "<a href=\"");
		page_escape(b, url);
		buf_puts(b, "\" title=\"");
		page_escape(b, url);
		buf_puts(b, "\">");
	}
	page_escape(b, name);
	if (link)
		buf_puts(b, "</a>");
	buf_printf(b, " <span class=\"sub\">%s</span><br>", fmt_bytes(s,
	    (double)jint(o, "size")));
}

static void
section_recent(struct buf *b, const json_t *jobs)
{
	const json_t **done = NULL, *j, *objs, *o;
	const char *name;
	size_t k, n = 0, i;
	char d[32], s[32];

	buf_puts(b, "<section id=\"recent\"><h2>Recent recordings</h2>");
	done = xcalloc(json_array_size(jobs) + 1, sizeof(*done));
	json_array_foreach(jobs, k, j)
		if (jstr(j, "state") != NULL && strcmp(jstr(j, "state"),
		    "done") == 0)
			done[n++] = j;
	if (n == 0) {
		buf_puts(b, "<p class=\"none\">No recording finished yet.</p>"
		    "</section>");
		free(done);
		return;
	}
	qsort(done, n, sizeof(*done), by_finished_desc);
	buf_puts(b, "<table><tr><th>Finished (UTC)</th><th>Job</th><th>Room"
	    "</th><th>Session</th><th class=\"num\">Duration</th>"
	    "<th class=\"num\">Stored</th><th>Objects</th></tr>");
	for (i = 0; i < n && i < PAGE_RECENT; i++) {
		int64_t total = 0;
		json_t *dur;

		j = done[i];
		buf_puts(b, "<tr class=\"recording\" id=\"rec-");
		page_escape(b, jstr(j, "id"));
		buf_puts(b, "\"><td>");
		put_time(b, jstr(j, "finished_at"));
		buf_puts(b, "</td>");
		put_job_cells(b, j);
		dur = json_object_get(j, "duration_seconds");
		buf_printf(b, "<td class=\"num\">%s</td>", json_is_number(dur) ?
		    fmt_duration(d, json_number_value(dur)) : "&ndash;");
		objs = json_object_get(j, "objects");
		json_object_foreach((json_t *)objs, name, o)
			total += jint(o, "size");
		buf_printf(b, "<td class=\"num\">%s</td><td>", fmt_bytes(s,
		    (double)total));
		json_object_foreach((json_t *)objs, name, o)
			put_object(b, name, o);
		if (json_object_get(j, "salvaged") == json_true())
			buf_puts(b, "<span class=\"sub\">salvaged (ffmpeg was "
			    "killed)</span>");
		buf_puts(b, "</td></tr>");
	}
	buf_puts(b, "</table>");
	if (n > PAGE_RECENT)
		buf_printf(b, "<p class=\"sub\">%zu more: <code>jibri-pipeline "
		    "status --all</code></p>", n - PAGE_RECENT);
	buf_puts(b, "</section>");
	free(done);
}

static void
section_failures(struct buf *b, const json_t *jobs)
{
	const json_t *j;
	size_t k, n = 0;

	buf_puts(b, "<section id=\"failures\"><h2>Failures and quarantined "
	    "recordings</h2>");
	json_array_foreach(jobs, k, j)
		n += !is_active(j) && jstr(j, "state") != NULL &&
		    strcmp(jstr(j, "state"), "done") != 0;
	if (n == 0) {
		buf_puts(b, "<p class=\"none\">None.</p></section>");
		return;
	}
	buf_puts(b, "<table><tr><th>Job</th><th>Room</th><th>Session</th>"
	    "<th>State</th><th>Why</th><th>What to do</th></tr>");
	json_array_foreach(jobs, k, j) {
		const char *st = jstr(j, "state"), *id = jstr(j, "id");
		const char *src = jstr(j, "source");
		const char *why = jstr(j, "error") ? jstr(j, "error") :
		    jstr(j, "last_error");
		bool q;

		if (is_active(j) || st == NULL || strcmp(st, "done") == 0)
			continue;
		q = strcmp(st, "quarantined") == 0;
		buf_puts(b, "<tr class=\"failure\" id=\"fail-");
		page_escape(b, id);
		buf_puts(b, "\">");
		put_job_cells(b, j);
		buf_puts(b, "<td>");
		put_state(b, st);
		if (!q && jstr(j, "resume_step") != NULL) {
			buf_puts(b, "<div class=\"sub\">at ");
			page_escape(b, jstr(j, "resume_step"));
			buf_puts(b, "</div>");
		}
		buf_puts(b, "</td><td class=\"err\">");
		page_escape(b, why);
		buf_puts(b, "</td><td>");
		if (q) {
			buf_puts(b, "The recording is kept where it is: <code>");
			page_escape(b, src);
			buf_puts(b, "</code>. Look at it (<code>jibri-pipeline "
			    "probe ");
			put_shell_word(b, src ? src : "");
			buf_puts(b, "</code>); to process it again: ");
		} else {
			buf_puts(b, "Fix the cause, then: ");
		}
		buf_puts(b, "<code class=\"retry\">jibri-pipeline retry ");
		page_escape(b, id);
		buf_puts(b, "</code></td></tr>");
	}
	buf_puts(b, "</table></section>");
}

static void
put_disk(struct buf *b, const char *what, const char *path, size_t dir)
{
	double avail = metrics_value(METRIC_DISK_FREE, dir, 0);
	double size = metrics_value(METRIC_DISK_SIZE, dir, 0);
	double pct = size > 0 ? 100.0 * avail / size : 0;
	char a[32], s[32];

	buf_printf(b, "<tr id=\"disk-%s\"><td>%s<br><code>",
	    metrics_dim_value(METRICS_DIM_DIR, dir), what);
	page_escape(b, path);
	buf_puts(b, "</code></td>");
	if (size <= 0) {
		buf_puts(b, "<td colspan=\"2\" class=\"err\">cannot be read"
		    "</td></tr>");
		return;
	}
	buf_printf(b, "<td><div class=\"bar disk%s\" title=\"%.0f%% used\">"
	    "<span style=\"width:%.1f%%\"></span></div></td><td class=\"num\">"
	    "%s free of %s (%.1f%%)</td></tr>", pct < 10 ? " low" : "",
	    100 - pct, 100 - pct, fmt_bytes(a, avail), fmt_bytes(s, size),
	    pct);
}

static void
section_disk(struct buf *b, const struct page_view *v)
{
	buf_puts(b, "<section id=\"disk\"><h2>Disk headroom</h2>");
	if (v->disk_full)
		buf_puts(b, "<p class=\"warn\">RECORDINGS_DIR is below "
		    "DISK_MIN_FREE and no finished recording is left to "
		    "delete: Jibri's next recording may fail. Free space on "
		    "it now.</p>");
	buf_puts(b, "<table><tr><th>Directory</th><th>Used</th>"
	    "<th class=\"num\">Free</th></tr>");
	put_disk(b, "RECORDINGS_DIR", v->recordings_dir,
	    METRICS_DIR_RECORDINGS);
	put_disk(b, "STATE_DIR", v->state_dir, METRICS_DIR_STATE);
	buf_puts(b, "</table></section>");
}

static void
section_endpoint(struct buf *b, const struct page_view *v)
{
	size_t t, r, c, nr = metrics_dim_size(METRICS_DIM_ROUTE), shown = 0;
	char s[32];

	buf_puts(b, "<section id=\"endpoint\"><h2>Endpoint</h2>");
	if (!v->events) {
		buf_puts(b, "<p class=\"none\">Events are off (DATABASE_URL is "
		    "not set).</p>");
	} else {
		buf_printf(b, "<p>Events waiting for the database: <b id=\""
		    "journal\">%.0f</b> (%s in the journal).</p>",
		    metrics_value(METRIC_JOURNAL_EVENTS, 0, 0), fmt_bytes(s,
		    metrics_value(METRIC_JOURNAL_BYTES, 0, 0)));
		buf_puts(b, "<table id=\"events\"><tr><th>Event</th>");
		for (r = 0; r < METRICS_RESULT_N; r++)
			buf_printf(b, "<th class=\"num\">%s</th>",
			    metrics_dim_value(METRICS_DIM_RESULT, r));
		buf_puts(b, "</tr>");
		for (t = 0; t < METRICS_EVENT_N; t++) {
			double sum = 0;
			for (r = 0; r < METRICS_RESULT_N; r++)
				sum += metrics_value(METRIC_EVENTS, t, r);
			if (sum == 0)
				continue;
			shown++;
			buf_printf(b, "<tr><td>%s</td>", metrics_dim_value(
			    METRICS_DIM_EVENT, t));
			for (r = 0; r < METRICS_RESULT_N; r++)
				buf_printf(b, "<td class=\"num\">%.0f</td>",
				    metrics_value(METRIC_EVENTS, t, r));
			buf_puts(b, "</tr>");
		}
		if (shown == 0)
			buf_printf(b, "<tr><td colspan=\"%d\" class=\"none\">"
			    "No event since the daemon started.</td></tr>",
			    METRICS_RESULT_N + 1);
		buf_puts(b, "</table>");
	}
	buf_puts(b, "<h2 style=\"margin-top:12px\">Requests since start</h2>"
	    "<table id=\"requests\"><tr><th>Route</th><th>Status codes</th>"
	    "<th class=\"num\">All</th></tr>");
	for (r = 0; r < nr; r++) {
		double sum = 0;
		for (c = 0; c < METRICS_CODE_N; c++)
			sum += metrics_value(METRIC_HTTP_REQUESTS, r, c);
		if (sum == 0)
			continue;
		buf_puts(b, "<tr><td><code>");
		page_escape(b, metrics_dim_value(METRICS_DIM_ROUTE, r));
		buf_puts(b, "</code></td><td>");
		for (c = 0; c < METRICS_CODE_N; c++) {
			double x = metrics_value(METRIC_HTTP_REQUESTS, r, c);
			if (x > 0)
				buf_printf(b, "%s&times;%.0f ",
				    metrics_dim_value(METRICS_DIM_CODE, c), x);
		}
		buf_printf(b, "</td><td class=\"num\">%.0f</td></tr>", sum);
	}
	buf_puts(b, "</table><p class=\"sub\">Every number here and more: "
	    "<a href=\"/metrics\">/metrics</a> (Prometheus).</p></section>");
}

/* ---- the page ------------------------------------------------------------- */

char *
page_render(const struct page_view *v)
{
	struct buf b;
	char now[UTIL_ISO_LEN], up[32];
	double started = metrics_value(METRIC_START_TIME, 0, 0);
	uint64_t gen;

	pthread_mutex_lock(&rate_mu);
	gen = ++rate_generation;
	pthread_mutex_unlock(&rate_mu);
	buf_init(&b, PAGE_HTML_MAX);
	util_iso8601_ms(v->now_ms, now);
	buf_printf(&b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta "
	    "charset=\"utf-8\"><meta http-equiv=\"refresh\" content=\"%d\">"
	    "<meta name=\"viewport\" content=\"width=device-width, "
	    "initial-scale=1\"><title>jibri-pipeline &middot; ",
	    PAGE_REFRESH);
	page_escape(&b, v->host);
	buf_printf(&b, "</title><style>%s</style></head><body><header><h1>"
	    "jibri-pipeline on ", style);
	page_escape(&b, v->host);
	buf_puts(&b, "</h1><p>version ");
	page_escape(&b, JP_VERSION);
	buf_puts(&b, " &middot; ");
	put_time(&b, now);
	buf_puts(&b, " UTC");
	if (started > 0)
		buf_printf(&b, " &middot; up %s", fmt_duration(up,
		    (double)v->now_ms / 1000.0 - started));
	buf_printf(&b, " &middot; reloads every %d s</p></header><main>",
	    PAGE_REFRESH);
	section_queue(&b, v->jobs, v->now_ms);
	if (v->jobs != NULL) {
		section_active(&b, v, gen);
		section_failures(&b, v->jobs);
		section_recent(&b, v->jobs);
	}
	section_disk(&b, v);
	section_endpoint(&b, v);
	if (b.over) {
		/* cut: end the document so that what is there shows */
		b.max += 256;
		buf_puts(&b, "<p class=\"warn\">The page was cut (too many "
		    "jobs): <code>jibri-pipeline status --json</code> has "
		    "them all.</p>");
	}
	buf_puts(&b, "</main></body></html>\n");
	return buf_take(&b);
}
