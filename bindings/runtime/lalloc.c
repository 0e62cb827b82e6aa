/* lalloc.c: the allocator of podgym's Lua states (see lalloc.h).
 *
 * Blocks go to glibc's malloc, whose per-thread cache already serves the
 * small blocks of a request without a lock; a state is used by one thread at
 * a time, so its count needs none either. Lua tells the allocator the size
 * of every block it resizes or frees, so the count is exact. */
#include <stdlib.h>

#include "runtime/lalloc.h"

void *lb_heap_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
    lb_heap *h = ud;
    if (!ptr) osize = 0;                /* Lua passes the object's type there */
    if (nsize == 0) {
        free(ptr);
        h->used -= osize;
        return NULL;
    }
    if (h->cap && nsize > osize && nsize - osize > h->cap - h->used) {
        h->over = 1;
        return NULL;                    /* Lua keeps ptr and raises a memory error */
    }
    void *np = ptr ? realloc(ptr, nsize) : malloc(nsize);   /* most blocks are new */
    if (!np) return NULL;
    h->used = h->used - osize + nsize;
    return np;
}
