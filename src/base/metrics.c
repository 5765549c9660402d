/* metrics.c -- the process's Prometheus metrics: one table of every metric, lock-free counting, gauges filled at scrape time, text format 0.0.4. */
#include "base/metrics.h"

#include "base/buf.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

enum metrics_type { COUNTER, GAUGE, HISTOGRAM };

/* ---- the dimensions ------------------------------------------------------ */

#define VALUE_STRING_(dim, name, value) value,
static const char *const version_values[] = {
	METRICS_VERSION_VALUES(VALUE_STRING_) };
static const char *const finished_values[] = {
	METRICS_FINISHED_VALUES(VALUE_STRING_) };
static const char *const webhook_values[] = {
	METRICS_WEBHOOK_VALUES(VALUE_STRING_) };
static const char *const salvage_values[] = {
	METRICS_SALVAGE_VALUES(VALUE_STRING_) };
static const char *const dir_values[] = { METRICS_DIR_VALUES(VALUE_STRING_) };
static const char *const code_values[] = {
	METRICS_CODE_VALUES(VALUE_STRING_) };
static const char *const event_values[] = {
	METRICS_EVENT_VALUES(VALUE_STRING_) };
static const char *const result_values[] = {
	METRICS_RESULT_VALUES(VALUE_STRING_) };

struct dim {
	const char *label;
	size_t cap;
	/* fixed ones from the start; the others once metrics_dim_set ran
	 * (read by any thread after: set before the endpoint starts) */
	const char *const *values;
	size_t n;
};

#define DIM_ROW_(id, label, cap) [METRICS_DIM_##id] = { label, cap, NULL, 0 },
static struct dim dims[METRICS_NDIMS] = { METRICS_DIMS(DIM_ROW_) };

#define FIXED_(d, table) { d, table, sizeof(table) / sizeof(table[0]) }
static const struct {
	enum metrics_dim d;
	const char *const *values;
	size_t n;
} fixed[] = {
	FIXED_(METRICS_DIM_VERSION, version_values),
	FIXED_(METRICS_DIM_FINISHED, finished_values),
	FIXED_(METRICS_DIM_WEBHOOK, webhook_values),
	FIXED_(METRICS_DIM_SALVAGE, salvage_values),
	FIXED_(METRICS_DIM_DIR, dir_values),
	FIXED_(METRICS_DIM_CODE, code_values),
	FIXED_(METRICS_DIM_EVENT, event_values),
	FIXED_(METRICS_DIM_RESULT, result_values),
};

static pthread_once_t dims_once = PTHREAD_ONCE_INIT;

static void
dims_init(void)
{
	static const char *const none[] = { "" };
	size_t i;

	dims[METRICS_DIM_NONE].values = none;
	dims[METRICS_DIM_NONE].n = 1;
	for (i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		dims[fixed[i].d].values = fixed[i].values;
		dims[fixed[i].d].n = fixed[i].n;
	}
}

static const struct dim *
dim_get(enum metrics_dim d)
{
	pthread_once(&dims_once, dims_init);
	return (unsigned)d < METRICS_NDIMS ? &dims[d] : &dims[0];
}

