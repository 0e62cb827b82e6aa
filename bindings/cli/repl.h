/* repl.h: the interactive prompt, `podgym run`, and `podgym repl --attach`. */
#ifndef PG_REPL_H
#define PG_REPL_H

#include <signal.h>
#include <stddef.h>

#include <lua.h>

#include "engine.h"

#define REPL_PROMPT "podgym> "
#define REPL_PROMPT2 "     >> "

/* Where a statement's printed results (err 0) and errors (err 1) go. */
typedef struct repl_out {
    void (*write)(void *ud, int err, const char *s, size_t n);
    void *ud;
} repl_out;

/* Read-eval-print until EOF. Returns the process exit status. */
int repl_loop(lua_State *L);

/* Run a script with arg/... set as lua.c does. Returns the exit status:
 * 0, the integer the script returns, 1 for `return false` or an error. */
int repl_run_file(lua_State *L, const char *file, int argc, char **argv);

/* The printer (bindings/lua/pretty.lua) and help() in L. 0 or -1. */
int repl_setup(lua_State *L);
/* Call the function below nargs arguments (no deadline, the full library's
 * state): its results pretty-printed to o and popped (o NULL: left on the
 * stack), an error's message (a traceback, but for an interrupt) written to
 * o (NULL: stderr). Returns the pcall status. */
int repl_exec(lua_State *L, int nargs, const repl_out *o);
/* Read one statement: 1 with its chunk pushed on L and its source in *src
 * (malloc'ed: "return <expr>;" for an expression), 0 at EOF, -1 after a
 * syntax error (printed) or a Ctrl-C that dropped the line. */
int repl_read(lua_State *L, int tty, char **src);
/* SIGINT caught (no SA_RESTART); repl_take_sigint says whether one came
 * since the last call. */
void repl_signals(void);
int repl_take_sigint(void);
/* Block SIGINT (the mask before in *old); *waiting is *old with SIGINT let
 * in, for a pselect that is to see it. */
void repl_block_sigint(sigset_t *old, sigset_t *waiting);
/* ~/.podgym_history read now; every statement read is written to it. */
void repl_history_open(void);

/* podgym serve: listen on <data_dir>/repl.sock (mode 0600) for attached
 * sessions, each its own full-library Lua state. NULL when off or on
 * failure (logged). attach_stop interrupts every session and waits for
 * them (bounded), then removes the socket. */
typedef struct attach_server attach_server;
attach_server *attach_start(pg_engine *eng);
void attach_stop(attach_server *srv);
/* The default socket of a config: <data_dir>/repl.sock. */
void attach_default_path(const pg_config *cfg, char *out, size_t n);
/* podgym repl --attach: a prompt whose statements run inside the server. */
int attach_client(const char *path);

#endif
