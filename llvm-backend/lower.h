/*
 * llvm-backend internal: the lowering entry point (lower.c).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef HYBRID_LOWER_H
#define HYBRID_LOWER_H

#include <llvm-c/Core.h>
#include "llvm-backend.h"

/*
 * Add function @name lowering @s to @mod; false with @err set if not.
 * @refs NULL: portable IR (see hybrid_lower_portable()).
 */
bool hybrid_lower(LLVMContextRef ctx, LLVMModuleRef mod, const char *name,
                  const HybridSnapshot *s, const HybridCodeRefs *refs,
                  HybridCompileError *err);

#endif
