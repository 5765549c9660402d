/* test_metrics.c -- the metrics registry: counting from many threads, histograms, dimensions, collectors, and the text format 0.0.4. */
#include "unit.h"
#include "base/buf.h"
#include "base/metrics.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

/* The line of text that starts with prefix followed by a space, or NULL. */
static const char *
line_of(const char *text, const char *prefix)
{
	size_t n = strlen(prefix);
	const char *p = text;

	while (p != NULL && *p != '\0') {
		if (strncmp(p, prefix, n) == 0 && p[n] == ' ')
			return p;
		p = strchr(p, '\n');
		if (p != NULL)
			p++;
	}
	return NULL;
}

/* The value on the line of series prefix, or -1 when absent. */
static double
value_of(const char *text, const char *prefix)
{
	const char *l = line_of(text, prefix);

	return l != NULL ? strtod(l + strlen(prefix) + 1, NULL) : -1;
}

static const char *const states[] = { "queued", "storing", "done" };
static const char *const kinds[] = { "video", "audio", "manifest" };
static const char *const routes[] = { "/v1/jitsi/health", "/metrics",
	"we\"ird\\route\nname", "unmatched" };

static void
setup_dims(void)
{
	metrics_reset();
	metrics_dim_set(METRICS_DIM_STATE, states, 3);
	metrics_dim_set(METRICS_DIM_KIND, kinds, 3);
	metrics_dim_set(METRICS_DIM_ROUTE, routes, 4);
}

static void
counters(void)
{
	setup_dims();
	metrics_inc(METRIC_FINISHED, METRICS_FINISHED_COMPLETED, 1);
	metrics_inc(METRIC_FINISHED, METRICS_FINISHED_COMPLETED, 2);
	metrics_inc(METRIC_FINISHED, METRICS_FINISHED_QUARANTINED, 1);
	metrics_count(METRIC_DISK_DELETIONS);
	metrics_inc(METRIC_STORED_BYTES, 0, 123456789012ULL);
	CHECK_INT(metrics_value(METRIC_FINISHED, METRICS_FINISHED_COMPLETED, 0),
	    3);
	CHECK_INT(metrics_value(METRIC_FINISHED, METRICS_FINISHED_FAILED, 0), 0);
	CHECK_INT(metrics_value(METRIC_DISK_DELETIONS, 0, 0), 1);
	CHECK_INT(metrics_value(METRIC_STORED_BYTES, 0, 0), 123456789012LL);
	/* out of range, or the wrong kind of call: nothing happens */
	metrics_inc(METRIC_FINISHED, 99, 1);
	metrics_inc((enum metrics_id)METRICS_N, 0, 1);
	metrics_inc(METRIC_JOBS, 0, 5);
	metrics_observe(METRIC_FINISHED, 0, 1.0);
	metrics_set(METRIC_FINISHED, 0, 7);
	CHECK_INT(metrics_value(METRIC_JOBS, 0, 0), 0);
	CHECK_INT(metrics_value(METRIC_FINISHED, METRICS_FINISHED_COMPLETED, 0),
	    3);
	metrics_reset();
	CHECK_INT(metrics_value(METRIC_FINISHED, METRICS_FINISHED_COMPLETED, 0),
	    0);
}

#define NTHREADS 4
#define PER_THREAD 200000

static void *
hammer(void *arg)
{
	int i;

	(void)arg;
	for (i = 0; i < PER_THREAD; i++) {
		metrics_inc2(METRIC_HTTP_REQUESTS, 1, METRICS_CODE_200, 1);
		if (i % 1000 == 0)
			metrics_observe(METRIC_WEBHOOK_SECONDS, 0, 0.3);
	}
	return NULL;
}

/* Counting from several threads loses nothing (atomics, no lock). */
static void
concurrent_counting(void)
{
	pthread_t t[NTHREADS];
	int i;

	setup_dims();
	for (i = 0; i < NTHREADS; i++)
		pthread_create(&t[i], NULL, hammer, NULL);
	for (i = 0; i < NTHREADS; i++)
		pthread_join(t[i], NULL);
	CHECK_INT(metrics_value(METRIC_HTTP_REQUESTS, 1, METRICS_CODE_200),
	    NTHREADS * PER_THREAD);
	CHECK_INT(metrics_value(METRIC_WEBHOOK_SECONDS, 0, 0),
	    NTHREADS * (PER_THREAD / 1000));
}

