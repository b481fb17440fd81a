/*
 * hw-glue internal: what the accelerator's QEMU-facing files share.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef HYBRID_GLUE_H
#define HYBRID_GLUE_H

#include "tcg/tcg.h"
#include "accel/hybrid/hybrid.h"
#include "accel/hybrid/hybrid-aborts.h"
#include "accel/hybrid/snapshot.h"
#include "accel/hybrid/trace.h"

/* The guest target as the lowering sees it (x86_64 system emulation). */
extern const HybridTargetDesc hybrid_target_desc;

/* tb_translated hook: copy the ops of a translation asked for. */
void hybrid_snapshot_capture(CPUState *cpu, TranslationBlock *tb, vaddr pc);
/* Copy @s's ops and temps (between translation and code generation). */
bool hybrid_snapshot_copy_ctx(TCGContext *s, HybridSnapTB *out);
/* On @cpu's thread: the op snapshot of @t, or NULL with @why set. */
HybridSnapshot *hybrid_snapshot_make(CPUState *cpu, const HybridTrace *t,
                                     HybridAbort *why);

/*
 * entry.c: redirect installed traces' head TBs to their code. Init once
 * the TCG context exists; flush from the tb_flush hook (exclusive). The
 * other three are the trace table's HybridTraceOps (trace.h): a trace was
 * installed, left the table, lost its last reference (its @entry).
 */
void hybrid_entry_init(void);
void hybrid_entry_flush(void);
void hybrid_entry_installed(HybridTrace *t);
void hybrid_entry_retired(HybridTrace *t);
void hybrid_entry_free(void *entry);

#endif
