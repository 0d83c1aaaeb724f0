/*
 * unit_main.c
 *	  Runs the registered unit tests of the core.
 */
#include "unit.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TESTS 512

static struct
{
	const char *name;
	UnitTestFn	fn;
}			tests[MAX_TESTS];
static int	ntests;
static int	current_failures;

/* Called by the constructors that UNIT_TEST defines. */
void
UnitRegister(const char *name, UnitTestFn fn)
{
	if (ntests == MAX_TESTS)
	{
		fprintf(stderr, "too many unit tests\n");
		exit(2);
	}
	tests[ntests].name = name;
	tests[ntests].fn = fn;
	ntests++;
}

/* Records one failed check of the running test. */
void
UnitFail(const char *file, int line, const char *fmt,...)
{
	va_list		args;

	fprintf(stderr, "  %s:%d: ", file, line);
	va_start(args, fmt);
	vfprintf(stderr, fmt, args);
	va_end(args);
	fputc('\n', stderr);
	current_failures++;
}

static int
CompareTests(const void *a, const void *b)
{
	return strcmp(*(const char *const *) a, *(const char *const *) b);
}

int
main(int argc, char **argv)
{
	int			run = 0,
				failed = 0;

	/* run in name order: constructor order depends on the link */
	qsort(tests, ntests, sizeof(tests[0]), CompareTests);
	for (int i = 0; i < ntests; i++)
	{
		if (argc > 1 && strstr(tests[i].name, argv[1]) == NULL)
			continue;
		current_failures = 0;
		tests[i].fn();
		run++;
		if (current_failures > 0)
		{
			failed++;
			fprintf(stderr, "FAIL %s\n", tests[i].name);
		}
	}
	printf("%d unit tests, %d failed\n", run, failed);
	return failed > 0 || run == 0;
}