void
metrics_dim_set(enum metrics_dim d, const char *const *values, size_t n)
{
	size_t i;

	pthread_once(&dims_once, dims_init);
	if ((unsigned)d >= METRICS_NDIMS || d == METRICS_DIM_NONE)
		return;
	for (i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		if (fixed[i].d == d)
			return;
	dims[d].values = values;
	dims[d].n = n < dims[d].cap ? n : dims[d].cap;
}

size_t
metrics_dim_size(enum metrics_dim d)
{
	return dim_get(d)->n;
}

const char *
metrics_dim_value(enum metrics_dim d, size_t i)
{
	const struct dim *x = dim_get(d);

	return i < x->n ? x->values[i] : NULL;
}

int
metrics_dim_find(enum metrics_dim d, const char *value)
{
	const struct dim *x = dim_get(d);
	size_t i;

	for (i = 0; value != NULL && i < x->n; i++)
		if (x->values[i] != NULL && strcmp(x->values[i], value) == 0)
			return (int)i;
	return -1;
}

/* ---- the metrics and their storage --------------------------------------- */

#define BUCKET_(le) le,
static const double buckets[] = { METRICS_BUCKETS(BUCKET_) };
#define NBUCKETS (sizeof(buckets) / sizeof(buckets[0]))

#define CAP_(id, label, cap) CAP_##id = (cap),
enum { METRICS_DIMS(CAP_) };

/* Slots of one series: a counter's count or a gauge's value (the bits of
 * a double); a histogram's count per finite bucket (not cumulative),
 * then its count and its sum in microseconds (whole, so that adding is
 * one atomic step). */
#define BUCKET_COUNT_(le) + 1
enum {
	SLOTS_COUNTER = 1,
	SLOTS_GAUGE = 1,
	SLOTS_HISTOGRAM = 0 METRICS_BUCKETS(BUCKET_COUNT_) + 2,
};

/* Where each metric's slots start in one array: OFF_<ID>. */
#define OFF_(id, name, type, d1, d2, help) OFF_##id, \
	OFF_LAST_##id = OFF_##id + CAP_##d1 * CAP_##d2 * SLOTS_##type - 1,
enum { METRICS(OFF_) NSLOTS };

static atomic_uint_least64_t slots[NSLOTS];

struct metric {
	const char *name;
	enum metrics_type type;
	enum metrics_dim d1, d2;
	const char *help;
	size_t off;
};

#define ROW_(id, name, type, d1, d2, help) [METRIC_##id] = { name, type, \
	METRICS_DIM_##d1, METRICS_DIM_##d2, help, OFF_##id },
static const struct metric table[METRICS_N] = { METRICS(ROW_) };

/* The first slot of series (a, b) of id, or NULL when out of range or
 * of another type than want. */
static atomic_uint_least64_t *
series(enum metrics_id id, size_t a, size_t b, enum metrics_type want)
{
	const struct metric *m;
	size_t c2, per;

	if ((unsigned)id >= METRICS_N)
		return NULL;
	m = &table[id];
	if (m->type != want || a >= dim_get(m->d1)->cap ||
	    b >= dim_get(m->d2)->cap)
		return NULL;
	c2 = dim_get(m->d2)->cap;
	per = m->type == HISTOGRAM ? SLOTS_HISTOGRAM : 1;
	return &slots[m->off + (a * c2 + b) * per];
}

void
metrics_inc2(enum metrics_id id, size_t a, size_t b, uint64_t n)
{
	atomic_uint_least64_t *s = series(id, a, b, COUNTER);

	if (s != NULL)
		atomic_fetch_add_explicit(s, n, memory_order_relaxed);
}

void
metrics_inc(enum metrics_id id, size_t label, uint64_t n)
{
	metrics_inc2(id, label, 0, n);
}

void
metrics_observe(enum metrics_id id, size_t label, double seconds)
{
	atomic_uint_least64_t *s = series(id, label, 0, HISTOGRAM);
	size_t i;

	if (s == NULL)
		return;
	if (!(seconds > 0))             /* negative, or NaN */
		seconds = 0;
	for (i = 0; i < NBUCKETS && seconds > buckets[i]; i++)
		;
	if (i < NBUCKETS)
		atomic_fetch_add_explicit(&s[i], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&s[NBUCKETS], 1, memory_order_relaxed);
	/* a year at most: the sum cannot wrap */
	if (seconds > 365.0 * 86400)
		seconds = 365.0 * 86400;
	atomic_fetch_add_explicit(&s[NBUCKETS + 1],
	    (uint64_t)(seconds * 1e6 + 0.5), memory_order_relaxed);
}

static uint64_t
double_bits(double v)
{
	uint64_t u;

	memcpy(&u, &v, sizeof(u));
	return u;
}

static double
bits_double(uint64_t u)
{
	double v;

	memcpy(&v, &u, sizeof(v));
	return v;
}

void
metrics_set(enum metrics_id id, size_t label, double value)
{
	atomic_uint_least64_t *s = series(id, label, 0, GAUGE);

	if (s != NULL)
		atomic_store_explicit(s, double_bits(value),
		    memory_order_relaxed);
}

double
metrics_value(enum metrics_id id, size_t a, size_t b)
{
	atomic_uint_least64_t *s;

	if ((s = series(id, a, b, COUNTER)) != NULL)
		return (double)atomic_load_explicit(s, memory_order_relaxed);
	if ((s = series(id, a, b, GAUGE)) != NULL)
		return bits_double(atomic_load_explicit(s,
		    memory_order_relaxed));
	if ((s = series(id, a, b, HISTOGRAM)) != NULL)
		return (double)atomic_load_explicit(&s[NBUCKETS],
		    memory_order_relaxed);
	return 0;
}

void
metrics_reset(void)
{
	size_t i;

	for (i = 0; i < NSLOTS; i++)
		atomic_store(&slots[i], 0);
}

/* ---- collectors ------------------------------------------------------------ */

#define COLLECTORS_MAX 8

static pthread_mutex_t collectors_mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
	void (*fn)(void *ctx);
	void *ctx;
} collectors[COLLECTORS_MAX];

