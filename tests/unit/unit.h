/* unit.h - a tiny TAP-producing unit-test harness.
 *
 *   static void test_x(void) { CHECK(a == b); CHECK_STR(s, "x"); }
 *   int main(void) { RUN(test_x); return unit_done(); }
 *
 * Each RUN prints "ok N - name" or "not ok N - name" with the failed
 * checks above it as "# file:line: ..." comments.
 */
#ifndef UNIT_H
#define UNIT_H

#include <stdio.h>
#include <string.h>

static int unit_failures_in_test, unit_n, unit_failed;

#define CHECK(cond)                                                          \
	do {                                                                 \
		if (!(cond)) {                                               \
			printf("# %s:%d: CHECK(%s) failed\n", __FILE__,      \
			       __LINE__, #cond);                             \
			unit_failures_in_test++;                             \
		}                                                            \
	} while (0)

#define CHECK_STR(got, want)                                                  \
	do {                                                                  \
		const char *g_ = (got), *w_ = (want);                         \
		if (!g_ || strcmp(g_, w_) != 0) {                             \
			printf("# %s:%d: got \"%s\", want \"%s\"\n", __FILE__, \
			       __LINE__, g_ ? g_ : "(null)", w_);             \
			unit_failures_in_test++;                              \
		}                                                             \
	} while (0)

#define CHECK_INT(got, want)                                                   \
	do {                                                                   \
		long long g_ = (long long)(got), w_ = (long long)(want);       \
		if (g_ != w_) {                                                \
			printf("# %s:%d: %s = %lld, want %lld\n", __FILE__,    \
			       __LINE__, #got, g_, w_);                        \
			unit_failures_in_test++;                               \
		}                                                              \
	} while (0)

#define RUN(fn)                                                               \
	do {                                                                  \
		unit_failures_in_test = 0;                                    \
		fn();                                                         \
		unit_n++;                                                     \
		if (unit_failures_in_test) {                                  \
			unit_failed++;                                        \
			printf("not ok %d - %s\n", unit_n, #fn);              \
		} else                                                        \
			printf("ok %d - %s\n", unit_n, #fn);                  \
		fflush(stdout);                                               \
	} while (0)

static inline int unit_done(void)
{
	printf("1..%d\n", unit_n);
	return unit_failed ? 1 : 0;
}

#endif
