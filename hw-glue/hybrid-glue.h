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
 * the TCG context exists; flush from the tb_flush hook (exclusive).
 */
void hybrid_entry_init(void);
void hybrid_entry_flush(void);

/* conformance.c: QMP x-hybrid-conformance (hybrid_conformance) */
HybridConformance *hybrid_conformance_run(uint32_t runs, uint64_t seed,
                                          bool mutate, const char *filter,
                                          Error **errp);

#endif