int
metrics_collector_add(void (*fn)(void *ctx), void *ctx)
{
	int i, r = -1;

	pthread_mutex_lock(&collectors_mu);
	for (i = 0; i < COLLECTORS_MAX && r < 0; i++) {
		if (collectors[i].fn == NULL) {
			collectors[i].fn = fn;
			collectors[i].ctx = ctx;
			r = 0;
		}
	}
	pthread_mutex_unlock(&collectors_mu);
	return r;
}

void
metrics_collector_remove(void (*fn)(void *ctx), void *ctx)
{
	int i;

	pthread_mutex_lock(&collectors_mu);
	for (i = 0; i < COLLECTORS_MAX; i++)
		if (collectors[i].fn == fn && collectors[i].ctx == ctx)
			collectors[i].fn = NULL;
	pthread_mutex_unlock(&collectors_mu);
}

/* ---- the text format ------------------------------------------------------ */

/* Text as the format wants it: backslash and newline escaped, and in
 * a label value (quote) the double quote too; HELP text leaves it. */
static void
put_escaped(struct buf *b, const char *s, bool quote)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\')
			buf_puts(b, "\\\\");
		else if (*s == '"' && quote)
			buf_puts(b, "\\\"");
		else if (*s == '\n')
			buf_puts(b, "\\n");
		else
			buf_add(b, s, 1);
	}
}

/* {a="x",b="y",le="0.5"}: the labels of a series (nothing when none). */
static void
put_labels(struct buf *b, const struct metric *m, size_t a, size_t c,
    const char *le)
{
	const struct dim *d[2] = { dim_get(m->d1), dim_get(m->d2) };
	size_t idx[2] = { a, c };
	bool first = true;
	int i;

	for (i = 0; i < 2; i++) {
		if (d[i]->label == NULL)
			continue;
		buf_puts(b, first ? "{" : ",");
		buf_printf(b, "%s=\"", d[i]->label);
		put_escaped(b, d[i]->values[idx[i]] != NULL ?
		    d[i]->values[idx[i]] : "", true);
		buf_puts(b, "\"");
		first = false;
	}
	if (le != NULL) {
		buf_printf(b, "%sle=\"%s\"", first ? "{" : ",", le);
		first = false;
	}
	if (!first)
		buf_puts(b, "}");
}

/* A gauge's value: whole numbers as such, the rest as %.15g. */
static void
put_number(struct buf *b, double v)
{
	if (v != v)
		buf_puts(b, "NaN");
	else if (v > 9e15 || v < -9e15 || (double)(int64_t)v != v)
		buf_printf(b, "%.15g", v);
	else
		buf_printf(b, "%" PRId64, (int64_t)v);
}

