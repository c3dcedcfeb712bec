/* hash.c — FNV-1a, 64-bit. */
#include "hash.h"

uint64_t mfd_hash_bytes(uint64_t h, const void *data, size_t len) {
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 1099511628211ULL;
    return h;
}

uint64_t mfd_hash_str(uint64_t h, const char *s) {
    const unsigned char *p = (const unsigned char *)s;
    do
        h = (h ^ *p) * 1099511628211ULL;
    while (*p++);
    return h;
}
