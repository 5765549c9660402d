/* unit.h -- a tiny unit-test harness: one "ok"/"not ok" line per test. */
#ifndef JP_UNIT_H
#define JP_UNIT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int unit_failed_checks;
static int unit_skipped;
static char unit_skip_reason[256];

/* A check that fails prints where and what, and marks the test failed. */
#define CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "  %s:%d: CHECK(%s) failed\n", __FILE__, \
		    __LINE__, #cond); \
		unit_failed_checks++; \
	} \
} while (0)

#define CHECK_STR(a, b) do { \
	const char *unit_a_ = (a), *unit_b_ = (b); \
	if (unit_a_ == NULL || unit_b_ == NULL || strcmp(unit_a_, unit_b_)) { \
		fprintf(stderr, "  %s:%d: `%s' != `%s'\n", __FILE__, __LINE__, \
		    unit_a_ ? unit_a_ : "(null)", unit_b_ ? unit_b_ : "(null)"); \
		unit_failed_checks++; \
	} \
} while (0)

#define CHECK_INT(a, b) do { \
	long long unit_a_ = (long long)(a), unit_b_ = (long long)(b); \
	if (unit_a_ != unit_b_) { \
		fprintf(stderr, "  %s:%d: %s == %lld, want %lld\n", __FILE__, \
		    __LINE__, #a, unit_a_, unit_b_); \
		unit_failed_checks++; \
	} \
} while (0)

/* Skip the rest of the test, saying why (printf-style): the runner
 * prints "skip NAME reason" and tests/run.py lists it. Only in the test
 * function itself (it returns from it); a check failed before still
 * fails the test. */
#define SKIP(...) do { \
	snprintf(unit_skip_reason, sizeof(unit_skip_reason), __VA_ARGS__); \
	unit_skipped = 1; \
	return; \
} while (0)

struct unit_test {
	const char *name;
	void (*fn)(void);
};

/* Run every test in the table; print TAP-like lines ("ok NAME", "not ok
 * NAME", "skip NAME reason") and a summary; exit status 1 when any
 * failed (skips alone: 0). */
static inline int
unit_run(const char *suite, const struct unit_test *tests, size_t n)
{
	size_t i, passed = 0, failed = 0, skipped = 0;
	char *nl;

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (i = 0; i < n; i++) {
		int before = unit_failed_checks;
		unit_skipped = 0;
		unit_skip_reason[0] = '\0';
		tests[i].fn();
		if (unit_failed_checks != before) {
			printf("not ok %s.%s\n", suite, tests[i].name);
			failed++;
		} else if (unit_skipped) {
			/* one line: the reason ends at its first newline */
			if ((nl = strchr(unit_skip_reason, '\n')) != NULL)
				*nl = '\0';
			printf("skip %s.%s %s\n", suite, tests[i].name,
			    unit_skip_reason[0] != '\0' ? unit_skip_reason :
			    "(no reason given)");
			skipped++;
		} else {
			printf("ok %s.%s\n", suite, tests[i].name);
			passed++;
		}
	}
	printf("# %s: %zu passed, %zu failed, %zu skipped\n", suite, passed,
	    failed, skipped);
	return failed ? 1 : 0;
}

#define UNIT_MAIN(suite, ...) \
	int main(void) { \
		static const struct unit_test unit_tests_[] = { __VA_ARGS__ }; \
		return unit_run(suite, unit_tests_, \
		    sizeof(unit_tests_) / sizeof(unit_tests_[0])); \
	}
#define T(fn) { #fn, fn }

#endif
