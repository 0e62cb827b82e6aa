/* repl.h: the interactive prompt and `podgym run`. */
#ifndef PG_REPL_H
#define PG_REPL_H

#include <lua.h>

/* Read-eval-print until EOF. Returns the process exit status. */
int repl_loop(lua_State *L);

/* Run a script with arg/... set as lua.c does. Returns the exit status:
 * 0, the integer the script returns, 1 for `return false` or an error. */
int repl_run_file(lua_State *L, const char *file, int argc, char **argv);

#endif
