/* lb_data.c: the `data` module: whole-line appends to files under data_dir and their tails
 * (episode logs), and named locks for critical sections. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/csv.h"
#include "base/file.h"
#include "base/hash.h"
#include "modules/lb.h"
#include "base/locks.h"
#include "runtime/runtime.h"
#include "sampler/sampler.h"

int fpconv_g_fmt(char *str, double num, int precision);    /* json_fpconv.c */

/* Field i of the row at t as one CSV field: numbers as JSON prints them,
 * booleans 1/0, nil and json.null empty, strings quoted when they hold a
 * comma, quote or newline. The field is read raw and popped before the
 * buffer grows (a luaL_Buffer wants the stack as it left it); a string
 * stays alive in the row. */
static void add_csv_field(lua_State *L, luaL_Buffer *b, int t, lua_Integer i) {
    const char *s = NULL;
    size_t n = 0;
    switch (lua_rawgeti(L, t, i)) {
    case LUA_TNUMBER: {                     /* popped first, then straight into the buffer */
        int isint = lua_isinteger(L, -1);
        lua_Integer v = isint ? lua_tointeger(L, -1) : 0;
        lua_Number d = isint ? 0 : lua_tonumber(L, -1);
        lua_pop(L, 1);
        char *o = luaL_prepbuffsize(b, 32);
        if (!isint) n = (size_t)fpconv_g_fmt(o, d, 14);
        else if (v > -100000000000000 && v < 100000000000000) n = (size_t)fpconv_g_fmt(o, (double)v, 14);
        else n = (size_t)snprintf(o, 32, LUA_INTEGER_FMT, v);     /* exact, as %.14g is not */
        luaL_addsize(b, n);
        return;
    }
    case LUA_TBOOLEAN: {
        int on = lua_toboolean(L, -1);
        lua_pop(L, 1);
        luaL_addchar(b, on ? '1' : '0');
        return;
    }
    case LUA_TNIL:
    case LUA_TLIGHTUSERDATA: break;                    /* json.null */
    case LUA_TSTRING: s = lua_tolstring(L, -1, &n); break;
    default: luaL_error(L, "field %d: a %s cannot go in a CSV row", (int)i, luaL_typename(L, -1));
    }
    lua_pop(L, 1);
    if (!n) return;
    char *o = luaL_prepbuffsize(b, pg_csv_field_len(s, n));
    luaL_addsize(b, (size_t)(pg_csv_field_write(o, s, n) - o));
}

/* Appends keep their files open (a small cache, least recently used out)
 * so a row costs one write(2) and one fstat(2) rather than open, fstat,
 * write and close; a file deleted meanwhile is created anew. 256 files: a
 * vector of envs writes one episode file per env and step (fewer open
 * descriptors than the usual 1024 a process may hold). A slot is found by
 * the path's hash first. */
#define FD_CACHE 256

static struct {
    char *path;
    int fd;
    unsigned long used;
} fds[FD_CACHE];
static uint64_t fd_hash[FD_CACHE];
static unsigned long fd_clock;
static pthread_mutex_t fd_mu = PTHREAD_MUTEX_INITIALIZER;

static int cached_fd(const char *path, struct stat *st) {
    int slot = -1, lru = 0;
    uint64_t h = pg_hash(PG_HASH_INIT, path, strlen(path));
    for (int i = 0; i < FD_CACHE; i++) {
        if (fd_hash[i] == h && fds[i].used && !strcmp(fds[i].path, path)) {
            slot = i;
            break;
        }
    }
    if (slot >= 0) {
        if (fstat(fds[slot].fd, st) == 0 && st->st_nlink > 0) {
            fds[slot].used = ++fd_clock;
            return fds[slot].fd;
        }
        close(fds[slot].fd);                        /* deleted or replaced: reopen */
        fds[slot].used = 0;
        lru = slot;
    } else {
        for (int i = 1; i < FD_CACHE; i++)
            if (fds[i].used < fds[lru].used) lru = i;
    }
    char *copy = strdup(path);
    int fd = copy ? open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644) : -1;
    if (fd < 0 || fstat(fd, st) < 0) {
        if (fd >= 0) close(fd);
        free(copy);
        return -1;
    }
    if (fds[lru].used) close(fds[lru].fd);
    free(fds[lru].path);
    fds[lru].path = copy;
    fd_hash[lru] = h;
    fds[lru].fd = fd;
    fds[lru].used = ++fd_clock;
    return fd;
}

