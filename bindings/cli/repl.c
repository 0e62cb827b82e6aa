/* repl.c: a Lua prompt in the manner of lua.c, and `podgym run`.
 *
 * Ctrl-C: while a statement runs, it is interrupted (rt_interrupt: the hook
 * raises "interrupted!" once control is back in Lua, and the blocking C
 * calls, a sleep, a wait, a load test, check rt_interrupted and return
 * early); a third one that the statement has not answered kills the
 * process. At the prompt it drops the line being typed, as python does:
 * libedit runs in its callback mode under pselect, which sees the signal. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <unistd.h>

#include <editline/readline.h>
#include <lauxlib.h>
#include <lua.h>

#include "embedded_lua.h"
#include "embedded_meta.h"
#include "modules/lb.h"
#include "cli/repl.h"
#include "runtime/runtime.h"

#define EOFMARK "<eof>"
#define LINE_MAX_BYTES 65536
#define HISTORY_MAX 1000

static volatile sig_atomic_t got_sigint;
static lua_State *volatile running;
static volatile sig_atomic_t unanswered;    /* Ctrl-Cs the running statement has not answered */

static void on_sigint(int sig) {
    (void)sig;
    got_sigint = 1;
    lua_State *L = running;
    if (!L) return;
    if (++unanswered >= 3) {                /* stuck where no interrupt reaches: give up */
        signal(SIGINT, SIG_DFL);
        raise(SIGINT);
    }
    rt_interrupt(L);
}

void repl_signals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;              /* no SA_RESTART: a blocking read or select returns EINTR */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
}

void repl_block_sigint(sigset_t *old, sigset_t *waiting) {
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    pthread_sigmask(SIG_BLOCK, &block, old);
    *waiting = *old;
    sigdelset(waiting, SIGINT);
}

int repl_take_sigint(void) {
    if (!got_sigint) return 0;
    got_sigint = 0;
    return 1;
}

/* ---- history ------------------------------------------------------------ */

static char hist_path[4096];

void repl_history_open(void) {
    const char *home = getenv("HOME");
    rl_catch_signals = 0;                   /* libedit's own handlers would re-send SIGINT to the group */
    using_history();
    stifle_history(HISTORY_MAX);
    if (!home || !*home) return;
    snprintf(hist_path, sizeof hist_path, "%s/.podgym_history", home);
    read_history(hist_path);
}

/* Every statement is written at once: an exit of any kind (Ctrl-D, os.exit,
 * an error, a signal) keeps the history. */
static void history_add(const char *code) {
    if (!code[0]) return;
    add_history(code);
    if (hist_path[0]) write_history(hist_path);
}

/* ---- reading ------------------------------------------------------------ */

static char *cb_line;
static int cb_done;

static void on_line(char *line) {
    cb_line = line;
    cb_done = 1;
}

/* One line typed at the terminal: 1 with *out (malloc'ed), 0 at EOF, -1 on
 * Ctrl-C (the line is dropped). */
static int tty_line(const char *prompt, char **out) {
    sigset_t old, waiting;
    repl_block_sigint(&old, &waiting);
    got_sigint = 0;
    cb_line = NULL;
    cb_done = 0;
    rl_callback_handler_install(prompt, on_line);
    int rc = 1;
    while (!cb_done) {
        fd_set fds;
        FD_ZERO(&fds);
        FD_SET(0, &fds);
        int r = pselect(1, &fds, NULL, NULL, NULL, &waiting);   /* SIGINT is let in here only */
        if (r < 0 && errno == EINTR) {
            if (repl_take_sigint()) {
                rc = -1;
                break;
            }
            continue;
        }
        if (r < 0) {
            rc = 0;
            break;
        }
        rl_callback_read_char();
    }
    rl_callback_handler_remove();
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc < 0) {
        fputs("^C\n", stdout);
        fflush(stdout);
        free(cb_line);
        return -1;
    }
    if (rc == 0 || !cb_line) return 0;
    *out = cb_line;
    return 1;
}

static int pipe_line(char **out) {
    static char buf[LINE_MAX_BYTES];
    if (!fgets(buf, sizeof buf, stdin)) {
        if (ferror(stdin) && errno == EINTR && repl_take_sigint()) {
            clearerr(stdin);
            return -1;
        }
        return 0;
    }
    buf[strcspn(buf, "\n")] = '\0';
    *out = strdup(buf);
    return *out ? 1 : 0;
}

static int get_line(int tty, const char *prompt, char **out) {
    return tty ? tty_line(prompt, out) : pipe_line(out);
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

int repl_read(lua_State *L, int tty, char **src) {
    char *line = NULL;
    int r = get_line(tty, REPL_PROMPT, &line);
    if (r <= 0) return r;
    if (line[0] == '=') memmove(line, line + 1, strlen(line));   /* Lua 5.2-style "=expr" */
    /* first try `return <line>` so expressions print their value */
    lua_pushfstring(L, "return %s;", line);
    size_t len;
    const char *ret = lua_tolstring(L, -1, &len);
    if (luaL_loadbufferx(L, ret, len, "=stdin", "t") == LUA_OK) {
        *src = strdup(ret);
        lua_remove(L, -2);
        if (tty) history_add(line);
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
            if (tty) history_add(code);
            *src = strdup(code);
            lua_remove(L, -2);                                  /* [chunk] or [msg] */
            if (status != LUA_OK) {
                fprintf(stderr, "%s\n", lua_tostring(L, -1));
                lua_pop(L, 1);
                free(*src);
                *src = NULL;
                return -1;
            }
            return 1;
        }
        char *more = NULL;
        r = get_line(tty, REPL_PROMPT2, &more);
        if (r <= 0) {                                           /* EOF, or Ctrl-C drops the statement */
            lua_pop(L, 1);
            return r;
        }
        lua_pushfstring(L, "%s\n%s", lua_tostring(L, -1), more);
        lua_remove(L, -2);
        free(more);
    }
}

