/* runtime.c: Lua states, generations, hot reload, pcall with deadline. */
#include <dirent.h>
#include <errno.h>
#include <malloc.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "base/clock.h"
#include "base/file.h"
#include "base/hash.h"
#include "embedded_lua.h"
#include "server/http.h"
#include "modules/lb.h"
#include "base/log.h"
#include "runtime/runtime_priv.h"

#define REG_REQ "podgym.req"            /* registry: request metatable */
#define REG_ROUTES "podgym.routes"      /* registry: route declarations of this state */

struct rt_runtime {
    pg_engine *eng;
    int flags;
    pthread_mutex_t mu;
    rt_gen *cur;
    rt_state **idle;
    size_t nidle, capidle;
    int next_id;
    char last_error[1024];
    int reloads, failed;
    int replace;                        /* states closed past their memory cap, to build anew */
    pthread_t watcher;
    int watching;
    atomic_int stop;                    /* set by rt_free, read by the watcher */
    char scripts_dir[4096];
    char policies_dir[4096];
};

int lb_engine_open(lua_State *L);     /* lb_engine.c */

/* ---- files ------------------------------------------------------------ */

#define RT_SCRIPT_MAX (16u << 20)   /* a script or policy file larger than this is refused */

static int cmp_file(const void *a, const void *b) {
    return strcmp(((const rt_file *)a)->name, ((const rt_file *)b)->name);
}

static void files_free(rt_file *v, size_t n) {
    for (size_t i = 0; i < n; i++) {
        free(v[i].name);
        free(v[i].src);
    }
    free(v);
}

/* Read every *.lua under dir (and one level of sub-folders when modules).
 * Scripts are named "LABEL/x.lua"; modules "a" or "a.b", found under LABEL
 * (a static string: "policies" or "scripts/lib"). */
static int read_lua_dir(const char *dir, const char *sub, int modules, const char *label,
                        rt_file **v, size_t *n, pg_err *e) {
    char path[4096];
    snprintf(path, sizeof path, "%s%s%s", dir, sub ? "/" : "", sub ? sub : "");
    DIR *d = opendir(path);
    if (!d) {
        if (sub || errno == ENOENT) return 0;
        return pg_errf(e, 500, "reload_failed", "%s: cannot open: %s", path, strerror(errno));
    }
    struct dirent *de;
    int rc = 0;
    while ((de = readdir(d)) && rc == 0) {
        if (de->d_name[0] == '.') continue;
        char full[4096 + 256];
        snprintf(full, sizeof full, "%s/%s", path, de->d_name);
        struct stat st;
        if (stat(full, &st)) continue;
        if (S_ISDIR(st.st_mode)) {
            if (modules && !sub) rc = read_lua_dir(dir, de->d_name, modules, label, v, n, e);
            continue;
        }
        size_t nl = strlen(de->d_name);
        if (nl < 5 || strcmp(de->d_name + nl - 4, ".lua")) continue;
        size_t len;
        pg_err fe;
        char *src = pg_read_file("script", full, RT_SCRIPT_MAX, &len, &fe);
        if (!src) {
            rc = pg_errf(e, 500, "reload_failed", "%s", fe.message);
            break;
        }
        rt_file *nv = realloc(*v, (*n + 1) * sizeof **v);
        if (!nv) { free(src); rc = -1; break; }
        *v = nv;
        char name[4096 + 300];
        if (modules) snprintf(name, sizeof name, "%s%s%.*s", sub ? sub : "", sub ? "." : "", (int)(nl - 4), de->d_name);
        else snprintf(name, sizeof name, "%s/%s", label, de->d_name);
        (*v)[*n] = (rt_file){ strdup(name), modules ? label : NULL, src, len };
        (*n)++;
    }
    closedir(d);
    return rc;
}

/* ---- generations -------------------------------------------------------- */

static void gen_free(rt_gen *g) {
    if (!g) return;
    files_free(g->scripts, g->nscripts);
    files_free(g->policies, g->npolicies);
    for (size_t i = 0; i < g->nroutes; i++) {
        free(g->routes[i].path);
        free(g->routes[i].summary);
    }
    free(g->routes);
    router_free(g->router);
    free(g);
}

static void gen_unref(rt_runtime *rt, rt_gen *g) {
    pthread_mutex_lock(&rt->mu);
    int last = --g->refs == 0;
    pthread_mutex_unlock(&rt->mu);
    if (last) gen_free(g);
}

/* ---- states ------------------------------------------------------------- */

static rt_state *state_of(lua_State *L) { return *(rt_state **)lua_getextraspace(L); }

/* Ctrl-C in the repl (rt_interrupt), or a call past its deadline (deadline.c
 * sets timed_out): raise, and once past the deadline keep raising on every
 * instruction so that a pcall in the script cannot swallow it. */
void rt_deadline_hook(lua_State *L, lua_Debug *ar) {
    (void)ar;
    rt_state *s = state_of(L);
    if (!s) return;
    if (atomic_exchange(&s->interrupt, 0)) {
        lua_sethook(L, NULL, 0, 0);
        luaL_error(L, "interrupted!");
    }
    if (!atomic_load(&s->armed) || !atomic_load(&s->timed_out)) return;
    lua_sethook(L, rt_deadline_hook, LUA_MASKCOUNT, 1);
    luaL_error(L, "Lua deadline exceeded");
}

void rt_interrupt(lua_State *L) {
    rt_state *s = state_of(L);
    if (!s) return;
    atomic_store(&s->interrupt, 1);
    dl_hook_running(s);
}

int rt_interrupted(lua_State *L) {
    rt_state *s = state_of(L);
    return s && atomic_load(&s->interrupt);
}

void rt_interrupt_clear(lua_State *L) {
    rt_state *s = state_of(L);
    if (!s || !atomic_exchange(&s->interrupt, 0)) return;
    lua_sethook(L, NULL, 0, 0);
    lua_State *co = atomic_load(&s->co);
    if (co) lua_sethook(co, NULL, 0, 0);
}

