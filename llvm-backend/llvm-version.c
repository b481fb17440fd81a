/*
 * llvm-backend: facts about the LLVM library the tier is linked with.
 * No LLVM type leaves this directory.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include <llvm-c/Core.h>
#include "accel/hybrid/hybrid.h"

const char *hybrid_llvm_version(void)
{
    static char buf[32];
    unsigned major, minor, patch;

    if (!buf[0]) {
        LLVMGetVersion(&major, &minor, &patch);
        snprintf(buf, sizeof(buf), "%u.%u.%u", major, minor, patch);
    }
    return buf;
}
