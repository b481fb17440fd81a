/*
 * hybrid: op snapshots (snapshot.h). Made by hw-glue/snapshot.c.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "snapshot.h"

void hybrid_snapshot_free(HybridSnapshot *s)
{
    if (!s) {
        return;
    }
    for (unsigned i = 0; i < s->ntbs; i++) {
        g_free(s->tbs[i].ops);
        g_free(s->tbs[i].args);
        g_free(s->tbs[i].temps);
        g_free(s->tbs[i].helpers);
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