/* Write out (whose first hlen bytes are the header, written only to an
 * empty file) with one write(2). 0, or -1 with e filled; e->status is left
 * 0 when the path itself could not be opened (the caller may resolve it again). */
static int append_whole(const char *path, const char *out, size_t n, size_t hlen, pg_err *e) {
    pthread_mutex_lock(&fd_mu);
    struct stat st;
    int fd = cached_fd(path, &st);
    if (fd < 0) {
        int err = errno;
        pthread_mutex_unlock(&fd_mu);
        pg_errf(e, 500, "io", "%s: %s", path, strerror(err));
        if (err == ENOENT) e->status = 0;
        return -1;
    }
    if (st.st_size > 0) {
        out += hlen;
        n -= hlen;
    }
    int rc = pg_write_whole(fd, out, n, st.st_size, path, e);
    pthread_mutex_unlock(&fd_mu);
    return rc;
}

/* data.append(file, line_or_fields[, header]) -> absolute path | nil, err
 * The line (a newline is added), or the list of fields formatted as one CSV
 * row, goes out with one write(2) on an O_APPEND descriptor, so concurrent
 * appends never interleave; a write that fails part-way (a full disk) cuts
 * the file back, so a row is whole or absent (507 insufficient_storage, or
 * 500 io). header is written first when the file is new or empty. */
static int lb_data_append(lua_State *L) {
    const char *file = luaL_checkstring(L, 1);
    int fields = lua_istable(L, 2);
    size_t len = 0;
    const char *line = fields ? NULL : luaL_checklstring(L, 2, &len);
    const char *header = luaL_optstring(L, 3, NULL);
    luaL_argcheck(L, fields || !memchr(line, '\n', len), 2, "one line, without a newline");
    pg_engine *eng = lb_engine(L);
    char fresh[4096];
    pg_err e;
    /* Resolving checks and creates folders: remember the answer per state
     * (registry table file -> path); a vanished folder is resolved anew. */
    lua_getfield(L, LUA_REGISTRYINDEX, "podgym.data.paths");
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        lua_newtable(L);
        lua_pushvalue(L, -1);
        lua_setfield(L, LUA_REGISTRYINDEX, "podgym.data.paths");
    }
    int cache = lua_gettop(L);                      /* [file, row, header?, paths] */
    int known = lua_getfield(L, cache, file) == LUA_TSTRING;   /* [.., paths, path] */
    if (!known) {
        lua_pop(L, 1);
        if (smp_resolve_path(eng->cfg.data_dir, file, fresh, sizeof fresh, &e) < 0) return lb_fail(L, &e);
        lua_pushstring(L, fresh);
        lua_pushvalue(L, -1);
        lua_setfield(L, cache, file);
    }
    int pidx = lua_gettop(L);
    const char *path = lua_tostring(L, pidx);       /* kept alive by the stack and the cache */
    /* header line (when the file turns out empty), then the row: one buffer */
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    if (header) {
        luaL_addstring(&b, header);
        luaL_addchar(&b, '\n');
    }
    size_t hlen = luaL_bufflen(&b);
    if (fields) {
        lua_Integer n = (lua_Integer)lua_rawlen(L, 2);
        for (lua_Integer i = 1; i <= n; i++) {
            if (i > 1) luaL_addchar(&b, ',');
            add_csv_field(L, &b, 2, i);
        }
    } else {
        luaL_addlstring(&b, line, len);
    }
    luaL_addchar(&b, '\n');
    const char *out = luaL_buffaddr(&b);
    size_t n = luaL_bufflen(&b);
    pg_err_clear(&e);
    int rc = append_whole(path, out, n, hlen, &e);
    if (rc < 0 && known && e.status == 0) {         /* its folder vanished: resolve again */
        if (smp_resolve_path(eng->cfg.data_dir, file, fresh, sizeof fresh, &e) < 0) return lb_fail(L, &e);
        rc = append_whole(fresh, out, n, hlen, &e);
        if (rc == 0) {
            lua_pushstring(L, fresh);
            lua_pushvalue(L, -1);
            lua_setfield(L, cache, file);
            return 1;
        }
    }
    if (rc < 0) {
        if (!e.status) e.status = 500;
        return lb_fail(L, &e);
    }
    lua_pushvalue(L, pidx);                         /* the absolute path */
    return 1;
}

