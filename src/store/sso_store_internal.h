/* sso_store_internal.h — what the files of mlflowd's SSO tables (sso_store.c:
 * tables and identities; sso_store_tokens.c: personal access tokens and
 * sessions) share and nobody else sees. Their face is sso_store.h. */
#ifndef MFD_SSO_STORE_INTERNAL_H
#define MFD_SSO_STORE_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "sso_store.h"

/* Unix seconds, as the tables store them. */
int64_t mfd_sso_store_now_seconds(void);
/* Runs `sql`, whose one `?` is `text` or, when that is NULL, `number`;
 * *found (when given) says whether a row changed. */
mfd_err mfd_sso_store_change_where(mfd_conn *conn, const char *sql, const char *text,
                                   int64_t number, bool *found);

#endif