static void
histograms(void)
{
	char *t;

	setup_dims();
	metrics_observe(METRIC_STORE_SECONDS, 0, 0.05);   /* video */
	metrics_observe(METRIC_STORE_SECONDS, 0, 0.1);    /* le is inclusive */
	metrics_observe(METRIC_STORE_SECONDS, 0, 3);
	metrics_observe(METRIC_STORE_SECONDS, 0, 5000);   /* only +Inf */
	metrics_observe(METRIC_STORE_SECONDS, 0, -1);     /* as 0 */
	metrics_observe(METRIC_STORE_SECONDS, 2, 0.2);    /* manifest */
	t = metrics_render();
	CHECK(value_of(t, "jibri_pipeline_store_duration_seconds_bucket"
	    "{kind=\"video\",le=\"0.1\"}") == 3);
	CHECK(value_of(t, "jibri_pipeline_store_duration_seconds_bucket"
	    "{kind=\"video\",le=\"2.5\"}") == 3);
	CHECK(value_of(t, "jibri_pipeline_store_duration_seconds_bucket"
	    "{kind=\"video\",le=\"5\"}") == 4);
	CHECK(value_of(t, "jibri_pipeline_store_duration_seconds_bucket"
	    "{kind=\"video\",le=\"600\"}") == 4);
	CHECK(value_of(t, "jibri_pipeline_store_duration_seconds_bucket"
	    "{kind=\"video\",le=\"+Inf\"}") == 5);
	CHECK(value_of(t, "jibri_pipeline_store_duration_seconds_count"
	    "{kind=\"video\"}") == 5);
	CHECK(value_of(t, "jibri_pipeline_store_duration_seconds_sum"
	    "{kind=\"video\"}") == 5003.15);
	CHECK(value_of(t, "jibri_pipeline_store_duration_seconds_count"
	    "{kind=\"manifest\"}") == 1);
	/* one dimension: every value shown, zeros too */
	CHECK(value_of(t, "jibri_pipeline_store_duration_seconds_count"
	    "{kind=\"audio\"}") == 0);
	CHECK(value_of(t, "jibri_pipeline_webhook_duration_seconds_bucket"
	    "{le=\"0.1\"}") == 0);
	CHECK(strstr(t, "# TYPE jibri_pipeline_store_duration_seconds "
	    "histogram\n") != NULL);
	free(t);
}

/* Every metric has HELP and TYPE, its name is prefixed, counters end in
 * _total; label values are escaped; two-dimension series only once
 * counted. */
