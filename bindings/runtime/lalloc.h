/* lalloc.h: the allocator of podgym's Lua states: realloc and free, with
 * each state's bytes counted against its cap (limits.lua_memory_mb). */
#ifndef PG_LALLOC_H
#define PG_LALLOC_H

#include <stddef.h>

typedef struct lb_heap {
    size_t used;                /* bytes the state holds now */
    size_t cap;                 /* 0 = no cap */
    int over;                   /* a growth was refused: the state is closed at checkin */
} lb_heap;

/* lua_Alloc: pass the heap as ud to lua_newstate. A growth past the cap is
 * refused (Lua raises "not enough memory") and sets over, for good: the cap
 * counts every byte the state holds, garbage too, and a request that reaches
 * it fails even when a pcall in the script catches the error, or when Lua's
 * emergency collection then makes room. */
void *lb_heap_alloc(void *ud, void *ptr, size_t osize, size_t nsize);

#endif
