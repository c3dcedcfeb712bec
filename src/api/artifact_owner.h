/* artifact_owner.h — the READ check on where a model version's files live
 * (artifact_owner.c). */
#ifndef MFD_API_ARTIFACT_OWNER_H
#define MFD_API_ARTIFACT_OWNER_H

#include <stdbool.h>

#include "api.h"
#include "auth/auth.h"

/* Whether the request's user has `need` (READ to read, EDIT to write) where
 * file `rel` under artifact root `root` lives (`destination`: the proxied
 * artifact root, NULL when the proxy is off). `whole_tree`: `rel` is a
 * directory handed over with everything below it (KServe), which must then
 * lie in one experiment, run or model. Refused: a 403 is written to `res`
 * (or returned) and *refused set. Without auth, and for an admin, only
 * the place of a read is checked: a local file outside the destination and
 * every run's and model's artifacts is refused all the same. */
mfd_err mfd_api_check_file_owner(mfd_request *req, mfd_response *res, const char *destination,
                                 const char *root, const char *rel, mfd_permission need,
                                 bool whole_tree, bool *refused);

#endif
