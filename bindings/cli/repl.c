/* repl.c: a Lua prompt in the manner of lua.c, and `podgym run`. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <editline/readline.h>
#include <lauxlib.h>
#include <lua.h>

#include "embedded_lua.h"
#include "modules/lb.h"
#include "cli/repl.h"
#include "runtime/runtime.h"

#define PROMPT "podgym> "
#define PROMPT2 "     >> "
#define EOFMARK "<eof>"

static lua_State *running;

static void on_sigint(int sig) {
    signal(sig, SIG_DFL);           /* a second Ctrl-C kills the process */
    if (running) rt_interrupt(running);
}

/* Call the function below nargs with Ctrl-C turned into a Lua error. */
static int docall(lua_State *L, int nargs, int nres) {
    pg_err e;
    running = L;
    signal(SIGINT, on_sigint);
    int rc = rt_pcall(L, nargs, nres, 0, &e);
    signal(SIGINT, SIG_DFL);
    running = NULL;
    if (rc != LUA_OK) {
        const char *msg = lua_tostring(L, -1);
        if (lua_istable(L, -1)) msg = e.message;
        fprintf(stderr, "%s\n", msg ? msg : e.message);
        fflush(stderr);
        lua_pop(L, 1);
    }
    return rc;
}

static int incomplete(lua_State *L, int status) {
    if (status != LUA_ERRSYNTAX) return 0;
    size_t lmsg;
    const char *msg = lua_tolstring(L, -1, &lmsg);
    if (lmsg >= sizeof EOFMARK - 1 && !strcmp(msg + lmsg - (sizeof EOFMARK - 1), EOFMARK)) {
        lua_pop(L, 1);
        return 1;
    }
    return 0;
}

/* [] -> [chunk] or [] at EOF; a syntax error is printed and [] returned with -1. */
static int read_chunk(lua_State *L, int tty) {
    char *line = tty ? readline(PROMPT) : NULL;
    static char buf[65536];
    if (!tty) {
        if (!fgets(buf, sizeof buf, stdin)) return 0;
        buf[strcspn(buf, "\n")] = '\0';
        line = strdup(buf);
    }
    if (!line) return 0;
    if (line[0] == '=') memmove(line, line + 1, strlen(line));   /* Lua 5.2-style "=expr" */
    /* first try `return <line>` so expressions print their value */
    lua_pushfstring(L, "return %s;", line);
    size_t len;
    const char *ret = lua_tolstring(L, -1, &len);
    if (luaL_loadbufferx(L, ret, len, "=stdin", "t") == LUA_OK) {
        lua_remove(L, -2);
        if (tty && line[0]) add_history(line);
        free(line);
        return 1;
    }
    lua_pop(L, 2);
    lua_pushstring(L, line);                                    /* [code] */
    free(line);
    for (;;) {
        size_t clen;
        const char *code = lua_tolstring(L, -1, &clen);
        int status = luaL_loadbufferx(L, code, clen, "=stdin", "t");
        if (!incomplete(L, status)) {
            if (tty && clen) add_history(code);
            lua_remove(L, -2);                                  /* [chunk] or [msg] */
            if (status != LUA_OK) {
                fprintf(stderr, "%s\n", lua_tostring(L, -1));
                lua_pop(L, 1);
                return -1;
            }
            return 1;
        }
        char *more = tty ? readline(PROMPT2) : NULL;
        if (!tty) {
            if (!fgets(buf, sizeof buf, stdin)) { lua_pop(L, 1); return 0; }
            buf[strcspn(buf, "\n")] = '\0';
            more = strdup(buf);
        }
        if (!more) { lua_pop(L, 1); return 0; }
        lua_pushfstring(L, "%s\n%s", lua_tostring(L, -1), more);
        lua_remove(L, -2);
        free(more);
    }
}

static void print_results(lua_State *L, int base) {
    int n = lua_gettop(L) - base;
    if (n <= 0) return;
    lua_rawgetp(L, LUA_REGISTRYINDEX, (void *)&print_results);  /* [results..., pretty] */
    lua_insert(L, base + 1);
    if (lua_pcall(L, n, 1, 0) == LUA_OK) printf("%s\n", lua_tostring(L, -1));
    else fprintf(stderr, "cannot print: %s\n", lua_tostring(L, -1));
    fflush(stdout);
    lua_settop(L, base);
}

int repl_loop(lua_State *L) {
    int tty = isatty(0);
    if (luaL_loadbufferx(L, lua_pretty, lua_pretty_len, "=pretty", "t") != LUA_OK || lua_pcall(L, 0, 1, 0) != LUA_OK) {
        fprintf(stderr, "%s\n", lua_tostring(L, -1));
        return 1;
    }
    lua_rawsetp(L, LUA_REGISTRYINDEX, (void *)&print_results);
    char hist[4096] = "";
    const char *home = getenv("HOME");
    if (tty && home) {
        snprintf(hist, sizeof hist, "%s/.podgym_history", home);
        using_history();
        read_history(hist);
    }
    if (tty) {
        pg_engine *eng = lb_engine(L);
        printf("podgym %s on the %s backend; modules: k8s loadgen jmeter sampler json log clock shared. Ctrl-D quits.\n",
               PODGYM_VERSION, eng && eng->backend ? eng->backend->ops->name : "?");
    }
    for (;;) {
        int base = lua_gettop(L);
        int r = read_chunk(L, tty);
        if (r == 0) break;
        if (r < 0) continue;
        if (docall(L, 0, LUA_MULTRET) == LUA_OK) print_results(L, base);
        lua_settop(L, base);
    }
    if (tty) {
        putchar('\n');
        if (hist[0]) write_history(hist);
    }
    return 0;
}

int repl_run_file(lua_State *L, const char *file, int argc, char **argv) {
    lua_createtable(L, argc, 1);                                /* arg, as lua.c */
    lua_pushstring(L, file);
    lua_rawseti(L, -2, 0);
    for (int i = 0; i < argc; i++) {
        lua_pushstring(L, argv[i]);
        lua_rawseti(L, -2, i + 1);
    }
    lua_setglobal(L, "arg");
    if (luaL_loadfilex(L, file, "t") != LUA_OK) {
        fprintf(stderr, "podgym: %s\n", lua_tostring(L, -1));
        return 1;
    }
    for (int i = 0; i < argc; i++) lua_pushstring(L, argv[i]);
    int base = lua_gettop(L) - argc - 1;
    if (docall(L, argc, LUA_MULTRET) != LUA_OK) return 1;
    if (lua_gettop(L) > base) {
        if (lua_isinteger(L, base + 1)) return (int)lua_tointeger(L, base + 1);
        if (lua_isboolean(L, base + 1)) return lua_toboolean(L, base + 1) ? 0 : 1;
    }
    return 0;
}
