/* unit.h -- a tiny unit-test harness: one "ok"/"not ok" line per test. */
#ifndef JP_UNIT_H
#define JP_UNIT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int unit_failed_checks;

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

struct unit_test {
	const char *name;
	void (*fn)(void);
};

/* Run every test in the table; print TAP-like lines and a summary; exit
 * status 1 when any failed. */
static inline int
unit_run(const char *suite, const struct unit_test *tests, size_t n)
{
	size_t i, passed = 0, failed = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (i = 0; i < n; i++) {
		int before = unit_failed_checks;
		tests[i].fn();
		if (unit_failed_checks == before) {
			printf("ok %s.%s\n", suite, tests[i].name);
			passed++;
		} else {
			printf("not ok %s.%s\n", suite, tests[i].name);
			failed++;
		}
	}
	printf("# %s: %zu passed, %zu failed\n", suite, passed, failed);
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
