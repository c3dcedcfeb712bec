/* short_forms.h — the faster forms of run searches that came up short lately.
 *
 * A form that is exact only when it fills the page (mfd_run_search.window)
 * costs a query and gives nothing when it falls short. The same search asked
 * again soon (the UI refreshing its run table, a client polling) skips it for
 * MFD_SHORT_FORM_MEMORY_MS. Only a hint, per process: a skipped form changes no
 * answer (the next form gives the same page), so replicas need not agree and
 * a stale entry costs only the time the form would have saved. */
#ifndef MFD_STORE_SHORT_FORMS_H
#define MFD_STORE_SHORT_FORMS_H

#include <stdbool.h>
#include <stdint.h>

/* forms remembered at once (by hash, one per slot), and for how long */
enum { MFD_SHORT_FORM_SLOTS = 512, MFD_SHORT_FORM_MEMORY_MS = 60000 };

bool mfd_short_form_recent(uint64_t form, int64_t now_ms);
void mfd_short_form_remember(uint64_t form, int64_t now_ms);

#endif
