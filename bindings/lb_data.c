/* lb_data.c: the `data` module: whole-line appends to files under data_dir
 * (episode logs), and named locks for critical sections. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lb.h"
#include "locks.h"
#include "sampler.h"

/* data.append(file, line[, header]) -> absolute path | nil, err
 * The line (a newline is added) goes out with one write(2) on an O_APPEND
 * descriptor, so concurrent appends never interleave and a row is never
 * half-written. header is written first when the file is new or empty. */
static int lb_data_append(lua_State *L) {
    const char *file = luaL_checkstring(L, 1);
    size_t len;
    const char *line = luaL_checklstring(L, 2, &len);
    const char *header = luaL_optstring(L, 3, NULL);
    luaL_argcheck(L, !memchr(line, '\n', len), 2, "one line, without a newline");
    pg_engine *eng = lb_engine(L);
    char path[4096];
    pg_err e;
    if (smp_resolve_path(eng->cfg.data_dir, file, path, sizeof path, &e) < 0) return lb_fail(L, &e);
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
        pg_errf(&e, 500, "io_error", "%s: %s", path, strerror(errno));
        return lb_fail(L, &e);
    }
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    struct stat st;
    if (header && fstat(fd, &st) == 0 && st.st_size == 0) {
        luaL_addstring(&b, header);
        luaL_addchar(&b, '\n');
    }
    luaL_addlstring(&b, line, len);
    luaL_addchar(&b, '\n');
    luaL_pushresult(&b);
    size_t n;
    const char *out = lua_tolstring(L, -1, &n);
    ssize_t w = write(fd, out, n);
    int werr = errno;
    close(fd);
    if (w != (ssize_t)n) {
        pg_errf(&e, 500, "io_error", "%s: %s", path, w < 0 ? strerror(werr) : "short write");
        return lb_fail(L, &e);
    }
    lua_pushstring(L, path);
    return 1;
}

static int unlock_and_return(lua_State *L, int status, lua_KContext ctx) {
    pthread_mutex_unlock((pthread_mutex_t *)ctx);
    if (status != LUA_OK && status != LUA_YIELD) return lua_error(L);
    return lua_gettop(L) - 2;
}

/* data.locked(name, fn, ...) -> fn's results. Only one thread of the process
 * runs inside a section of that name at a time; an error releases it. */
static int lb_data_locked(lua_State *L) {
    const char *name = luaL_checkstring(L, 1);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    pg_err e;
    pthread_mutex_t *m = pg_lock_named(name, &e);
    if (!m) return luaL_error(L, "%s", e.message);
    pthread_mutex_lock(m);
    lua_pushvalue(L, 2);
    lua_rotate(L, 3, 1);                            /* [name, fn, fn, args...] */
    int status = lua_pcallk(L, lua_gettop(L) - 3, LUA_MULTRET, 0, (lua_KContext)m, unlock_and_return);
    return unlock_and_return(L, status, (lua_KContext)m);
}

int luaopen_data(lua_State *L) {
    static const luaL_Reg fns[] = {
        { "append", lb_data_append },
        { "locked", lb_data_locked },
        { NULL, NULL },
    };
    luaL_newlib(L, fns);
    return 1;
}
