/* ids.c — time and uuid4 hex ids from OpenSSL's CSPRNG. */
#include "ids.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "escape.h"

int64_t mfd_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct timespec mfd_deadline_after_ms(clockid_t clock, int ms) {
    struct timespec t;
    clock_gettime(clock, &t);
    t.tv_sec += ms / 1000;
    t.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

void mfd_uuid_hex(char out[33]) {
    unsigned char b[16];
    if (RAND_bytes(b, sizeof b) != 1) {
        fputs("mlflowd: no randomness available\n", stderr);
        abort();
    }
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    mfd_hex_encode(b, sizeof b, out);
}