static void
put_series(struct buf *b, const struct metric *m, size_t a, size_t c,
    atomic_uint_least64_t *s)
{
	char le[32];
	uint64_t cum = 0;
	size_t i;

	switch (m->type) {
	case COUNTER:
		buf_printf(b, METRICS_PREFIX "%s", m->name);
		put_labels(b, m, a, c, NULL);
		buf_printf(b, " %" PRIu64 "\n", (uint64_t)atomic_load(s));
		break;
	case GAUGE:
		buf_printf(b, METRICS_PREFIX "%s", m->name);
		put_labels(b, m, a, c, NULL);
		buf_puts(b, " ");
		put_number(b, bits_double(atomic_load(s)));
		buf_puts(b, "\n");
		break;
	case HISTOGRAM:
		for (i = 0; i <= NBUCKETS; i++) {
			if (i < NBUCKETS) {
				cum += atomic_load(&s[i]);
				snprintf(le, sizeof(le), "%g", buckets[i]);
			} else {
				/* +Inf: every observation, read once */
				cum = atomic_load(&s[NBUCKETS]) > cum ?
				    atomic_load(&s[NBUCKETS]) : cum;
				snprintf(le, sizeof(le), "+Inf");
			}
			buf_printf(b, METRICS_PREFIX "%s_bucket", m->name);
			put_labels(b, m, a, c, le);
			buf_printf(b, " %" PRIu64 "\n", cum);
		}
		buf_printf(b, METRICS_PREFIX "%s_sum", m->name);
		put_labels(b, m, a, c, NULL);
		buf_puts(b, " ");
		put_number(b, (double)atomic_load(&s[NBUCKETS + 1]) / 1e6);
		buf_puts(b, "\n");
		buf_printf(b, METRICS_PREFIX "%s_count", m->name);
		put_labels(b, m, a, c, NULL);
		buf_printf(b, " %" PRIu64 "\n", cum);
		break;
	}
}

/* Whether any slot of a series is not zero. */
static bool
counted(const struct metric *m, atomic_uint_least64_t *s)
{
	size_t i, n = m->type == HISTOGRAM ? SLOTS_HISTOGRAM : 1;

	for (i = 0; i < n; i++)
		if (atomic_load(&s[i]) != 0)
			return true;
	return false;
}

static const char *const type_names[] = {
	[COUNTER] = "counter", [GAUGE] = "gauge", [HISTOGRAM] = "histogram",
};

char *
metrics_render(void)
{
	struct buf b;
	size_t i, a, c;
	int k;

	pthread_mutex_lock(&collectors_mu);
	for (k = 0; k < COLLECTORS_MAX; k++)
		if (collectors[k].fn != NULL)
			collectors[k].fn(collectors[k].ctx);
	pthread_mutex_unlock(&collectors_mu);

	buf_init(&b, METRICS_TEXT_MAX);
	for (i = 0; i < METRICS_N; i++) {
		const struct metric *m = &table[i];
		size_t n1 = dim_get(m->d1)->n, n2 = dim_get(m->d2)->n;
		bool sparse = m->d2 != METRICS_DIM_NONE;

		buf_printf(&b, "# HELP " METRICS_PREFIX "%s ", m->name);
		put_escaped(&b, m->help, false);
		buf_printf(&b, "\n# TYPE " METRICS_PREFIX "%s %s\n", m->name,
		    type_names[m->type]);
		for (a = 0; a < n1; a++) {
			for (c = 0; c < n2; c++) {
				atomic_uint_least64_t *s = series((enum
				    metrics_id)i, a, c, m->type);
				if (s == NULL || (sparse && !counted(m, s)))
					continue;
				put_series(&b, m, a, c, s);
			}
		}
	}
	return buf_take(&b);
}
