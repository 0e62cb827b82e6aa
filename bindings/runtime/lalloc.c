/* lalloc.c: a size-class allocator for one Lua state.
 *
 * A state is used by one thread at a time and Lua tells the allocator the
 * size of every block it frees, so small blocks (tables, strings, closures,
 * hash parts up to 32 slots: most of what a request allocates) need no
 * header and no lock: they are carved from 16 KiB slabs and recycled
 * through a free list per 16-byte size class up to 1 KiB. Larger blocks
 * go to malloc. Slabs are returned when the state
 * is closed; a state's heap never exceeds its peak. */
#include <stdlib.h>
#include <string.h>

#include "runtime/lalloc.h"

#define GRAIN 16
#define MAX_SMALL 1024
#define NCLASS (MAX_SMALL / GRAIN)
#define SLAB 16384

struct lb_heap {
    void *free[NCLASS];         /* free blocks of each class, linked through their first word */
    char *cur;                  /* carving position in the newest slab */
    size_t left;
    void *slabs;                /* every slab, linked through its first word */
};

lb_heap *lb_heap_new(void) { return calloc(1, sizeof(lb_heap)); }

void lb_heap_free(lb_heap *h) {
    if (!h) return;
    while (h->slabs) {
        void *next = *(void **)h->slabs;
        free(h->slabs);
        h->slabs = next;
    }
    free(h);
}

static inline size_t class_of(size_t n) { return (n + GRAIN - 1) / GRAIN - 1; }

static void *small_alloc(lb_heap *h, size_t n) {
    size_t c = class_of(n);
    void *p = h->free[c];
    if (p) {
        h->free[c] = *(void **)p;
        return p;
    }
    size_t sz = (c + 1) * GRAIN;
    if (h->left < sz) {
        char *slab = malloc(SLAB);
        if (!slab) return NULL;
        *(void **)slab = h->slabs;
        h->slabs = slab;
        h->cur = slab + GRAIN;          /* the first grain holds the link */
        h->left = SLAB - GRAIN;
    }
    p = h->cur;
    h->cur += sz;
    h->left -= sz;
    return p;
}

static inline void small_free(lb_heap *h, void *p, size_t n) {
    size_t c = class_of(n);
    *(void **)p = h->free[c];
    h->free[c] = p;
}

void *lb_heap_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
    lb_heap *h = ud;
    if (!ptr) osize = 0;                /* Lua passes the object's type there */
    if (nsize == 0) {
        if (ptr) {
            if (osize <= MAX_SMALL) small_free(h, ptr, osize);
            else free(ptr);
        }
        return NULL;
    }
    int osmall = ptr && osize <= MAX_SMALL, nsmall = nsize <= MAX_SMALL;
    if (osmall && nsmall && class_of(osize) == class_of(nsize)) return ptr;
    if (ptr && !osmall && !nsmall) return realloc(ptr, nsize);
    void *np = nsmall ? small_alloc(h, nsize) : malloc(nsize);
    if (!np) return NULL;               /* Lua keeps ptr and raises a memory error */
    if (ptr) {
        memcpy(np, ptr, osize < nsize ? osize : nsize);
        if (osmall) small_free(h, ptr, osize);
        else free(ptr);
    }
    return np;
}
