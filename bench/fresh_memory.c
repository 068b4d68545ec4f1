// What memory a process has never touched costs on this machine, the way the
// haircut makes its state: 1 MiB at a time, made resident in one call
// (MADV_POPULATE_WRITE) and then written, in 4 KiB pages.
//
//   cc -O2 -pthread bench/fresh_memory.c -o /tmp/fresh_memory
//   /tmp/fresh_memory [EAT_MIB [STATE_MIB]]     # defaults: 8000 and 320
//   /tmp/fresh_memory --pool MIB                # how much comes back fast
//
// On a VM the host may back a guest's memory only when it is first touched, and
// take it back some time after the guest frees it. Memory the guest freed a
// moment ago (by this process or another) is still backed and comes back fast;
// memory never touched, or handed back since, is slow. So the program first
// makes EAT_MIB of memory resident and keeps it, to use up what the guest has
// free and backed (that figure is printed too), then times, three times each:
//
// - one thread making 2 x STATE_MIB resident;
// - two threads each making STATE_MIB resident at the same time (the haircut's
//   holdings and inflows, one array per thread).
//
// With --pool, nothing is eaten: MIB is made resident 256 MiB at a time, and each
// slice's rate is printed, to see how much of it was still backed (fast) and where
// the never-touched memory (slow) begins. Run twice in a row, the second run gets
// back, fast, about what the first one freed, less what the host took back
// meanwhile (see docs/haircut-log.md, "Sixteenth session").
//
// Seen on the project VM on 2026-12-01 (2 vCPU Intel Xeon, 480 MiB L3), two runs:
// 8000 MiB in 11.6 and 20 s; one thread 640 MiB in 1.67-2.39 s (0.27-0.38 GB/s);
// two threads 320 MiB each in 0.90-0.95 s. Memory that a process had just freed
// came back at about 4.5 GB/s. See docs/haircut-log.md, "Fourteenth session".
#include "floor.h"

#include <pthread.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

#define SLICE (1 << 20)

// `bytes` of address space in 4 KiB pages, nothing resident yet.
static char *reserve(size_t bytes) {
    char *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        perror("mmap");
        exit(1);
    }
    madvise(p, bytes, MADV_NOHUGEPAGE);
    return p;
}

// Makes `bytes` from `p` resident and written, a slice at a time.
static void make(char *p, size_t bytes) {
    for (size_t at = 0; at < bytes; at += SLICE) {
        size_t len = bytes - at < SLICE ? bytes - at : SLICE;
        madvise(p + at, len, MADV_POPULATE_WRITE);
        memset(p + at, 1, len);
    }
}

struct job {
    char *p;
    size_t bytes;
    double secs;
};

static void *run(void *arg) {
    struct job *j = arg;
    double t = now();
    make(j->p, j->bytes);
    j->secs = now() - t;
    return NULL;
}

// MIB made resident a slice of 256 MiB at a time, each slice's rate printed.
static int pool(size_t mib) {
    const size_t step = 256;
    for (size_t at = 0; at < mib; at += step) {
        char *p = reserve(step << 20);
        double t = now();
        make(p, step << 20);
        printf("%.2f ", step / 1024.0 / (now() - t));
        fflush(stdout);
    }
    printf("GB/s, a slice of 256 MiB each\n");
    return 0;
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--pool") == 0) {
        long mib = argc == 3 ? atol(argv[2]) : 0;
        if (mib <= 0) {
            fprintf(stderr, "usage: %s --pool MIB (a positive size)\n", argv[0]);
            return 2;
        }
        return pool((size_t)mib);
    }
    size_t eat = (size_t)(argc > 1 ? atol(argv[1]) : 8000) << 20;
    size_t state = (size_t)(argc > 2 ? atol(argv[2]) : 320) << 20;
    double t = now();
    make(reserve(eat), eat);
    printf("%zu MiB made resident first (and kept): %.2f s\n", eat >> 20, now() - t);
    for (int round = 0; round < 3; round++) {
        char *p = reserve(2 * state);
        t = now();
        make(p, 2 * state);
        printf("one thread, %zu MiB: %.3f s\n", (2 * state) >> 20, now() - t);
        struct job a = {reserve(state), state, 0}, b = {reserve(state), state, 0};
        pthread_t ta, tb;
        t = now();
        pthread_create(&ta, NULL, run, &a);
        pthread_create(&tb, NULL, run, &b);
        pthread_join(ta, NULL);
        pthread_join(tb, NULL);
        printf("two threads, %zu MiB each: %.3f s (%.3f s, %.3f s)\n", state >> 20, now() - t,
               a.secs, b.secs);
    }
    return 0;
}
