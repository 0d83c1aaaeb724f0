/*
 * interrupt.h
 *	  The one way the pure-C core lets its long loops be cancelled.  Every
 *	  long loop of the core calls CoreCheckInterrupts() every so often (every
 *	  CORE_CHECK_EVERY steps, or between blocks of BLAS work); the PostgreSQL
 *	  glue sets core_interrupt_hook once, when the library is loaded, to a
 *	  function that runs CHECK_FOR_INTERRUPTS, so cancel and
 *	  statement_timeout work inside the core.  The hook may longjmp: the core
 *	  allocates nothing (callers pass every buffer) and calls it between
 *	  BLAS calls, so nothing leaks.  Unit tests leave it unset, or count the
 *	  calls.  No PostgreSQL headers.
 */
#ifndef RERANK_INTERRUPT_H
#define RERANK_INTERRUPT_H

#include <stddef.h>

/* What the core calls to let the caller cancel it; NULL: never cancelled. */
typedef void (*CoreInterruptFn) (void);

extern CoreInterruptFn core_interrupt_hook;

/* Steps of a loop between two checks. */
#define CORE_CHECK_EVERY 1024

/* Calls the hook, when set (may longjmp). */
static inline void
CoreCheckInterrupts(void)
{
	if (core_interrupt_hook != NULL)
		core_interrupt_hook();
}

#endif							/* RERANK_INTERRUPT_H */
