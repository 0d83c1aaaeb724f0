/*
 * unit.h
 *	  A minimal unit-test framework for the pure-C core.
 *
 * UNIT_TEST(name) { ... } defines a test that registers itself (a
 * constructor), so a new test file needs no list to edit.  CHECK and
 * CHECK_NEAR record a failure and go on; main() (unit_main.c) runs every
 * test, or those whose name contains argv[1], and exits non-zero on failure.
 */
#ifndef RERANK_UNIT_H
#define RERANK_UNIT_H

#include <math.h>
#include <stdio.h>

typedef void (*UnitTestFn) (void);

extern void UnitRegister(const char *name, UnitTestFn fn);
extern void UnitFail(const char *file, int line, const char *fmt,...)
			__attribute__((format(printf, 3, 4)));

#define UNIT_TEST(name) \
	static void name(void); \
	__attribute__((constructor)) static void register_##name(void) \
	{ UnitRegister(#name, name); } \
	static void name(void)

#define CHECK(cond) \
	do { if (!(cond)) UnitFail(__FILE__, __LINE__, "%s", #cond); } while (0)

#define CHECK_NEAR(actual, expected, tol) \
	do { \
		double	unit_a_ = (actual), unit_e_ = (expected); \
		if (!(fabs(unit_a_ - unit_e_) <= (tol))) \
			UnitFail(__FILE__, __LINE__, "%s = %.9g, expected %.9g (tolerance %g)", \
					 #actual, unit_a_, unit_e_, (double) (tol)); \
	} while (0)

#endif							/* RERANK_UNIT_H */
