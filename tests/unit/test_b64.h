/* test_b64.h — base64url of a string, for the unit tests that build JWTs by
 * hand (test_sso.c, test_jwt_claims.c). The last four results stay valid. */
#ifndef MFD_TEST_B64_H
#define MFD_TEST_B64_H

#include <string.h>

#include "auth/jose_lib.h"

static char *b64(const char *s) {
    static char out[4][512];
    static int next;
    char *o = out[next++ % 4];
    size_t n = mfd_jose_b64_enc_buf(s, strlen(s), o, sizeof out[0] - 1);
    o[n] = '\0';
    return o;
}

#endif