/* data.tail(file[, max_bytes]) -> text | nil, err: the end of a file under
 * data_dir, at most max_bytes (default DATA_TAIL_DEFAULT, at most
 * DATA_TAIL_MAX), from the start of a line: a file longer than that loses
 * its first lines, never half of one. 404 not_found when it does not exist. */
#define DATA_TAIL_DEFAULT (256 << 10)
#define DATA_TAIL_MAX (4 << 20)

static int lb_data_tail(lua_State *L) {
    const char *file = luaL_checkstring(L, 1);
    lua_Integer max = luaL_optinteger(L, 2, DATA_TAIL_DEFAULT);
    luaL_argcheck(L, max > 0 && max <= DATA_TAIL_MAX, 2, "max_bytes must be 1 .. 4 MiB");
    char path[4096];
    pg_err e;
    if (smp_resolve_path(lb_engine(L)->cfg.data_dir, file, path, sizeof path, &e) < 0) return lb_fail(L, &e);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        int err = errno;
        if (fd >= 0) close(fd);
        if (fd < 0 && err == ENOENT) pg_errf(&e, 404, "not_found", "%s: no such file", file);
        else pg_errf(&e, 500, "io", "%s: %s", file, fd >= 0 ? "not a regular file" : strerror(err));
        return lb_fail(L, &e);
    }
    off_t from = st.st_size > (off_t)max ? st.st_size - (off_t)max : 0;
    size_t want = (size_t)(st.st_size - from);
    luaL_Buffer b;
    char *p = luaL_buffinitsize(L, &b, want ? want : 1);
    size_t got = 0;
    while (got < want) {
        ssize_t r = pread(fd, p + got, want - got, from + (off_t)got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += (size_t)r;
    }
    close(fd);
    size_t skip = 0;
    if (from > 0) {                                 /* from the first whole line */
        const char *nl = memchr(p, '\n', got);
        skip = nl ? (size_t)(nl - p) + 1 : got;
    }
    if (skip) memmove(p, p + skip, got - skip);
    luaL_pushresultsize(&b, got - skip);
    return 1;
}

static int unlock_and_return(lua_State *L, int status, lua_KContext ctx) {
    rt_lock_held(L, (pthread_mutex_t *)ctx, 0);
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
    rt_lock_held(L, m, 1);                          /* released if a call stuck in fn is left */
    lua_pushvalue(L, 2);
    lua_rotate(L, 3, 1);                            /* [name, fn, fn, args...] */
    int status = lua_pcallk(L, lua_gettop(L) - 3, LUA_MULTRET, 0, (lua_KContext)m, unlock_and_return);
    return unlock_and_return(L, status, (lua_KContext)m);
}

int luaopen_data(lua_State *L) {
    static const luaL_Reg fns[] = {
        { "append", lb_data_append },
        { "tail", lb_data_tail },
        { "locked", lb_data_locked },
        { NULL, NULL },
    };
    luaL_newlib(L, fns);
    return 1;
}
