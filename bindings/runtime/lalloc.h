/* lalloc.h: the allocator of podgym's Lua states. */
#ifndef PG_LALLOC_H
#define PG_LALLOC_H

#include <stddef.h>

typedef struct lb_heap lb_heap;

lb_heap *lb_heap_new(void);
/* Free every block; call after lua_close of the state that used the heap. */
void lb_heap_free(lb_heap *h);
/* lua_Alloc: pass the heap as ud to lua_newstate. */
void *lb_heap_alloc(void *ud, void *ptr, size_t osize, size_t nsize);

#endif
