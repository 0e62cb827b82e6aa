/* runtime.h: Lua states, generations of scripts, hot reload, pcall.
 *
 * A generation is a snapshot of every file under scripts/ and policies/,
 * compiled and checked as a whole, with its route table. States are pooled;
 * a request checks one out and returns it, never sharing it between
 * threads. Reload builds a new generation, compiles everything first, and
 * only then swaps; states of the old generation are closed when they come
 * back. A failed compile keeps the old generation serving. */
#ifndef PG_RUNTIME_H
#define PG_RUNTIME_H

#include <pthread.h>

#include <lua.h>

#include "engine.h"
#include "base/err.h"
#include "server/router.h"

typedef struct rt_runtime rt_runtime;
typedef struct rt_state rt_state;

enum { RT_SANDBOX = 1 };        /* route/policy states: the allowed libraries, read-only globals and
                                   the memory cap; repl and run get the full library and no cap */

rt_runtime *rt_new(pg_engine *eng, int flags, pg_err *e);
void rt_free(rt_runtime *rt);

/* Compile a new generation; swap on success. On failure the old generation
 * keeps serving and e says "file:line: message". */
int rt_reload(rt_runtime *rt, pg_err *e);
int rt_generation(rt_runtime *rt);
void rt_last_error(rt_runtime *rt, char *buf, size_t n);    /* "" when the last reload succeeded */
int rt_reloads(rt_runtime *rt, int *failed);

/* Start a thread that reloads when files under scripts/ or policies/ change. */
int rt_watch(rt_runtime *rt, pg_err *e);

/* Check a state of the current generation out of the pool. */
rt_state *rt_checkout(rt_runtime *rt);
void rt_checkin(rt_runtime *rt, rt_state *s);
/* Build a state in place of one closed past its memory cap, or else run a
 * collection step for the state checked in last, if its heap has grown
 * enough since its previous one (see runtime.c). For a thread with nothing
 * better to do, e.g. after its response has been sent. */
void rt_collect(rt_runtime *rt);
lua_State *rt_lua(rt_state *s);
const pg_router *rt_router(rt_state *s);
/* Push the handler of route i of this state's generation. */
void rt_push_handler(rt_state *s, int route);

/* Call the function below nargs arguments with a traceback handler and the
 * CPU deadline armed (limits.lua_deadline_ms; 0 = none). Returns LUA_OK or
 * an error status with e filled: the memory cap (even when the script caught
 * the memory error; rt_checkin then closes the state) gives 503 lua_memory,
 * a deadline 504, an error table {status=, message=} that status, anything
 * else 500 (the traceback goes to the log, e->message stays short). A
 * request's call (serve.c) stuck inside a C function past its deadline is
 * left by a jump (deadline.c): 504 deadline, and the state is abandoned
 * (rt_state.abandoned: its stack is not to be touched; closed at checkin). */
int rt_pcall(lua_State *L, int nargs, int nresults, int deadline_ms, pg_err *e);

/* A fresh state with every module (for repl/run: full library). */
lua_State *rt_open_state(pg_engine *eng, int flags);
void rt_close_state(lua_State *L);
/* A lock a C function holds while it calls back into Lua (data.locked):
 * held = 1 after taking it, 0 before releasing it. A call left stuck in C
 * (rt_pcall) releases the locks still noted, on its own thread. */
void rt_lock_held(lua_State *L, pthread_mutex_t *m, int held);
/* Shutdown: every running call is past its deadline from now on, and a
 * request's call stuck in C is left at once. */
void rt_stop_calls(void);
/* Interrupt the state running on another thread (SIGINT in the repl). */
void rt_interrupt(lua_State *L);
/* 1 while an interrupt of L's state is pending: a C function that blocks
 * (a sleep, a wait, a load test) checks it and returns early; the hook then
 * raises "interrupted!" as soon as control is back in Lua. */
int rt_interrupted(lua_State *L);
/* Drop an interrupt that came after the call it was meant for had ended. */
void rt_interrupt_clear(lua_State *L);
/* Where the live progress lines of L's state go (an attached repl
 * session's client: line "" ends one); fn NULL: stderr, when the engine is
 * interactive. rt_progress_sink returns fn and sets *ud. */
typedef void (*rt_progress_fn)(void *ud, const char *line);
void rt_set_progress(lua_State *L, rt_progress_fn fn, void *ud);
rt_progress_fn rt_progress_sink(lua_State *L, void **ud);

/* Around a core call that holds a lock or owns resources for long (the
 * sim's load test, the native generator): a call stuck past its deadline is
 * not left by the escape (deadline.c) while it runs; the hook still stops
 * its Lua code once the core call returns. */
void rt_no_escape(lua_State *L, int enter);

#endif
