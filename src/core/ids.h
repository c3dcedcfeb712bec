/* ids.h — clocks and random identifiers as MLflow writes them. */
#ifndef MFD_IDS_H
#define MFD_IDS_H

#include <stdint.h>

/* Milliseconds since the Unix epoch (UTC). */
int64_t mfd_now_ms(void);

/* uuid4().hex: 32 lowercase hex characters + NUL (version/variant bits set). */
void mfd_uuid_hex(char out[33]);

#endif
