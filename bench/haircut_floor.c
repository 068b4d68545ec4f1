// The memory floor of the haircut's dense pass on this machine, and of two other
// ways to share it between two threads: the random lines alone, no arithmetic.
//
//   cc -O2 -march=native -pthread bench/haircut_floor.c -o /tmp/haircut_floor
//   /tmp/haircut_floor
//
// 45 M transfers between 5 M addresses drawn as `hoptrace bench` draws them
// (N * u^3, busiest addresses first, as the graph numbers them), one 64-byte line
// of holdings and one of inflows per address, in 4 KiB pages (made resident
// before the clock starts), each line read and written, prefetched 16 transfers
// ahead. Four layouts, each timed three times:
//
// - roles (the engine since the seventh session): one thread keeps the
//   holdings (the sender's and the receiver's line), the other the inflows (the
//   receiver's line); in two arrays, and in pairs (as below: the two threads'
//   lines then share pages);
// - owners, separate arrays: each thread keeps the addresses of one parity,
//   holdings and inflows both; a transfer costs its sender's owner one line and
//   its receiver's owner two lines in two arrays;
// - owners, pairs: the same, with an address's holding and inflow adjacent (128
//   bytes, one page, and the adjacent-line prefetch brings the second line).
//
// Then the two that can work (three variants), with what one thread hands the other (48 bytes a
// transfer through a ring, published every 64):
//
// - roles with carries: every transfer's carry goes from the holdings' thread
//   to the inflows' one (the engine hands over tainted transfers only);
// - owners, pairs, with carries: a transfer whose receiver the other thread
//   owns hands it a carry. A receipt whose carry has not yet come is deferred:
//   counted in the receiver's line and applied, in chain order, when it comes;
//   a thread about to use an address with deferred receipts waits for them;
//   and the same with the deferred receipts counted in a small table of the
//   thread, applied with their receivers prefetched.
//
// What the figures leave out: the arithmetic. See docs/haircut-log.md, "Thirteenth
// session".
#include "floor.h"

#include <pthread.h>
#include <stdatomic.h>

typedef struct {
    uint64_t word[8];
} line;

// What a transfer brings its receiver: its position, the value, named seeds.
typedef struct {
    uint32_t pos, unused;
    uint64_t value, seeds[4];
} carry;

#define RING (1u << 20)
#define BATCH 64
#ifndef URGENT
#define URGENT 1
#endif

// The producer's side of the urgent flag: publish now if the consumer waits.
#define ANSWER(out, head)                                                          \
    do {                                                                           \
        if (URGENT && atomic_load_explicit(&(out)->urgent, memory_order_relaxed)) { \
            atomic_store_explicit(&(out)->urgent, 0, memory_order_relaxed);        \
            atomic_store_explicit(&(out)->head, head, memory_order_release);       \
        }                                                                          \
    } while (0)

// Carries from one thread to the other, in chain order.
struct ring {
    _Alignas(64) _Atomic uint32_t head;
    _Alignas(64) _Atomic uint32_t tail;
    // Set by the consumer while it waits: the producer publishes at once.
    _Alignas(64) _Atomic uint32_t urgent;
    carry *slot;
};
static struct ring rings[2];  // rings[p]: to thread p

static uint32_t *from, *to;
static line *holdings, *inflows, *pairs;

// `paired`: the holdings and inflows as pairs rather than two arrays.
static void *roles_holdings(void *paired) {
    line *h = paired ? pairs : holdings;
    uint32_t k = paired ? 2 : 1;
    for (uint32_t i = 0; i < TRANSFERS; i++) {
        if (i + AHEAD < TRANSFERS) {
            __builtin_prefetch(&h[k * from[i + AHEAD]], 1);
            __builtin_prefetch(&h[k * to[i + AHEAD]], 1);
        }
        line *s = &h[k * from[i]], *r = &h[k * to[i]];
        uint64_t x = s->word[0];
        s->word[0] = x - 1;
        r->word[0] += x;
    }
    return 0;
}

static void *roles_inflows(void *paired) {
    line *in = paired ? pairs + 1 : inflows;
    uint32_t k = paired ? 2 : 1;
    for (uint32_t i = 0; i < TRANSFERS; i++) {
        if (i + AHEAD < TRANSFERS)
            __builtin_prefetch(&in[k * to[i + AHEAD]], 1);
        in[k * to[i]].word[0] += i;
    }
    return 0;
}

// Owner `p` (0 or 1) of the addresses of its parity; `stride` 2 for pairs (the
// inflow is the line after the holding), 0 for separate arrays.
struct owner {
    uint32_t p, stride;
};

