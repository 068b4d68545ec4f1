// The memory floor of the haircut's dense pass for two sizes of per-address
// record: 64 bytes (a holding and an inflow are a cache line each) against 32.
//
//   cc -O2 -march=native -pthread bench/record_size.c -o /tmp/record_size
//   /tmp/record_size 0    # records in 4 KiB pages
//   /tmp/record_size 1    # records in huge pages
//
// 45 M transfers between 5 M addresses drawn as `hoptrace bench` draws them
// (N * u^3, busiest addresses first), records made resident before the clock
// starts, each read and written, prefetched 16 transfers ahead. "roles" is the
// engine's way of sharing the pass (one thread keeps the holdings, the sender's
// and the receiver's record; the other the inflows, the receiver's record);
// "holdings alone" is the first of those threads on its own. No arithmetic and
// nothing handed between the threads (see `haircut_floor.c` for that).
// docs/haircut-log.md, "Fifteenth session", has the figures.
#include "floor.h"

#include <pthread.h>

static uint32_t *from, *to;
static char *holdings, *inflows;
static size_t width;  // bytes a record

static uint64_t *record(char *array, uint32_t a) { return (uint64_t *)(array + width * a); }

static void *keep_holdings(void *unused) {
    (void)unused;
    for (uint32_t i = 0; i < TRANSFERS; i++) {
        if (i + AHEAD < TRANSFERS) {
            __builtin_prefetch(record(holdings, from[i + AHEAD]), 1);
            __builtin_prefetch(record(holdings, to[i + AHEAD]), 1);
        }
        uint64_t *s = record(holdings, from[i]), *r = record(holdings, to[i]);
        uint64_t x = s[0];
        s[0] = x - 1;
        r[0] += x;
    }
    return 0;
}

static void *keep_inflows(void *unused) {
    (void)unused;
    for (uint32_t i = 0; i < TRANSFERS; i++) {
        if (i + AHEAD < TRANSFERS)
            __builtin_prefetch(record(inflows, to[i + AHEAD]), 1);
        record(inflows, to[i])[0] += i;
    }
    return 0;
}

static double roles(void) {
    pthread_t a, b;
    double start = now();
    pthread_create(&a, 0, keep_holdings, 0);
    pthread_create(&b, 0, keep_inflows, 0);
    pthread_join(a, 0);
    pthread_join(b, 0);
    return now() - start;
}

static double holdings_alone(void) {
    double start = now();
    keep_holdings(0);
    return now() - start;
}

int main(int argc, char **argv) {
    int huge = argc > 1 && atoi(argv[1]);
    draw_transfers(&from, &to);
    char *wide[2] = {resident((size_t)ADDRESSES * 64, huge), resident((size_t)ADDRESSES * 64, huge)};
    char *narrow[2] = {resident((size_t)ADDRESSES * 32, huge), resident((size_t)ADDRESSES * 32, huge)};
    for (int run = 0; run < 3; run++) {
        width = 64, holdings = wide[0], inflows = wide[1];
        double wide_roles = roles(), wide_alone = holdings_alone();
        width = 32, holdings = narrow[0], inflows = narrow[1];
        double narrow_roles = roles(), narrow_alone = holdings_alone();
        printf("%s pages | 64 B: roles %.3f s, holdings alone %.3f s | 32 B: roles %.3f s, "
               "holdings alone %.3f s\n",
               huge ? "huge" : "4 KiB", wide_roles, wide_alone, narrow_roles, narrow_alone);
    }
    return (int)(record(wide[0], 1)[0] + record(narrow[0], 1)[0]) & 1;
}
