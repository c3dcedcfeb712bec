/* short_forms.c — a direct-mapped table of form hashes, each with the time
 * its memory ends. Lock-free: a race between two threads can at worst lose
 * an entry or pair a hash with a neighbour's time, which only moves a
 * search between two forms that give the same page. */
#include "short_forms.h"

#include <stdatomic.h>
#include <stddef.h>

static _Atomic uint64_t forms[MFD_SHORT_FORM_SLOTS];
static _Atomic int64_t until[MFD_SHORT_FORM_SLOTS];

bool mfd_short_form_recent(uint64_t form, int64_t now_ms) {
    size_t slot = form % MFD_SHORT_FORM_SLOTS;
    return atomic_load_explicit(&forms[slot], memory_order_relaxed) == form &&
           atomic_load_explicit(&until[slot], memory_order_relaxed) > now_ms;
}

void mfd_short_form_remember(uint64_t form, int64_t now_ms) {
    size_t slot = form % MFD_SHORT_FORM_SLOTS;
    atomic_store_explicit(&until[slot], now_ms + MFD_SHORT_FORM_MEMORY_MS, memory_order_relaxed);
    atomic_store_explicit(&forms[slot], form, memory_order_relaxed);
}
