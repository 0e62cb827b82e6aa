/* names.c: see names.h. */
#include <string.h>

#include "base/names.h"

size_t names_distance(const char *a, const char *b, size_t bl) {
    size_t al = strlen(a), row[65];
    if (al > 64 || bl > 64) return (size_t)-1;
    for (size_t j = 0; j <= bl; j++) row[j] = j;
    for (size_t i = 1; i <= al; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= bl; j++) {
            size_t up = row[j], best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[bl];
}

const char *names_closest(const char *key, const char *const *names, size_t n) {
    size_t best = 3, kl = strlen(key);
    const char *found = NULL;
    for (size_t i = 0; i < n; i++) {
        size_t d = names_distance(key, names[i], strlen(names[i]));
        if (d < best && d < kl) {
            best = d;
            found = names[i];
        }
    }
    return found;
}