static void *owners(void *arg) {
    const struct owner *o = arg;
    line *h = o->stride ? pairs : holdings;
    line *in = o->stride ? pairs + 1 : inflows;
    uint32_t k = o->stride ? 2 : 1;
    for (uint32_t i = 0; i < TRANSFERS; i++) {
        if (i + AHEAD < TRANSFERS) {
            uint32_t f = from[i + AHEAD], t = to[i + AHEAD];
            if ((f & 1) == o->p)
                __builtin_prefetch(&h[k * f], 1);
            if ((t & 1) == o->p) {
                __builtin_prefetch(&h[k * t], 1);
                __builtin_prefetch(&in[k * t], 1);
            }
        }
        uint32_t f = from[i], t = to[i];
        if ((f & 1) == o->p)
            h[k * f].word[0] -= 1;
        if ((t & 1) == o->p) {
            h[k * t].word[0] += i;
            in[k * t].word[0] += i;
        }
    }
    return 0;
}

static void put(struct ring *out, uint32_t *head, uint32_t pos, uint64_t value,
                const uint64_t *seeds) {
    while (*head - atomic_load_explicit(&out->tail, memory_order_acquire) >= RING)
        __builtin_ia32_pause();
    carry *c = &out->slot[*head % RING];
    c->pos = pos;
    c->value = value;
    memcpy(c->seeds, seeds, sizeof c->seeds);
    if ((++*head & (BATCH - 1)) == 0)
        atomic_store_explicit(&out->head, *head, memory_order_release);
}

// The next carry to `in` once it has come (`seen`: the head last read).
static carry *next(struct ring *in, uint32_t tail, uint32_t *seen, int wait) {
    while (tail == *seen) {
        *seen = atomic_load_explicit(&in->head, memory_order_acquire);
        if (tail != *seen || !wait)
            break;
        if (URGENT && !atomic_load_explicit(&in->urgent, memory_order_relaxed))
            atomic_store_explicit(&in->urgent, 1, memory_order_relaxed);
        __builtin_ia32_pause();
    }
    return tail == *seen ? 0 : &in->slot[tail % RING];
}

static void taken(struct ring *in, uint32_t *tail) {
    if ((++*tail & (BATCH - 1)) == 0)
        atomic_store_explicit(&in->tail, *tail, memory_order_release);
}

static void *roles_holdings_carries(void *unused) {
    (void)unused;
    struct ring *out = &rings[1];
    uint32_t head = 0;
    for (uint32_t i = 0; i < TRANSFERS; i++) {
        if (i + AHEAD < TRANSFERS) {
            __builtin_prefetch(&holdings[from[i + AHEAD]], 1);
            __builtin_prefetch(&holdings[to[i + AHEAD]], 1);
        }
        line *s = &holdings[from[i]], *r = &holdings[to[i]];
        uint64_t x = s->word[0];
        s->word[0] = x - 1;
        r->word[0] += x;
        put(out, &head, i, x, &s->word[2]);
    }
    atomic_store_explicit(&out->head, head, memory_order_release);
    return 0;
}

static void *roles_inflows_carries(void *unused) {
    (void)unused;
    struct ring *in = &rings[1];
    uint32_t tail = 0, seen = 0;
    for (uint32_t i = 0; i < TRANSFERS; i++) {
        if (i + AHEAD < TRANSFERS)
            __builtin_prefetch(&inflows[to[i + AHEAD]], 1);
        carry *c = next(in, tail, &seen, 1);
        inflows[to[c->pos]].word[0] += c->value;
        taken(in, &tail);
    }
    return 0;
}

// Owner `p` of the addresses of its parity, in pairs. Its deferred receipts are
// counted per receiver: in word 7 of the receiver's holding, or (`table`) in a
// small table of the thread, an address's count shared with the others of its
// hash (a check may wait for more than it must, never for less).
struct owned {
    uint32_t p;
    int table;
};

#define PENDING (1u << 16)

struct deferrals {
    int table;
    uint16_t *slots;
    uint32_t count;
};

// The slot of address `a` in a thread's table.
static uint32_t slot_of(uint32_t a) { return (a * 0x9E3779B1u) >> 16; }

// Address `a`'s deferred receipts (with the table, counted with its slot's).
static uint64_t pending(const struct deferrals *d, uint32_t a) {
    return d->table ? d->slots[slot_of(a)] : pairs[2 * a].word[7];
}

static void count(struct deferrals *d, uint32_t a, int by) {
    if (d->table)
        d->slots[slot_of(a)] += by;
    else
        pairs[2 * a].word[7] += by;
    d->count += by;
}

static void receive(uint32_t r, uint64_t value, const uint64_t *seeds) {
    pairs[2 * r].word[0] += value;
    pairs[2 * r].word[1] ^= seeds[0];
    pairs[2 * r + 1].word[0] += value;
}

// Applies the next carry, one that has come, to its deferred receipt; with the
// table, the receiver of a carry a few places on is prefetched first.
static void apply_deferred(struct deferrals *d, struct ring *in, uint32_t *tail, uint32_t seen,
                           carry *c) {
    if (d->table && seen - *tail > 8)
        __builtin_prefetch(&pairs[2 * to[in->slot[(*tail + 8) % RING].pos]], 1);
    uint32_t r = to[c->pos];
    receive(r, c->value, c->seeds);
    count(d, r, -1);
    taken(in, tail);
}

