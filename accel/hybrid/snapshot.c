/*
 * hybrid: op snapshots (snapshot.h). Made by hw-glue/snapshot.c.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "snapshot.h"

void hybrid_snap_tb_clear_ops(HybridSnapTB *tb)
{
    g_clear_pointer(&tb->ops, g_free);
    g_clear_pointer(&tb->args, g_free);
    g_clear_pointer(&tb->temps, g_free);
    g_clear_pointer(&tb->helpers, g_free);
    tb->nops = tb->nargs = tb->ntemps = tb->nhelpers = 0;
}

void hybrid_snapshot_free(HybridSnapshot *s)
{
    if (!s) {
        return;
    }
    for (unsigned i = 0; i < s->ntbs; i++) {
        hybrid_snap_tb_clear_ops(&s->tbs[i]);
        g_free(s->tbs[i].code);
    }
    g_free(s->tbs);
    g_free(s);
}

uint64_t hybrid_snap_insn_pc(const HybridTargetDesc *d,
                             const HybridSnapTB *tb, uint64_t w0)
{
    if (d->pcrel) {
        uint64_t start = tb->pc;

        w0 = (start & d->page_mask) | w0;
        if (w0 < start) {
            w0 += ~d->page_mask + 1;    /* insn on the TB's 2nd page */
        }
    }
    return w0;
}
