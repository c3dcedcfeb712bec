/* passwords.h — werkzeug password hashes (auth.md §6): verify every format
 * MLflow's databases hold, write new ones as current werkzeug does. */
#ifndef MFD_AUTH_PASSWORDS_H
#define MFD_AUTH_PASSWORDS_H

#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"

/* True when `password` matches the stored `<method>$<salt>$<hex>` string.
 * Unknown methods, malformed strings and KDF failures never match. */
bool mfd_auth_password_verify(const char *stored_hash, const char *password);

/* A new `scrypt:32768:8:1$<16 [A-Za-z0-9]>$<128 hex>` string, malloc'd. */
mfd_err mfd_auth_password_hash(const char *password, char **out);

/* MLflow's password rule: at least 12 characters (code points). */
mfd_err mfd_auth_password_check_rule(const char *password);

#endif
