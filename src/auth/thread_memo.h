/* thread_memo.h — what the auth caches' per-thread memos share (HACKING.md:
 * a cache hit on every request must not write shared memory).
 *
 * Each thread keeps its last hit of a cache in a _Thread_local memo, stamped
 * with the cache's serial (so it never answers for another cache, e.g. a
 * later one at the same address) and the cache's epoch, which writes that
 * must void every thread's memo (forgetting a user, a new entry) bump. The
 * epoch is read before the entry a memo copies, so a memo made from an
 * entry a concurrent forget removes carries the old epoch. */
#ifndef MFD_AUTH_THREAD_MEMO_H
#define MFD_AUTH_THREAD_MEMO_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* How a memo is declared. The core library is compiled as PIC, where a
 * plain _Thread_local costs a call to the dynamic loader's __tls_get_addr on
 * every access; it is only ever linked into executables, so the
 * initial-exec model (one load) is valid. */
#define MFD_THREAD_MEMO static _Thread_local __attribute__((tls_model("initial-exec")))

typedef struct mfd_memo_owner {
    uint64_t serial;
    /* Alone on its cache line: only the rare bumps write it. */
    _Alignas(64) _Atomic uint64_t epoch;
    char end_of_line_[64 - sizeof(uint64_t)];
} mfd_memo_owner;

typedef struct mfd_memo_stamp {
    uint64_t serial, epoch; /* serial 0: no memo */
} mfd_memo_stamp;

/* A new owner: a serial no other owner in this process had. */
void mfd_memo_owner_init(mfd_memo_owner *owner);

/* The stamp for a memo made now: read before the entry it copies. */
static inline mfd_memo_stamp mfd_memo_stamp_now(const mfd_memo_owner *owner) {
    return (mfd_memo_stamp){owner->serial,
                            atomic_load_explicit(&owner->epoch, memory_order_acquire)};
}

static inline bool mfd_memo_current(mfd_memo_stamp stamp, const mfd_memo_owner *owner) {
    return stamp.serial == owner->serial &&
           stamp.epoch == atomic_load_explicit(&owner->epoch, memory_order_acquire);
}

/* Voids every thread's memo of this owner. */
static inline void mfd_memo_void_all(mfd_memo_owner *owner) {
    atomic_fetch_add_explicit(&owner->epoch, 1, memory_order_release);
}

#endif