void rt_set_progress(lua_State *L, rt_progress_fn fn, void *ud) {
    rt_state *s = state_of(L);
    if (!s) return;
    s->progress = fn;
    s->progress_ud = ud;
}

rt_progress_fn rt_progress_sink(lua_State *L, void **ud) {
    rt_state *s = state_of(L);
    if (!s || !s->progress) return NULL;
    *ud = s->progress_ud;
    return s->progress;
}

static int msgh(lua_State *L) {
    if (lua_type(L, 1) == LUA_TTABLE) return 1;     /* error({status=...}): keep */
    const char *msg = lua_tostring(L, 1);
    if (!msg) msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    luaL_traceback(L, L, msg, 1);
    return 1;
}

static const char *status_code(int status) {
    switch (status) {
    case 400: return "bad_request";
    case 401: return "unauthorized";
    case 403: return "forbidden";
    case 404: return "not_found";
    case 405: return "method_not_allowed";
    case 409: return "conflict";
    case 413: return "body_too_large";
    case 422: return "unprocessable";
    case 429: return "too_many_requests";
    case 502: return "bad_gateway";
    case 503: return "unavailable";
    case 504: return "timeout";
    default: return "internal";
    }
}

#define RT_ESCAPED (-1)

/* lua_pcall with s->escape set: a call stuck in C past its deadline comes
 * back here by siglongjmp from deadline.c's handler (see DL_GRACE_MS). */
static int escapable_pcall(lua_State *L, rt_state *s, int nargs, int nresults, int msgh_idx) {
    sigjmp_buf env;
    if (sigsetjmp(env, 0)) return RT_ESCAPED;
    s->escape = &env;
    atomic_signal_fence(memory_order_seq_cst);      /* the handler on this thread sees it set... */
    int rc = lua_pcall(L, nargs, nresults, msgh_idx);
    atomic_signal_fence(memory_order_seq_cst);
    s->escape = NULL;                               /* ...until the call is over */
    return rc;
}

void rt_lock_held(lua_State *L, pthread_mutex_t *m, int held) {
    rt_state *s = state_of(L);
    if (!s) return;
    if (held) {
        if (s->nheld < RT_HELD_MAX) s->held[s->nheld] = m;
        s->nheld++;
    } else if (s->nheld > 0) {
        s->nheld--;
    }
}

void rt_no_escape(lua_State *L, int enter) {
    rt_state *s = state_of(L);
    if (s) s->no_escape += enter ? 1 : -1;
}

int rt_pcall(lua_State *L, int nargs, int nresults, int deadline_ms, pg_err *e) {
    rt_state *s = state_of(L);
    int base = lua_gettop(L) - nargs;
    lua_pushcfunction(L, msgh);
    lua_insert(L, base);                            /* [msgh, f, args...] */
    rt_state *prev = NULL;
    int armed = s && deadline_ms > 0 && dl_arm(s, deadline_ms, &prev);
    int rc = armed && s->escape_ok ? escapable_pcall(L, s, nargs, nresults, base) : lua_pcall(L, nargs, nresults, base);
    if (rc == RT_ESCAPED) {
        /* Its C frames are gone and its stack is as the signal found it:
         * nothing may call into this state again but lua_close. */
        s->escape = NULL;
        s->abandoned = 1;
        dl_disarm(s, prev);
        while (s->nheld > 0) pthread_mutex_unlock(s->held[--s->nheld]);
        pg_errf(e, 504, "deadline", "Lua deadline of %d ms exceeded", deadline_ms);
        pg_log(PG_LOG_WARN, "lua: %s inside a C function; its Lua state is dropped", e->message);
        return LUA_ERRRUN;
    }
    int timed_out = armed && dl_disarm(s, prev);
    lua_remove(L, base);                            /* [results...] or [err] */
    if (s && (rc == LUA_ERRMEM || s->heap.over)) {
        /* Past the cap, even when a pcall in the script caught the memory
         * error: the request fails and rt_checkin closes the state. */
        if (rc == LUA_OK) {
            lua_settop(L, base - 1);
            lua_pushnil(L);                         /* [err] */
        }
        s->heap.over = 1;
        if (s->heap.cap) pg_errf(e, 503, "lua_memory", "Lua memory limit of %zu MB exceeded", s->heap.cap >> 20);
        else pg_errf(e, 503, "lua_memory", "not enough memory for Lua");
        pg_log(PG_LOG_WARN, "lua: %s", e->message);
        return LUA_ERRMEM;
    }
    if (rc == LUA_OK) return rc;
    if (timed_out) {
        pg_errf(e, 504, "deadline", "Lua deadline of %d ms exceeded", deadline_ms);
        pg_log(PG_LOG_WARN, "lua: %s", e->message);
        return rc;
    }
    if (lua_type(L, -1) == LUA_TTABLE) {
        lua_getfield(L, -1, "status");
        int status = (int)lua_tointeger(L, -1);
        lua_pop(L, 1);
        if (status < 400 || status > 599) status = 500;
        lua_getfield(L, -1, "code");
        const char *code = lua_tostring(L, -1);
        lua_getfield(L, -2, "message");
        const char *msg = lua_tostring(L, -1);
        pg_errf(e, status, code ? code : status_code(status), "%s", msg ? msg : "error");
        lua_pop(L, 2);
        if (status >= 500) pg_log(PG_LOG_ERROR, "lua: %s", e->message);
        return rc;
    }
    const char *msg = lua_tostring(L, -1);
    pg_log(PG_LOG_ERROR, "lua: %s", msg ? msg : "(no message)");
    /* The client sees the first line only (file:line: message), never the traceback. */
    const char *nl = msg ? strchr(msg, '\n') : NULL;
    pg_errf(e, 500, "script_error", "%.*s", msg ? (int)(nl ? nl - msg : (long)strlen(msg)) : 5,
            msg ? msg : "error");
    return rc;
}

#define CHUNK_MAX 600

