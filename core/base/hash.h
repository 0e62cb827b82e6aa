/* hash.h: the one non-cryptographic hash (FNV-1a, 64 bits), for hash
 * tables, seeds derived from names, and the fingerprint of a config. */
#ifndef PG_HASH_H
#define PG_HASH_H

#include <stddef.h>
#include <stdint.h>

#define PG_HASH_INIT 0xcbf29ce484222325ULL

/* Continue hash h over n bytes of p (start with PG_HASH_INIT). */
static inline uint64_t pg_hash(uint64_t h, const void *p, size_t n) {
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++) h = (h ^ s[i]) * 0x100000001b3ULL;
    return h;
}

#endif
