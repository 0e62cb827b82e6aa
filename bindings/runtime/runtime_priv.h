/* runtime_priv.h: the runtime's structures, for bindings/ files only. */
#ifndef PG_RUNTIME_PRIV_H
#define PG_RUNTIME_PRIV_H

#include <pthread.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <sys/types.h>
#include <time.h>

#include <lua.h>

#include "runtime/lalloc.h"
#include <stdint.h>

#include "runtime/runtime.h"

typedef struct rt_file {
    char *name;                 /* chunk name: "scripts/pod.lua" or module "pruning" */
    const char *root;           /* modules: "policies" or "scripts/lib"; scripts: NULL */
    char *src;
    size_t len;
} rt_file;

typedef struct rt_route {
    char method[16];
    char *path;
    char *summary;
    int file;                   /* index into gen->scripts */
} rt_route;

typedef struct rt_gen {
    int id;
    int refs;                   /* states of this generation + 1 while current */
    rt_file *scripts;
    size_t nscripts;
    rt_file *policies;
    size_t npolicies;
    rt_route *routes;
    size_t nroutes;
    pg_router *router;
    double loaded_at;
    uint64_t hash;              /* the config's hash, then every script and module file */
} rt_gen;

#define RT_HELD_MAX 8

struct rt_state {
    lua_State *L;
    lb_heap heap;               /* the state's allocator and its count (lalloc.c) */
    pg_engine *eng;
    rt_runtime *rt;
    rt_gen *gen;                /* NULL for repl/run states */
    int flags;
    atomic_int interrupt;
    /* deadline.c: the CPU-time deadline of the running call */
    int deadline_ms;
    atomic_int armed;
    atomic_int timed_out;       /* set by the watchdog's signal, on the running thread */
    atomic_ulong call;          /* armed calls so far */
    atomic_ulong fire;          /* the call the watchdog found past its deadline */
    _Atomic(lua_State *) co;    /* the innermost coroutine it resumed, running now */
    pid_t tid;                  /* the thread running the call, and its CPU clock */
    clockid_t cpu;
    int registered;
    struct rt_state *outer;     /* the armed call this one runs inside, on the same thread (a
                                 * sampler probe run by a request that moved the sim's clock) */
    unsigned long wd_call;      /* watchdog only: the call it saw last, and that thread's CPU time then */
    struct timespec wd_cpu0;
    atomic_ulong stuck;         /* the call still running DL_GRACE_MS of CPU after its deadline fired */
    sigjmp_buf *escape;         /* a request's call (rt_pcall with escape_ok): where a stuck one leaves */
    int escape_ok;              /* set by serve.c around a request's call */
    int no_escape;              /* rt_no_escape: a core call that holds locks or resources runs */
    int abandoned;              /* left by the escape: never touched again but by lua_close */
    pthread_mutex_t *held[RT_HELD_MAX]; /* rt_lock_held: released when a stuck call is left */
    int nheld;                  /* more than RT_HELD_MAX: a stuck call is not left */
    size_t gc_base;             /* heap bytes after its last collection (rt_collect) */
    int gc_due;                 /* grown enough since: rt_collect may take it */
    struct http_req *req;       /* the request being served, NULL between requests */
    lua_Integer req_seq;        /* its number: a req table kept past its request sees none */
    int warn_off;               /* warn("@off") was called */
    size_t warn_len;            /* the pieces of a warning gathered so far */
    char warn[512];
    rt_progress_fn progress;    /* rt_set_progress: an attached session's progress lines */
    void *progress_ud;
};

/* deadline.c: a Lua call's CPU-time deadline without a count hook (a count
 * hook sends every VM instruction through luaG_traceexec, ~15 % of a
 * request). A watchdog thread reads each armed call's thread CPU clock
 * every 10 ms and, once past the deadline, signals that thread, whose
 * handler sets rt_deadline_hook, as lua.c does for SIGINT. The deadline
 * counts from the watchdog's first look at the call (at most a tick late). */
int dl_arm(rt_state *s, int ms, rt_state **prev);   /* before the call: 1 when armed */
/* A hook cannot reach a call stuck inside one C function (a pattern match
 * that backtracks for hours, ("").rep(s, 1e15), table.move over 2^50 empty
 * slots). When a request's call is still running DL_GRACE_MS of CPU after
 * its deadline fired, the watchdog signals it again and the handler, if the
 * thread is then executing podgym's own code (the Lua VM and libraries are
 * linked in: never inside libc, so never inside malloc or with a libc lock
 * held), jumps to s->escape in rt_pcall: the call fails with 504 deadline and
 * the state is abandoned (closed at checkin, never reused). */
#define DL_GRACE_MS 100

int dl_disarm(rt_state *s, rt_state *prev);          /* after an armed call: 1 when the deadline fired */
void dl_forget(rt_state *s);                         /* before the state is freed */
void rt_deadline_hook(lua_State *L, lua_Debug *ar);
/* Set rt_deadline_hook on the running thread (the main one and the innermost
 * coroutine it resumed); safe in a signal handler. */
void dl_hook_running(rt_state *s);
/* [] -> []: coroutine.resume and coroutine.wrap note the coroutine they run,
 * so that the deadline (and the repl's interrupt) reach into it. */
void dl_open_coroutines(lua_State *L);

rt_gen *rt_state_gen(rt_state *s);
rt_state *rt_state_of(lua_State *L);
const char *rt_scripts_dir(rt_runtime *rt);
const char *rt_policies_dir(rt_runtime *rt);

#endif