/* Load script or module file f as a chunk named after it ("@scripts/x.lua",
 * "@policies/a/b.lua" for module "a.b", "@scripts/lib/ops.lua", left in
 * chunk); LUA_OK with the function pushed, else the error message pushed. */
static int load_file(lua_State *L, const rt_file *f, int policy, char chunk[CHUNK_MAX]) {
    if (policy) {
        int at = snprintf(chunk, CHUNK_MAX, "@%s/", f->root);
        snprintf(chunk + at, CHUNK_MAX - at, "%s.lua", f->name);
        for (char *c = chunk + at; *c; c++)
            if (*c == '.' && strcmp(c, ".lua")) *c = '/';
    } else {
        snprintf(chunk, CHUNK_MAX, "@%s", f->name);
    }
    return luaL_loadbufferx(L, f->src, f->len, chunk, "t");
}

/* package.searchers entry: modules of the state's generation. */
static int gen_searcher(lua_State *L) {
    rt_state *s = state_of(L);
    const char *name = luaL_checkstring(L, 1);
    if (!s || !s->gen) {
        lua_pushstring(L, "no generation");
        return 1;
    }
    for (size_t i = 0; i < s->gen->npolicies; i++) {
        rt_file *f = &s->gen->policies[i];
        if (strcmp(f->name, name)) continue;
        char chunk[CHUNK_MAX];
        if (load_file(L, f, 1, chunk) != LUA_OK) return lua_error(L);
        lua_pushstring(L, chunk + 1);               /* the file name, as searchers report it */
        return 2;
    }
    lua_pushfstring(L, "no module '%s' in policies/ or scripts/lib/", name);
    return 1;
}

static const luaL_Reg modules[] = {
    { "json", luaopen_json },   { "k8s", luaopen_k8s },       { "loadgen", luaopen_loadgen },
    { "jmeter", luaopen_jmeter }, { "sampler", luaopen_sampler }, { "log", luaopen_log },
    { "clock", luaopen_clock }, { "shared", luaopen_shared }, { "data", luaopen_data },
    { "engine", lb_engine_open }, { "docker", luaopen_docker }, { NULL, NULL },
};

static int run_embedded(lua_State *L, const char *src, size_t len, const char *name, int nargs, int nres,
                        pg_err *e) {
    if (luaL_loadbufferx(L, src, len, name, "t") != LUA_OK) {
        pg_errf(e, 500, "internal", "%s", lua_tostring(L, -1));
        lua_pop(L, 1 + nargs);
        return -1;
    }
    lua_insert(L, -1 - nargs);
    if (rt_pcall(L, nargs, nres, 0, e) != LUA_OK) {
        lua_pop(L, 1);
        return -1;
    }
    return 0;
}

/* Set the route declarations returned by one script (on the stack top) into
 * the ROUTES list; record them in gen when it has none yet, else check they
 * are the same. */
static int collect_routes(lua_State *L, rt_gen *g, int file, int *count, int record, pg_err *e) {
    const char *fname = g->scripts[file].name;
    int decl = lua_gettop(L);
    if (!lua_istable(L, decl))
        return pg_errf(e, 500, "reload_failed", "%s: must return a route table or a list of them", fname);
    int list = lua_rawlen(L, decl) > 0;
    int n = list ? (int)lua_rawlen(L, decl) : 1;
    lua_getfield(L, LUA_REGISTRYINDEX, REG_ROUTES);             /* [decl, routes] */
    for (int i = 1; i <= n; i++) {
        if (list) lua_rawgeti(L, decl, i);
        else lua_pushvalue(L, decl);                            /* [decl, routes, r] */
        if (!lua_istable(L, -1)) {
            lua_pop(L, 2);
            return pg_errf(e, 500, "reload_failed", "%s: route %d is not a table", fname, i);
        }
        lua_getfield(L, -1, "method");
        lua_getfield(L, -2, "path");
        lua_getfield(L, -3, "handler");
        lua_getfield(L, -4, "summary");                         /* [.., r, m, p, h, s] */
        const char *m = lua_tostring(L, -4), *p = lua_tostring(L, -3);
        if (lua_type(L, -4) != LUA_TSTRING || lua_type(L, -3) != LUA_TSTRING || !lua_isfunction(L, -2)) {
            lua_pop(L, 7);
            return pg_errf(e, 500, "reload_failed", "%s: route %d needs method (string), path (string) and handler (function)",
                           fname, i);
        }
        int idx = *count;
        if (record) {
            rt_route *nr = realloc(g->routes, (g->nroutes + 1) * sizeof *nr);
            if (!nr) { lua_pop(L, 7); return pg_errf(e, 500, "no_memory", "out of memory"); }
            g->routes = nr;
            rt_route *r = &g->routes[g->nroutes++];
            snprintf(r->method, sizeof r->method, "%s", m);
            r->path = strdup(p);
            r->summary = strdup(lua_isstring(L, -1) ? lua_tostring(L, -1) : "");
            r->file = file;
            char what[600];
            snprintf(what, sizeof what, "%s", fname);
            if (router_add(g->router, m, p, idx, e) < 0) {
                snprintf(what, sizeof what, "%s: %s", fname, e->message);
                pg_errf(e, 500, "reload_failed", "%s", what);
                lua_pop(L, 7);
                return -1;
            }
        } else if ((size_t)idx >= g->nroutes || strcmp(g->routes[idx].path, p)) {
            lua_pop(L, 7);
            return pg_errf(e, 500, "reload_failed", "%s: routes changed between states (not deterministic)", fname);
        }
        lua_pop(L, 4);                                          /* [decl, routes, r] */
        lua_rawseti(L, -2, idx + 1);                            /* [decl, routes] */
        (*count)++;
    }
    lua_pop(L, 2);
    return 0;
}

static int at_panic(lua_State *L) {
    pg_log(PG_LOG_ERROR, "Lua panic (unprotected error): %s", lua_tostring(L, -1));
    return 0;                           /* abort() follows, as in lauxlib */
}

