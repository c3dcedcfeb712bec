/* ids.h — clocks and random identifiers as MLflow writes them. */
#ifndef MFD_IDS_H
#define MFD_IDS_H

#include <stdint.h>
#include <time.h>

/* Milliseconds since the Unix epoch (UTC). */
int64_t mfd_now_ms(void);

/* The time `ms` milliseconds from now on `clock`: a deadline for
 * pthread_cond_timedwait (CLOCK_REALTIME unless the condition says otherwise). */
struct timespec mfd_deadline_after_ms(clockid_t clock, int ms);

/* uuid4().hex: 32 lowercase hex characters + NUL (version/variant bits set). */
void mfd_uuid_hex(char out[33]);

#endif