/* ---- running ------------------------------------------------------------ */

static void out_std(void *ud, int err, const char *s, size_t n) {
    (void)ud;
    FILE *f = err ? stderr : stdout;
    fwrite(s, 1, n, f);
    fflush(f);
}

static const repl_out std_out = { out_std, NULL };

static const void *const pretty_key = &pretty_key;

int repl_setup(lua_State *L) {
    if (luaL_loadbufferx(L, lua_pretty, lua_pretty_len, "=pretty", "t") != LUA_OK || lua_pcall(L, 0, 1, 0) != LUA_OK) {
        fprintf(stderr, "%s\n", lua_tostring(L, -1));
        lua_pop(L, 1);
        return -1;
    }
    lua_rawsetp(L, LUA_REGISTRYINDEX, pretty_key);
    if (luaL_loadbufferx(L, lua_help, lua_help_len, "=help", "t") != LUA_OK) {
        fprintf(stderr, "%s\n", lua_tostring(L, -1));
        lua_pop(L, 1);
        return -1;
    }
    lua_newtable(L);
    for (int i = 0; lua_meta_index[i].name; i++) {
        lua_pushlstring(L, lua_meta_index[i].src, lua_meta_index[i].len);
        lua_setfield(L, -2, lua_meta_index[i].name);
    }
    if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
        fprintf(stderr, "help: %s\n", lua_tostring(L, -1));
        lua_pop(L, 1);
        return -1;
    }
    lua_setglobal(L, "help");
    return 0;
}

static void print_results(lua_State *L, int base, const repl_out *o) {
    int n = lua_gettop(L) - base;
    if (n <= 0) return;
    lua_rawgetp(L, LUA_REGISTRYINDEX, pretty_key);              /* [results..., pretty] */
    lua_insert(L, base + 1);
    if (lua_pcall(L, n, 1, 0) == LUA_OK) {
        lua_pushliteral(L, "\n");
        lua_concat(L, 2);
        size_t len;
        const char *s = lua_tolstring(L, -1, &len);
        o->write(o->ud, 0, s, len);
    } else {
        const char *msg = lua_pushfstring(L, "cannot print: %s\n", lua_tostring(L, -1));
        o->write(o->ud, 1, msg, strlen(msg));
    }
    lua_settop(L, base);
}

/* An error's message with a traceback; an interrupt's alone. */
static int msgh(lua_State *L) {
    const char *msg = lua_tostring(L, 1);
    if (!msg) {
        if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) return 1;
        if (lua_istable(L, 1)) {                    /* a podgym.err-like table: its message */
            lua_getfield(L, 1, "message");
            if (lua_type(L, -1) == LUA_TSTRING) return 1;
        }
        msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    }
    size_t n = strlen(msg);
    if (n >= 12 && !strcmp(msg + n - 12, "interrupted!")) {
        lua_pushstring(L, msg);
        return 1;
    }
    luaL_traceback(L, L, msg, 1);
    return 1;
}

int repl_exec(lua_State *L, int nargs, const repl_out *o) {
    int base = lua_gettop(L) - nargs;               /* the function's index */
    lua_pushcfunction(L, msgh);
    lua_insert(L, base);
    int rc = lua_pcall(L, nargs, LUA_MULTRET, base);
    lua_remove(L, base);
    base--;
    if (rc == LUA_OK) {
        if (o) print_results(L, base, o);       /* and popped; without o they stay */
        return rc;
    }
    const char *line = lua_pushfstring(L, "%s\n", lua_tostring(L, -1));
    (o ? o : &std_out)->write(o ? o->ud : NULL, 1, line, strlen(line));
    lua_settop(L, base);
    return rc;
}

/* Call the function below nargs with Ctrl-C turned into an interrupt. */
static int docall(lua_State *L, int nargs, const repl_out *o) {
    unanswered = 0;
    got_sigint = 0;
    running = L;
    int rc = repl_exec(L, nargs, o);
    running = NULL;
    rt_interrupt_clear(L);                  /* a Ctrl-C that came just as it ended */
    got_sigint = 0;
    return rc;
}

int repl_loop(lua_State *L) {
    int tty = isatty(0);
    if (repl_setup(L) < 0) return 1;
    repl_signals();
    if (tty) {
        repl_history_open();
        pg_engine *eng = lb_engine(L);
        printf("podgym %s on the %s backend. help() lists the modules; Ctrl-C stops a statement; Ctrl-D quits.\n",
               PODGYM_VERSION, eng && eng->backend ? eng->backend->ops->name : "?");
    }
    for (;;) {
        int base = lua_gettop(L);
        char *src = NULL;
        int r = repl_read(L, tty, &src);
        free(src);
        if (r == 0) break;
        if (r < 0) continue;
        docall(L, 0, &std_out);
        lua_settop(L, base);
    }
    if (tty) putchar('\n');
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
    repl_signals();
    if (docall(L, argc, NULL) != LUA_OK) return 1;
    if (lua_gettop(L) > base) {
        if (lua_isinteger(L, base + 1)) return (int)lua_tointeger(L, base + 1);
        if (lua_isboolean(L, base + 1)) return lua_toboolean(L, base + 1) ? 0 : 1;
    }
    return 0;
}
