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
    }
    g_free(s->tbs);
    g_free(s);
}
