/*
 * interrupt.c
 *	  The core's interrupt hook (see interrupt.h).
 */
#include "core/interrupt.h"

CoreInterruptFn core_interrupt_hook = NULL;