static int set_pair(void *ud, const char *k, const char *v) {
    lua_State *L = ud;
    lua_pushstring(L, v);
    lua_setfield(L, -2, k);
    return 0;
}

static int set_header(void *ud, const char *k, const char *v) {
    lua_State *L = ud;
    char name[256];
    size_t i;
    for (i = 0; k[i] && i < sizeof name - 1; i++) name[i] = (char)(k[i] >= 'A' && k[i] <= 'Z' ? k[i] + 32 : k[i]);
    name[i] = '\0';
    lua_pushstring(L, v);
    lua_setfield(L, -2, name);
    return 0;
}

/* req_fields(req, "headers"|"query") -> table, built on first use (most
 * handlers read neither). A req kept past its own request gets {}. */
static int req_fields(lua_State *L) {
    rt_state *s = state_of(L);
    const char *k = luaL_checkstring(L, 2);
    lua_newtable(L);                                    /* [req, k, t] */
    lua_getfield(L, 1, "_seq");
    int current = s && s->req && lua_tointeger(L, -1) == s->req_seq;
    lua_pop(L, 1);
    if (current && !strcmp(k, "headers")) http_each(s->req, HTTP_HEADERS, set_header, L);
    else if (current && !strcmp(k, "query")) http_each(s->req, HTTP_QUERY, set_pair, L);
    return 1;
}

static void state_close(rt_state *s) {
    if (!s) return;
    dl_forget(s);
    if (s->abandoned) {
        /* lua_close runs the pending __close handlers of its dead frames:
         * each raises at once (the hook; armed and timed out for good). */
        atomic_store(&s->armed, 1);
        atomic_store(&s->timed_out, 1);
        lua_sethook(s->L, rt_deadline_hook, LUA_MASKCALL | LUA_MASKCOUNT, 1);
    }
    lua_close(s->L);
    if (s->gen) gen_unref(s->rt, s->gen);
    free(s);
}

#define GC_AUTO_MINOR 50          /* see rt_collect; below the major trigger (100) */

/* warn(): a warning becomes a WARN log line. As in lauxlib, a one-piece
 * message "@on" or "@off" switches warnings (other "@..." are ignored), and
 * the pieces of warn("a", "b") make one message; warnings start on, as with
 * `lua -W`. */
static void on_warn(void *ud, const char *msg, int tocont) {
    rt_state *s = ud;
    if (!s->warn_len && !tocont && msg[0] == '@') {
        if (!strcmp(msg, "@on")) s->warn_off = 0;
        else if (!strcmp(msg, "@off")) s->warn_off = 1;
        return;
    }
    size_t room = sizeof s->warn - 1 - s->warn_len, n = strlen(msg);
    memcpy(s->warn + s->warn_len, msg, n < room ? n : room);
    s->warn_len += n < room ? n : room;
    if (tocont) return;
    s->warn[s->warn_len] = '\0';
    if (!s->warn_off) pg_log(PG_LOG_WARN, "lua warning: %s", s->warn);
    s->warn_len = 0;
}

/* The standard libraries of a route/policy state. Only these are opened, as
 * Redis builds its scripting state; os and debug are opened into a table
 * from which only the allowed functions are taken, and package stays out of
 * reach: require keeps it as its upvalue, with the searchers set here.
 * The base library's file functions are removed, and load, setmetatable
 * and collectgarbage are narrowed by prelude.lua. */
static const luaL_Reg sandbox_libs[] = {
    { LUA_GNAME, luaopen_base },         { LUA_TABLIBNAME, luaopen_table },
    { LUA_STRLIBNAME, luaopen_string },  { LUA_MATHLIBNAME, luaopen_math },
    { LUA_UTF8LIBNAME, luaopen_utf8 },   { LUA_COLIBNAME, luaopen_coroutine },
    { NULL, NULL },
};
static const char *const os_allowed[] = { "time", "clock", "date", "difftime", NULL };
static const char *const debug_allowed[] = { "traceback", NULL };

/* [] -> []: global and package.loaded name = {allowed functions of the library} */
static void open_part(lua_State *L, const char *name, lua_CFunction open, const char *const *allowed) {
    lua_pushcfunction(L, open);
    lua_call(L, 0, 1);                              /* [lib]: neither global nor loaded */
    lua_newtable(L);                                /* [lib, part] */
    for (const char *const *f = allowed; *f; f++) {
        lua_getfield(L, -2, *f);
        lua_setfield(L, -2, *f);
    }
    lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    lua_pushvalue(L, -2);
    lua_setfield(L, -2, name);                      /* [lib, part, loaded] */
    lua_pop(L, 1);
    lua_setglobal(L, name);
    lua_pop(L, 1);
}

static void open_sandbox_libs(lua_State *L) {
    for (const luaL_Reg *l = sandbox_libs; l->name; l++) {
        luaL_requiref(L, l->name, l->func, 1);
        lua_pop(L, 1);
    }
    open_part(L, LUA_OSLIBNAME, luaopen_os, os_allowed);
    open_part(L, LUA_DBLIBNAME, luaopen_debug, debug_allowed);
    lua_pushnil(L);
    lua_setglobal(L, "dofile");
    lua_pushnil(L);
    lua_setglobal(L, "loadfile");
    lua_getglobal(L, LUA_STRLIBNAME);
    lua_pushnil(L);
    lua_setfield(L, -2, "dump");
    lua_pop(L, 1);
    /* package: require's own, set as a global by luaopen_package */
    lua_pushcfunction(L, luaopen_package);
    lua_call(L, 0, 1);                              /* [package] */
    lua_getfield(L, -1, "searchers");
    lua_rawgeti(L, -1, 1);                          /* [package, searchers, preload] */
    lua_createtable(L, 2, 0);
    lua_insert(L, -2);
    lua_rawseti(L, -2, 1);
    lua_pushcfunction(L, gen_searcher);
    lua_rawseti(L, -2, 2);                          /* [package, searchers, new] */
    lua_setfield(L, -3, "searchers");
    lua_pop(L, 1);
    static const char *const drop[] = { "loadlib", "searchpath", "path", "cpath", NULL };
    for (const char *const *f = drop; *f; f++) {
        lua_pushnil(L);
        lua_setfield(L, -2, *f);
    }
    lua_pop(L, 1);
}

