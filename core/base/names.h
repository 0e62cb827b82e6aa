/* names.h: "did you mean" for names from a fixed list (config keys, Lua
 * options). */
#ifndef PG_NAMES_H
#define PG_NAMES_H

#include <stddef.h>

/* Levenshtein distance between a and the first blen bytes of b; (size_t)-1
 * when either is longer than 64. */
size_t names_distance(const char *a, const char *b, size_t blen);
/* The name of names[0..n) closest to key, when a typo away (at most two
 * edits, and fewer than key's length); NULL when none is. */
const char *names_closest(const char *key, const char *const *names, size_t n);

#endif
