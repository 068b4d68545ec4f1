// What the C measurements under bench/ share: the benchmark's transfers drawn
// as `hoptrace bench` draws them (45 M between 5 M addresses, each end N * u^3,
// busiest addresses first, as the graph numbers them) and memory made resident
// before any clock starts (`haircut_floor.c`, `record_size.c`), and the clock
// (those and `fresh_memory.c`). Static inline, so that a program that uses only
// part of it compiles without warnings.
#ifndef HOPTRACE_BENCH_FLOOR_H
#define HOPTRACE_BENCH_FLOOR_H

#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#define ADDRESSES 5000000u
#define TRANSFERS 45000000u
// Transfers ahead whose lines a pass prefetches (the engine's `AHEAD`).
#define AHEAD 16

static inline double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static uint64_t draw_state = 88172645463325252ull;
static inline double uniform(void) {
    draw_state ^= draw_state << 13;
    draw_state ^= draw_state >> 7;
    draw_state ^= draw_state << 17;
    return (draw_state >> 11) * (1.0 / 9007199254740992.0);
}

// `bytes` of resident memory, in huge pages or in 4 KiB ones.
static inline void *resident(size_t bytes, int huge) {
    void *p = mmap(0, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        perror("mmap");
        exit(1);
    }
    madvise(p, bytes, huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
    memset(p, 1, bytes);
    return p;
}

// The transfers' senders and receivers, in 4 KiB pages.
static inline void draw_transfers(uint32_t **from, uint32_t **to) {
    *from = resident((size_t)TRANSFERS * 4, 0);
    *to = resident((size_t)TRANSFERS * 4, 0);
    for (uint32_t i = 0; i < TRANSFERS; i++) {
        double u = uniform(), w = uniform();
        uint32_t a = (uint32_t)(ADDRESSES * u * u * u), b = (uint32_t)(ADDRESSES * w * w * w);
        (*from)[i] = a < ADDRESSES ? a : ADDRESSES - 1;
        (*to)[i] = b < ADDRESSES ? b : ADDRESSES - 1;
    }
}

#endif