static size_t heap_bytes(lua_State *L) { return state_of(L)->heap.used; }

static rt_state *state_new(pg_engine *eng, rt_runtime *rt, rt_gen *g, int flags, pg_err *e) {
    rt_state *s = calloc(1, sizeof *s);
    if (!s) { pg_errf(e, 500, "no_memory", "out of memory"); return NULL; }
    s->eng = eng;
    s->rt = rt;
    s->flags = flags;
    int sandboxed = (flags & RT_SANDBOX) != 0;
    if (sandboxed && eng) s->heap.cap = (size_t)eng->cfg.limits.lua_memory_mb << 20;
    lua_State *L = s->L = lua_newstate(lb_heap_alloc, &s->heap);
    if (!L) {
        free(s);
        pg_errf(e, 500, "no_memory", "cannot create a Lua state");
        return NULL;
    }
    lua_atpanic(L, at_panic);
    lua_gc(L, LUA_GCGEN, GC_AUTO_MINOR, 0);     /* requests leave short-lived garbage */
    *(rt_state **)lua_getextraspace(L) = s;
    lua_setwarnf(L, on_warn, s);
    if (sandboxed) open_sandbox_libs(L);
    else luaL_openlibs(L);
    dl_open_coroutines(L);
    if (g) {
        pthread_mutex_lock(&rt->mu);
        g->refs++;
        pthread_mutex_unlock(&rt->mu);
        s->gen = g;
    }

    /* [] preload every module and make each a global too */
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
    for (const luaL_Reg *m = modules; m->name; m++) {
        lua_pushcfunction(L, m->func);
        lua_setfield(L, -2, m->name);
    }
    if (!(flags & RT_SANDBOX)) {        /* repl/run: lua-cjson's own module, encoder and all, */
        lua_pushcfunction(L, luaopen_cjson);    /* only as tests/bench/bj_json.py's reference */
        lua_setfield(L, -2, "podgym.test.cjson");
    }
    lua_pop(L, 1);
    lua_newtable(L);
    lua_setfield(L, LUA_REGISTRYINDEX, REG_ROUTES);

    lua_pushboolean(L, sandboxed);
    lua_pushcfunction(L, req_fields);
    if (run_embedded(L, lua_prelude, lua_prelude_len, "=prelude", 2, 1, e) < 0) goto fail;
    lua_setfield(L, LUA_REGISTRYINDEX, REG_REQ);

    for (const luaL_Reg *m = modules; m->name; m++) {
        luaL_requiref(L, m->name, m->func, 0);      /* preloaded as package.loaded too */
        lua_pop(L, 1);
        lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
        lua_getfield(L, -1, m->name);
        lua_setglobal(L, m->name);
        lua_pop(L, 1);
    }

    /* repl/run keep the standard searchers and find policies on disk (the
     * sandbox's searchers are {preload, this generation's modules}). */
    if (!sandboxed && eng) {
        const char *pol = rt ? rt->policies_dir : eng->cfg.policies;
        const char *scr = rt ? rt->scripts_dir : eng->cfg.scripts;
        lua_getglobal(L, "package");
        lua_getfield(L, -1, "path");
        lua_pushfstring(L, "%s/?.lua;%s/?/init.lua;%s/lib/?.lua;%s", pol, pol, scr, lua_tostring(L, -1));
        lua_setfield(L, -3, "path");
        lua_pop(L, 2);
    }

    if (g) {
        int deadline = eng ? eng->cfg.limits.lua_deadline_ms : 0;
        int record = g->router == NULL;
        if (record) g->router = router_new();
        int count = 0;
        for (size_t i = 0; i < g->nscripts; i++) {
            char chunk[CHUNK_MAX];
            if (load_file(L, &g->scripts[i], 0, chunk) != LUA_OK) {
                pg_errf(e, 422, "reload_failed", "%s", lua_tostring(L, -1));
                goto fail;
            }
            if (rt_pcall(L, 0, 1, deadline, e) != LUA_OK) {
                char msg[sizeof e->message];
                snprintf(msg, sizeof msg, "%s", e->message);
                pg_errf(e, 422, "reload_failed", "%s", msg);
                goto fail;
            }
            if (collect_routes(L, g, (int)i, &count, record, e) < 0) {
                e->status = 422;
                goto fail;
            }
        }
        if (!record && (size_t)count != g->nroutes) {
            pg_errf(e, 500, "reload_failed", "routes changed between states (not deterministic)");
            goto fail;
        }
        if (record) {
            /* Compile every policy, then require it: syntax and top-level errors
             * are caught before the generation is swapped in. */
            for (size_t i = 0; i < g->npolicies; i++) {
                rt_file *f = &g->policies[i];
                char chunk[CHUNK_MAX];
                if (load_file(L, f, 1, chunk) != LUA_OK) {
                    pg_errf(e, 422, "reload_failed", "%s", lua_tostring(L, -1));
                    goto fail;
                }
                lua_pop(L, 1);
                lua_getglobal(L, "require");
                lua_pushstring(L, f->name);
                if (rt_pcall(L, 1, 0, deadline, e) != LUA_OK) {
                    char msg[sizeof e->message];
                    snprintf(msg, sizeof msg, "%s", e->message);
                    pg_errf(e, 422, "reload_failed", "%s", msg);
                    goto fail;
                }
            }
        }
    }
    if (sandboxed && run_embedded(L, lua_strict, lua_strict_len, "=strict", 0, 0, e) < 0) goto fail;
    lua_settop(L, 0);
    lua_gc(L, LUA_GCCOLLECT);                   /* the loading's garbage */
    s->gc_base = heap_bytes(L);
    return s;
fail:
    state_close(s);
    return NULL;
}