static void *owners_carries(void *arg) {
    const struct owned *o = arg;
    uint32_t p = o->p;
    struct ring *in = &rings[p], *out = &rings[p ^ 1];
    struct deferrals d = {o->table, o->table ? calloc(PENDING, sizeof(uint16_t)) : 0, 0};
    uint32_t head = 0, tail = 0, seen = 0;
    for (uint32_t i = 0; i < TRANSFERS; i++) {
        if (i + AHEAD < TRANSFERS) {
            uint32_t f = from[i + AHEAD], t = to[i + AHEAD];
            if ((f & 1) == p)
                __builtin_prefetch(&pairs[2 * f], 1);
            if ((t & 1) == p) {
                __builtin_prefetch(&pairs[2 * t], 1);
                __builtin_prefetch(&pairs[2 * t + 1], 1);
            }
        }
        ANSWER(out, head);
        // Deferred receipts whose carries have come, in order.
        carry *c;
        while (d.count && (c = next(in, tail, &seen, 0)))
            apply_deferred(&d, in, &tail, seen, c);
        uint32_t s = from[i], r = to[i];
        if ((s & 1) == p) {
            uint32_t mine[2] = {s, r};
            for (int k = 0; k < 1 + ((r & 1) == p); k++) {
                if (!pending(&d, mine[k]))
                    continue;
                atomic_store_explicit(&out->head, head, memory_order_release);
                while (pending(&d, mine[k])) {
                    c = next(in, tail, &seen, 1);
                    apply_deferred(&d, in, &tail, seen, c);
                }
            }
            line *h = &pairs[2 * s];
            uint64_t x = h->word[0];
            h->word[0] = x - 1;
            if ((r & 1) == p)
                receive(r, x, &h->word[2]);
            else
                put(out, &head, i, x, &h->word[2]);
        } else if ((r & 1) == p) {
            if (!d.count && (c = next(in, tail, &seen, 0))) {
                receive(r, c->value, c->seeds);
                taken(in, &tail);
            } else {
                count(&d, r, 1);
            }
        }
    }
    atomic_store_explicit(&out->head, head, memory_order_release);
    while (d.count) {
        carry *c = next(in, tail, &seen, 1);
        apply_deferred(&d, in, &tail, seen, c);
    }
    free(d.slots);
    return 0;
}

static void reset(void) {
    for (int k = 0; k < 2; k++)
        rings[k].head = rings[k].tail = rings[k].urgent = 0;
    for (uint32_t a = 0; a < ADDRESSES; a++)
        pairs[2 * a].word[7] = 0;
}

static double both(void *(*a)(void *), void *x, void *(*b)(void *), void *y) {
    pthread_t ta, tb;
    double start = now();
    pthread_create(&ta, 0, a, x);
    pthread_create(&tb, 0, b, y);
    pthread_join(ta, 0);
    pthread_join(tb, 0);
    return now() - start;
}

int main(void) {
    draw_transfers(&from, &to);
    holdings = resident((size_t)ADDRESSES * 64, 0);
    inflows = resident((size_t)ADDRESSES * 64, 0);
    pairs = resident((size_t)ADDRESSES * 128, 0);
    for (int k = 0; k < 2; k++)
        rings[k].slot = resident(sizeof(carry) * RING, 0);
    struct owner separate[2] = {{0, 0}, {1, 0}}, paired[2] = {{0, 2}, {1, 2}};
    for (int run = 0; run < 3; run++) {
        double roles = both(roles_holdings, 0, roles_inflows, 0);
        double roles_paired = both(roles_holdings, pairs, roles_inflows, pairs);
        double apart = both(owners, &separate[0], owners, &separate[1]);
        double together = both(owners, &paired[0], owners, &paired[1]);
        printf("roles %.3f s, pairs %.3f s | owners, separate arrays %.3f s, pairs %.3f s\n",
               roles, roles_paired, apart, together);
    }
    for (int run = 0; run < 3; run++) {
        reset();
        double roles = both(roles_holdings_carries, 0, roles_inflows_carries, 0);
        struct owned lines[2] = {{0, 0}, {1, 0}}, table[2] = {{0, 1}, {1, 1}};
        reset();
        double owned = both(owners_carries, &lines[0], owners_carries, &lines[1]);
        reset();
        double tabled = both(owners_carries, &table[0], owners_carries, &table[1]);
        printf("with carries: roles %.3f s | owners, pairs %.3f s, deferred in a table %.3f s\n",
               roles, owned, tabled);
    }
    return (int)(holdings[1].word[0] + inflows[1].word[0] + pairs[1].word[0]) & 1;
}
