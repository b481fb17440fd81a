/*
 * The table of exported traces tests/host/port-harness.c runs, generated
 * by tests/guest/test_port.py as port-traces.c.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef PORT_HARNESS_H
#define PORT_HARNESS_H

#include <stddef.h>
#include <stdint.h>

/* bytes of the vCPU state before env in a trace-ID.env file */
#define PORT_ENV_NEG 16

typedef struct PortTrace {
    uint64_t id;
    uint64_t (*fn)(void *env, uint64_t from_tb);
    const uint8_t *env;     /* PORT_ENV_NEG bytes, then CPUArchState */
    size_t env_size;
} PortTrace;

extern const PortTrace port_traces[];
extern const size_t port_ntraces;

#endif
