/* check.h - the smallest test harness that says what failed and where.
 *
 * Each test program runs its cases, counts failed CHECKs, prints one
 * summary line and exits non-zero when any failed. */
#ifndef SEPAYFS_CHECK_H
#define SEPAYFS_CHECK_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int check_total, check_failed;

#define CHECK(cond)                                                                     \
	do {                                                                            \
		check_total++;                                                          \
		if (!(cond)) {                                                          \
			check_failed++;                                                 \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
		}                                                                       \
	} while (0)

#define CHECK_INT(actual, expected)                                                     \
	do {                                                                            \
		long long a_ = (long long)(actual), e_ = (long long)(expected);         \
		check_total++;                                                          \
		if (a_ != e_) {                                                         \
			check_failed++;                                                 \
			fprintf(stderr, "%s:%d: %s is %lld, expected %lld\n", __FILE__, \
				__LINE__, #actual, a_, e_);                             \
		}                                                                       \
	} while (0)

#define CHECK_STR(actual, expected)                                                     \
	do {                                                                            \
		const char *a_ = (actual), *e_ = (expected);                            \
		check_total++;                                                          \
		if (!a_ || strcmp(a_, e_) != 0) {                                       \
			check_failed++;                                                 \
			fprintf(stderr, "%s:%d: %s is\n%s\nexpected\n%s\n", __FILE__,   \
				__LINE__, #actual, a_ ? a_ : "(null)", e_);             \
		}                                                                       \
	} while (0)

static inline int check_report(const char *suite)
{
	printf("%s: %d checks, %d failed\n", suite, check_total, check_failed);
	return check_failed ? 1 : 0;
}

#endif
