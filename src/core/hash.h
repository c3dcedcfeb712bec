/* hash.h — FNV-1a (64-bit), the one non-cryptographic hash of the tree: slot
 * maps of in-memory caches, statement caches, ETags. Incremental, so several
 * pieces can be folded into one value. Not for anything an attacker must not
 * be able to collide. */
#ifndef MFD_CORE_HASH_H
#define MFD_CORE_HASH_H

#include <stddef.h>
#include <stdint.h>

#define MFD_HASH_INIT 14695981039346656037ULL

uint64_t mfd_hash_bytes(uint64_t h, const void *data, size_t len);
/* A NUL-terminated string, its terminator included (so "ab","c" != "a","bc"). */
uint64_t mfd_hash_str(uint64_t h, const char *s);

#endif