lua_State *rt_open_state(pg_engine *eng, int flags) {
    pg_err e;
    rt_state *s = state_new(eng, eng ? eng->rt : NULL, NULL, flags, &e);
    if (!s) {
        pg_log(PG_LOG_ERROR, "%s", e.message);
        return NULL;
    }
    return s->L;
}

void rt_close_state(lua_State *L) {
    if (L) state_close(state_of(L));
}

lua_State *rt_lua(rt_state *s) { return s->L; }
const pg_router *rt_router(rt_state *s) { return s->gen->router; }

void rt_push_handler(rt_state *s, int route) {
    lua_getfield(s->L, LUA_REGISTRYINDEX, REG_ROUTES);
    lua_rawgeti(s->L, -1, route + 1);
    lua_getfield(s->L, -1, "handler");                  /* [routes, decl, handler] */
    lua_replace(s->L, -3);
    lua_pop(s->L, 1);
}

/* ---- runtime ------------------------------------------------------------ */

/* path as an absolute path when it names a folder, else NULL; takes
 * ownership of path (may be NULL). The result is malloc'ed. */
static char *existing_dir(char *path) {
    struct stat st;
    char *abs = path ? realpath(path, NULL) : NULL;
    free(path);
    if (abs && (stat(abs, &st) != 0 || !S_ISDIR(st.st_mode))) {
        free(abs);
        abs = NULL;
    }
    return abs;
}

/* The source tree of a binary run from its build tree: CMake writes it into
 * podgym-source-dir beside the binary, and `cmake --install` copies only the
 * binary. malloc'ed, or NULL for an installed (or copied) binary. */
static char *build_tree_source(const char *exe_dir) {
    char *marker = NULL, *line = NULL;
    size_t cap = 0;
    if (asprintf(&marker, "%s/podgym-source-dir", exe_dir) < 0) return NULL;
    FILE *f = fopen(marker, "r");
    free(marker);
    if (!f) return NULL;
    ssize_t len = getline(&line, &cap, f);
    fclose(f);
    if (len <= 0) {
        free(line);
        return NULL;
    }
    line[strcspn(line, "\n")] = '\0';
    return line;
}

/* A folder of the config (scripts, policies) as given. A default value
 * (want == deflt) that is not a folder of the cwd is looked for next in
 * <dir of the executable>/../share/podgym/<deflt>, where `cmake --install`
 * puts it, then in the source tree of a binary run from its build tree. */
static void resolve_dir(char *out, size_t n, const char *want, const char *deflt) {
    struct stat st;
    snprintf(out, n, "%s", want);
    if (stat(want, &st) == 0 || strcmp(want, deflt)) return;
    char *exe = realpath("/proc/self/exe", NULL), *slash = exe ? strrchr(exe, '/') : NULL;
    char *path = NULL, *src = NULL, *dir = NULL;
    if (slash) {
        *slash = '\0';                                  /* exe: the executable's folder */
        if (asprintf(&path, "%s/../share/podgym/%s", exe, deflt) >= 0) dir = existing_dir(path);
        if (!dir && (src = build_tree_source(exe)) && asprintf(&path, "%s/%s", src, deflt) >= 0)
            dir = existing_dir(path);
    }
    if (dir && strlen(dir) < n) snprintf(out, n, "%s", dir);
    free(dir);
    free(src);
    free(exe);
}

static rt_gen *gen_build(rt_runtime *rt, rt_state **first, pg_err *e) {
    rt_gen *g = calloc(1, sizeof *g);
    if (!g) { pg_errf(e, 500, "no_memory", "out of memory"); return NULL; }
    char libdir[sizeof rt->scripts_dir + 8];
    snprintf(libdir, sizeof libdir, "%s/lib", rt->scripts_dir);
    if (read_lua_dir(rt->scripts_dir, NULL, 0, "scripts", &g->scripts, &g->nscripts, e) < 0 ||
        read_lua_dir(rt->policies_dir, NULL, 1, "policies", &g->policies, &g->npolicies, e) < 0 ||
        read_lua_dir(libdir, NULL, 1, "scripts/lib", &g->policies, &g->npolicies, e) < 0) {
        gen_free(g);
        return NULL;
    }
    if (g->nscripts) qsort(g->scripts, g->nscripts, sizeof *g->scripts, cmp_file);
    if (g->npolicies) qsort(g->policies, g->npolicies, sizeof *g->policies, cmp_file);
    for (size_t i = 1; i < g->npolicies; i++) {
        if (strcmp(g->policies[i - 1].name, g->policies[i].name)) continue;
        pg_errf(e, 422, "reload_failed", "module '%s' is both in %s/ and in %s/", g->policies[i].name,
                g->policies[i - 1].root, g->policies[i].root);
        gen_free(g);
        return NULL;
    }
    /* built-in engine routes come with every generation */
    rt_file *nv = realloc(g->scripts, (g->nscripts + 1) * sizeof *nv);
    if (!nv) { gen_free(g); pg_errf(e, 500, "no_memory", "out of memory"); return NULL; }
    g->scripts = nv;
    g->scripts[g->nscripts].name = strdup("builtin/engine.lua");
    g->scripts[g->nscripts].root = NULL;
    g->scripts[g->nscripts].src = malloc(lua_engine_routes_len);
    memcpy(g->scripts[g->nscripts].src, lua_engine_routes, lua_engine_routes_len);
    g->scripts[g->nscripts].len = lua_engine_routes_len;
    g->nscripts++;
    g->loaded_at = pg_wall();
    g->hash = rt->eng ? rt->eng->config_hash : PG_HASH_INIT;
    const rt_file *lists[] = { g->scripts, g->policies };
    const size_t counts[] = { g->nscripts, g->npolicies };
    for (size_t l = 0; l < 2; l++)
        for (size_t i = 0; i < counts[l]; i++) {
            g->hash = pg_hash(g->hash, lists[l][i].name, strlen(lists[l][i].name) + 1);
            g->hash = pg_hash(g->hash, lists[l][i].src, lists[l][i].len);
        }
    g->refs = 1;                                /* becomes the "current" reference */
    rt_state *s = state_new(rt->eng, rt, g, rt->flags, e);
    if (!s) {
        gen_unref(rt, g);
        return NULL;
    }
    *first = s;
    return g;
}

