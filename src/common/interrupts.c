/*
 * interrupts.c
 *	  CHECK_FOR_INTERRUPTS as the pure-C core's interrupt hook, so that
 *	  cancel and statement_timeout reach into the core's long loops (training
 *	  rows of many thousands of items, rankings of a million candidates).
 */
#include "postgres.h"

#include "common/interrupts.h"
#include "core/interrupt.h"
#include "miscadmin.h"

/* CHECK_FOR_INTERRUPTS as a function the core can call. */
static void
CheckInterruptsForCore(void)
{
	CHECK_FOR_INTERRUPTS();
}

/* Sets the core's hook; see interrupts.h. */
void
CoreInterruptsInit(void)
{
	core_interrupt_hook = CheckInterruptsForCore;
}
