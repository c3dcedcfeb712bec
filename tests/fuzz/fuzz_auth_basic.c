/* Fuzz target: the credentials that reach the auth layer from outside —
 * the `Authorization: Basic ...` header (src/auth/basic.c) and werkzeug
 * hash strings (src/auth/passwords.c; they come from an auth database that
 * MLflow or an operator may have written).
 *
 * Input layout: byte 0 picks the mode; mode 0 takes the rest as the header
 * value; mode 1 splits the rest at the first '\n' into a stored hash and a
 * password. Hash strings whose KDF cost is high (the defaults are meant to
 * take ~0.1 s) are cut down to a cheap cost before verifying, so the fuzzer
 * explores the parser rather than the KDF. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth_internal.h"
#include "auth/passwords.h"

/* True when `stored` names a KDF cost we are willing to pay per input. */
static bool cheap(const char *stored) {
    size_t method_len = strcspn(stored, "$");
    char method[64];
    if (method_len >= sizeof method)
        return true; /* the parser refuses long method strings early */
    memcpy(method, stored, method_len);
    method[method_len] = '\0';
    unsigned long long a = 0, b = 0, c = 0;
    char name[32];
    if (!strncmp(method, "scrypt", 6))
        return sscanf(method, "scrypt:%llu:%llu:%llu", &a, &b, &c) == 3 && a <= 1024 && b <= 8 &&
               c <= 2;
    if (!strncmp(method, "pbkdf2", 6))
        return sscanf(method, "pbkdf2:%31[^:]:%llu", name, &a) == 2 && a <= 2000;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0)
        return 0;
    mfd_arena *arena = mfd_arena_new();
    char *text = mfd_arena_strndup(arena, (const char *)data + 1, size - 1);
    if (data[0] % 2 == 0) {
        const char *user = NULL, *password = NULL;
        if (mfd_auth_parse_basic(arena, text, &user, &password)) {
            if (!user || !password || strchr(user, ':'))
                abort(); /* the user name ends at the first colon */
        }
    } else {
        char *newline = strchr(text, '\n');
        const char *password = "password1234";
        if (newline) {
            *newline = '\0';
            password = newline + 1;
        }
        if (cheap(text) && mfd_auth_password_verify(text, password)) {
            /* A match needs the full `<method>$<salt>$<hex>` form. */
            if (!strchr(text, '$') || !strchr(strchr(text, '$') + 1, '$'))
                abort();
        }
    }
    mfd_arena_free(arena);
    return 0;
}