rt_runtime *rt_new(pg_engine *eng, int flags, pg_err *e) {
    rt_runtime *rt = calloc(1, sizeof *rt);
    if (!rt) { pg_errf(e, 500, "no_memory", "out of memory"); return NULL; }
    rt->eng = eng;
    rt->flags = flags;
    pthread_mutex_init(&rt->mu, NULL);
    resolve_dir(rt->scripts_dir, sizeof rt->scripts_dir, eng->cfg.scripts, "scripts");
    resolve_dir(rt->policies_dir, sizeof rt->policies_dir, eng->cfg.policies, "policies");
    const char *dirs[][2] = { { rt->scripts_dir, "scripts" }, { rt->policies_dir, "policies" } };
    for (size_t i = 0; i < 2; i++) {
        struct stat st;
        if (stat(dirs[i][0], &st) == 0 && S_ISDIR(st.st_mode)) continue;
        pg_errf(e, 2, "config", "%s: the %s folder '%s' does not exist", eng->cfg.path[0] ? eng->cfg.path : "(no config file)",
                dirs[i][1], dirs[i][0]);
        rt_free(rt);
        return NULL;
    }
    eng->rt = rt;
    if (rt_reload(rt, e) < 0) {
        eng->rt = NULL;
        rt_free(rt);
        return NULL;
    }
    return rt;
}

/* One reload at a time (the file watcher's and POST /_engine/reload's):
 * two builds at once could swap the one that read the older files in last. */
static pthread_mutex_t reload_mu = PTHREAD_MUTEX_INITIALIZER;

int rt_reload(rt_runtime *rt, pg_err *e) {
    rt_state *first = NULL;
    pg_err err;
    pthread_mutex_lock(&reload_mu);
    rt_gen *g = gen_build(rt, &first, &err);
    pthread_mutex_lock(&rt->mu);
    rt->reloads++;
    if (!g) {
        rt->failed++;
        snprintf(rt->last_error, sizeof rt->last_error, "%s", err.message);
        pthread_mutex_unlock(&rt->mu);
        pthread_mutex_unlock(&reload_mu);
        if (e) *e = err;
        return -1;
    }
    g->id = ++rt->next_id;
    int id = g->id;                             /* g may be freed by a concurrent reload */
    size_t nroutes = g->nroutes;
    rt_gen *old = rt->cur;
    rt->cur = g;
    rt->last_error[0] = '\0';
    /* idle states of the old generation go now; busy ones when they come back */
    rt_state **drop = NULL;
    size_t ndrop = 0;
    if (rt->nidle) {
        drop = malloc(rt->nidle * sizeof *drop);
        if (drop) {
            memcpy(drop, rt->idle, rt->nidle * sizeof *drop);
            ndrop = rt->nidle;
            rt->nidle = 0;
        }
    }
    pthread_mutex_unlock(&rt->mu);
    for (size_t i = 0; i < ndrop; i++) state_close(drop[i]);
    free(drop);
    if (old) gen_unref(rt, old);
    rt_checkin(rt, first);
    pthread_mutex_unlock(&reload_mu);
    if (id > 1) pg_log(PG_LOG_INFO, "reload: generation %d, %zu routes", id, nroutes);
    return 0;
}

int rt_generation(rt_runtime *rt) {
    pthread_mutex_lock(&rt->mu);
    int id = rt->cur ? rt->cur->id : 0;
    pthread_mutex_unlock(&rt->mu);
    return id;
}

void rt_last_error(rt_runtime *rt, char *buf, size_t n) {
    pthread_mutex_lock(&rt->mu);
    snprintf(buf, n, "%s", rt->last_error);
    pthread_mutex_unlock(&rt->mu);
}

int rt_reloads(rt_runtime *rt, int *failed) {
    pthread_mutex_lock(&rt->mu);
    int n = rt->reloads;
    if (failed) *failed = rt->failed;
    pthread_mutex_unlock(&rt->mu);
    return n;
}

/* A new state of the current generation; called with rt->mu held, which it releases. */
static rt_state *state_new_current(rt_runtime *rt) {
    rt_gen *g = rt->cur;
    g->refs++;                                  /* hold it while the state is built */
    pthread_mutex_unlock(&rt->mu);
    pg_err e;
    rt_state *s = state_new(rt->eng, rt, g, rt->flags, &e);
    gen_unref(rt, g);
    if (!s) pg_log(PG_LOG_ERROR, "cannot create a Lua state: %s", e.message);
    return s;
}

rt_state *rt_checkout(rt_runtime *rt) {
    pthread_mutex_lock(&rt->mu);
    while (rt->nidle) {
        rt_state *s = rt->idle[--rt->nidle];
        if (s->gen == rt->cur) {
            pthread_mutex_unlock(&rt->mu);
            return s;
        }
        pthread_mutex_unlock(&rt->mu);
        state_close(s);
        pthread_mutex_lock(&rt->mu);
    }
    return state_new_current(rt);
}

/* Collection off the request's path. Requests leave short-lived garbage,
 * and the generational collector pays for it with a young collection when
 * its allocation debt runs out, inside whichever request allocates then.
 * Instead, a state checked in with its heap grown by GC_DUE_PCT % since its
 * last collection is marked due, and rt_collect runs the collection for it,
 * called by a thread whose response is already out (before it reads its
 * connection's next request; it takes the state checked in last, which
 * under concurrent connections may be another's). The collector's own
 * trigger stays as the bound, moved to GC_AUTO_MINOR % (Lua's default is
 * 20): only a request that allocates that much meets it. */
#define GC_DUE_PCT 20
#define GC_DUE_MIN (32 * 1024)