static void
text_format(void)
{
	char *t, *p, *line, *save = NULL, want[256];
	int helps = 0, types = 0;

	setup_dims();
	metrics_set(METRIC_BUILD_INFO, 0, 1);
	metrics_set(METRIC_DISK_FREE, METRICS_DIR_STATE, 1234567890123.0);
	metrics_set(METRIC_OLDEST_PENDING, 0, 2.5);
	metrics_set(METRIC_JOBS, 1, 2);
	metrics_inc2(METRIC_HTTP_REQUESTS, 2, METRICS_CODE_404, 3);
	metrics_inc2(METRIC_EVENTS, METRICS_EVENT_OCCUPANT_JOINED,
	    METRICS_RESULT_STORED, 2);
	t = metrics_render();
	/* the version metrics.c was built with (an incremental build may
	 * have compiled this file under another) */
	snprintf(want, sizeof(want), "jibri_pipeline_build_info{version=\"%s\"}",
	    metrics_dim_value(METRICS_DIM_VERSION, 0));
	CHECK(value_of(t, want) == 1);
	CHECK(strstr(metrics_dim_value(METRICS_DIM_VERSION, 0), "\"") == NULL);
	CHECK(strstr(t, "jibri_pipeline_disk_free_bytes{dir=\"state\"} "
	    "1234567890123\n") != NULL);
	CHECK(strstr(t, "jibri_pipeline_oldest_pending_seconds 2.5\n") != NULL);
	CHECK(value_of(t, "jibri_pipeline_jobs{state=\"storing\"}") == 2);
	CHECK(value_of(t, "jibri_pipeline_jobs{state=\"queued\"}") == 0);
	CHECK(line_of(t, "jibri_pipeline_jobs{state=\"\"}") == NULL);
	CHECK(value_of(t, "jibri_pipeline_http_requests_total{route=\"we\\\""
	    "ird\\\\route\\nname\",code=\"404\"}") == 3);
	CHECK(line_of(t, "jibri_pipeline_http_requests_total{route=\"/metrics"
	    "\",code=\"200\"}") == NULL);
	CHECK(value_of(t, "jibri_pipeline_events_total{type=\"muc-occupant-"
	    "joined\",result=\"stored\"}") == 2);
	CHECK(line_of(t, "jibri_pipeline_events_total{type=\"muc-occupant-"
	    "left\",result=\"stored\"}") == NULL);
	CHECK(value_of(t, "jibri_pipeline_recordings_finished_total{outcome="
	    "\"failed\"}") == 0);
	CHECK(strstr(t, "# TYPE jibri_pipeline_recordings_finished_total "
	    "counter\n") != NULL);
	CHECK(strstr(t, "# TYPE jibri_pipeline_jobs gauge\n") != NULL);
	for (p = t; (line = strtok_r(p, "\n", &save)) != NULL; p = NULL) {
		if (strncmp(line, "# HELP ", 7) == 0) {
			helps++;
			CHECK(strncmp(line + 7, METRICS_PREFIX,
			    strlen(METRICS_PREFIX)) == 0);
		} else if (strncmp(line, "# TYPE ", 7) == 0) {
			char *name = line + 7, *type = strchr(name, ' ');
			types++;
			CHECK(type != NULL);
			if (type == NULL)
				continue;
			*type++ = '\0';
			CHECK(strncmp(name, METRICS_PREFIX,
			    strlen(METRICS_PREFIX)) == 0);
			if (strcmp(type, "counter") == 0)
				CHECK(strlen(name) > 6 && strcmp(name +
				    strlen(name) - 6, "_total") == 0);
			else
				CHECK(strstr(name, "_total") == NULL);
		} else {
			CHECK(strncmp(line, METRICS_PREFIX,
			    strlen(METRICS_PREFIX)) == 0);
		}
	}
	CHECK_INT(helps, METRICS_N);
	CHECK_INT(types, METRICS_N);
	free(t);
}

static int collected;

static void
collect(void *ctx)
{
	collected++;
	metrics_set(METRIC_SPOOL_DEPTH, 0, *(double *)ctx);
}

static void
collectors(void)
{
	double depth = 7;
	char *t;

	setup_dims();
	collected = 0;
	CHECK_INT(metrics_collector_add(collect, &depth), 0);
	t = metrics_render();
	CHECK_INT(collected, 1);
	CHECK(value_of(t, "jibri_pipeline_spool_depth") == 7);
	free(t);
	metrics_collector_remove(collect, &depth);
	depth = 9;
	t = metrics_render();
	CHECK_INT(collected, 1);
	CHECK(value_of(t, "jibri_pipeline_spool_depth") == 7);
	free(t);
}

static void
dimensions(void)
{
	setup_dims();
	CHECK_INT(metrics_dim_size(METRICS_DIM_CODE), METRICS_CODE_N);
	CHECK_INT(metrics_dim_find(METRICS_DIM_CODE, "404"), METRICS_CODE_404);
	CHECK_INT(metrics_dim_find(METRICS_DIM_CODE, "418"), -1);
	CHECK_INT(metrics_dim_find(METRICS_DIM_ROUTE, "/metrics"), 1);
	CHECK_STR(metrics_dim_value(METRICS_DIM_KIND, 2), "manifest");
	CHECK(metrics_dim_value(METRICS_DIM_KIND, 3) == NULL);
	/* a fixed dimension cannot be replaced */
	metrics_dim_set(METRICS_DIM_CODE, states, 3);
	CHECK_INT(metrics_dim_size(METRICS_DIM_CODE), METRICS_CODE_N);
}

static void
buffer_cap(void)
{
	struct buf b;
	char *s;

	buf_init(&b, 10);
	buf_puts(&b, "12345");
	buf_printf(&b, "%d", 6789);
	CHECK(!b.over);
	buf_puts(&b, "ab");             /* would pass 10: dropped whole */
	CHECK(b.over);
	buf_puts(&b, "0");
	s = buf_take(&b);
	CHECK_STR(s, "1234567890");
	free(s);
	s = buf_take(&b);
	CHECK_STR(s, "");
	free(s);
	buf_free(&b);
}

UNIT_MAIN("metrics", T(counters), T(concurrent_counting), T(histograms),
    T(text_format), T(collectors), T(dimensions), T(buffer_cap))
