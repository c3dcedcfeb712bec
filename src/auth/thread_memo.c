/* thread_memo.c — see thread_memo.h. */
#include "thread_memo.h"

void mfd_memo_owner_init(mfd_memo_owner *owner) {
    static _Atomic uint64_t serials;
    owner->serial = atomic_fetch_add_explicit(&serials, 1, memory_order_relaxed) + 1;
    atomic_store_explicit(&owner->epoch, 0, memory_order_relaxed);
}