void rt_checkin(rt_runtime *rt, rt_state *s) {
    if (!s) return;
    if (s->heap.over || s->abandoned) {
        /* Past its cap, or left stuck by its deadline: whatever it holds
         * goes, and the memory goes back to the system (glibc keeps freed
         * blocks for reuse otherwise). */
        state_close(s);
        malloc_trim(0);
        pthread_mutex_lock(&rt->mu);
        rt->replace++;
        pthread_mutex_unlock(&rt->mu);
        return;
    }
    lua_settop(s->L, 0);
    size_t grow = s->gc_base / 100 * GC_DUE_PCT;
    if (grow < GC_DUE_MIN) grow = GC_DUE_MIN;
    s->gc_due = heap_bytes(s->L) > s->gc_base + grow;
    pthread_mutex_lock(&rt->mu);
    size_t limit = (size_t)(rt->eng->cfg.limits.states > 0 ? rt->eng->cfg.limits.states : 32);
    if (s->gen == rt->cur && rt->nidle < limit) {
        if (rt->nidle == rt->capidle) {
            size_t cap = rt->capidle ? rt->capidle * 2 : 8;
            rt_state **v = realloc(rt->idle, cap * sizeof *v);
            if (v) { rt->idle = v; rt->capidle = cap; }
        }
        if (rt->nidle < rt->capidle) {
            rt->idle[rt->nidle++] = s;
            pthread_mutex_unlock(&rt->mu);
            return;
        }
    }
    pthread_mutex_unlock(&rt->mu);
    state_close(s);
}

/* A debt of the whole heap: the collector's own step, which picks a young
 * or (when the old generation has grown) a full collection. */
static int collect_step(lua_State *L) {
    lua_gc(L, LUA_GCSTEP, (int)(heap_bytes(L) / 1024) + 1);
    return 0;
}

void rt_collect(rt_runtime *rt) {
    pthread_mutex_lock(&rt->mu);
    if (rt->replace) {                          /* for a state closed past its cap */
        rt->replace--;
        rt_checkin(rt, state_new_current(rt));
        return;
    }
    rt_state *s = rt->nidle ? rt->idle[rt->nidle - 1] : NULL;
    if (!s || !s->gc_due) {
        pthread_mutex_unlock(&rt->mu);
        return;
    }
    rt->nidle--;
    pthread_mutex_unlock(&rt->mu);
    /* Protected: whatever a (C) finalizer raises stays here. Scripts have
     * none (prelude.lua), which the deadline could not stop: the collector
     * runs finalizers with hooks off. */
    pg_err e;
    lua_pushcfunction(s->L, collect_step);
    if (rt_pcall(s->L, 0, 0, 0, &e) != LUA_OK) lua_settop(s->L, 0);
    s->gc_base = heap_bytes(s->L);
    rt_checkin(rt, s);
}

/* ---- watcher ------------------------------------------------------------ */

static void add_watches(int fd, const char *dir, int depth) {
    const uint32_t mask = IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CREATE;
    if (inotify_add_watch(fd, dir, mask) < 0) return;
    if (depth == 0) return;
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        char sub[4096 + 256];
        snprintf(sub, sizeof sub, "%s/%s", dir, de->d_name);
        struct stat st;
        if (!stat(sub, &st) && S_ISDIR(st.st_mode)) add_watches(fd, sub, depth - 1);
    }
    closedir(d);
}

static void *watch_main(void *arg) {
    rt_runtime *rt = arg;
    int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd < 0) return NULL;
    add_watches(fd, rt->scripts_dir, 1);          /* scripts/ and scripts/lib/ */
    add_watches(fd, rt->policies_dir, 1);
    char buf[8192] __attribute__((aligned(8)));
    while (!rt->stop) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        if (poll(&p, 1, 200) <= 0) continue;
        int relevant = 0;
        /* drain, then wait a moment for the rest of an editor's save */
        for (int round = 0; round < 2; round++) {
            ssize_t n;
            while ((n = read(fd, buf, sizeof buf)) > 0) {
                for (char *q = buf; q < buf + n;) {
                    struct inotify_event *ev = (struct inotify_event *)q;
                    if (ev->mask & IN_ISDIR) relevant = 2;     /* new folder: rewatch */
                    else if (ev->len && strlen(ev->name) > 4 &&
                             !strcmp(ev->name + strlen(ev->name) - 4, ".lua") && !(ev->mask & IN_CREATE))
                        relevant |= 1;
                    q += sizeof *ev + ev->len;
                }
            }
            if (round == 0) pg_sleep(0.025);
        }
        if (relevant & 2) {
            add_watches(fd, rt->scripts_dir, 1);
            add_watches(fd, rt->policies_dir, 1);
        }
        if (!relevant) continue;
        pg_err e;
        if (rt_reload(rt, &e) < 0) pg_log(PG_LOG_ERROR, "reload failed, previous version keeps serving: %s", e.message);
    }
    close(fd);
    return NULL;
}

int rt_watch(rt_runtime *rt, pg_err *e) {
    if (pthread_create(&rt->watcher, NULL, watch_main, rt))
        return pg_errf(e, 500, "internal", "cannot start the file watcher");
    rt->watching = 1;
    return 0;
}

void rt_free(rt_runtime *rt) {
    if (!rt) return;
    if (rt->watching) {
        rt->stop = 1;
        pthread_join(rt->watcher, NULL);
    }
    for (size_t i = 0; i < rt->nidle; i++) state_close(rt->idle[i]);
    free(rt->idle);
    if (rt->cur) gen_unref(rt, rt->cur);
    pthread_mutex_destroy(&rt->mu);
    free(rt);
}

/* accessors for lb_engine.c */
rt_gen *rt_state_gen(rt_state *s) { return s->gen; }
rt_state *rt_state_of(lua_State *L) { return state_of(L); }
const char *rt_scripts_dir(rt_runtime *rt) { return rt->scripts_dir; }
const char *rt_policies_dir(rt_runtime *rt) { return rt->policies_dir; }
