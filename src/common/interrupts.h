/*
 * interrupts.h
 *	  The pure-C core's interrupt hook set to PostgreSQL's interrupt check
 *	  (interrupts.c; see core/interrupt.h).
 */
#ifndef RERANK_INTERRUPTS_H
#define RERANK_INTERRUPTS_H

/* Points core_interrupt_hook at CHECK_FOR_INTERRUPTS; called by _PG_init. */
extern void CoreInterruptsInit(void);

#endif							/* RERANK_INTERRUPTS_H */
