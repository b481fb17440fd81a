/*
 * hw-glue internal: what the accelerator's QEMU-facing files share.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef HYBRID_GLUE_H
#define HYBRID_GLUE_H

#include "accel/hybrid/hybrid.h"
#include "accel/hybrid/hybrid-aborts.h"
#include "accel/hybrid/snapshot.h"
#include "accel/hybrid/trace.h"

/* The guest target as the lowering sees it (x86_64 system emulation). */
extern const HybridTargetDesc hybrid_target_desc;

/* tb_translated hook: copy the ops of a translation asked for. */
void hybrid_snapshot_capture(CPUState *cpu, TranslationBlock *tb, vaddr pc);
/* On @cpu's thread: the op snapshot of @t, or NULL with @why set. */
HybridSnapshot *hybrid_snapshot_make(CPUState *cpu, const HybridTrace *t,
                                     HybridAbort *why);

#endif
