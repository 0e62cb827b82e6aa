/* lb_docker.c: the Lua `docker` module, the Docker Engine API for
 * researchers and the REPL (core/cluster/docker/client.h). It talks to the
 * docker backend's daemon when that is the backend, else to docker.socket
 * ($DOCKER_HOST, /var/run/docker.sock).
 *
 *   docker.containers{label = "k=v" | {"k=v", ...}, all = true}
 *                          {{id, name, image, state, status, labels, created}, ...}
 *   docker.inspect(id)     the daemon's inspect document
 *   docker.stats(id)       {cpu (cores), cpu_percent, memory (bytes, less inactive_file),
 *                           memory_limit, memory_percent}  (one stats?stream=false: ~1-2 s)
 *   docker.run{image, cmd = {...} | "line", env = {"K=V"}, labels = {k = v}, name,
 *              host_config = {...}}     id  (create + start)
 *   docker.stop(id[, {timeout = s}]), docker.remove(id[, {force = true}])   true
 *   docker.logs(id[, {tail = n}])       stdout and stderr, as one string
 *   docker.request(method, path[, body])    decoded body (or text), status
 *   docker.template([{image, command, env}])  the pod template of the docker
 *                          backend: new replicas are made from it (as `kubectl set image`)
 *
 * Expected failures (no such container, the daemon down) return nil,
 * {code, message, status}; misuse raises. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "modules/lb.h"
#include "cluster/docker/docker.h"

/* The client to use: the backend's, or one for docker.socket in *tmp. */
static dock_client *client(lua_State *L, dock_client *tmp, pg_err *e) {
    pg_engine *eng = lb_engine(L);
    dock_backend *d = eng ? dock_from_backend(eng->backend) : NULL;
    if (d) return dock_backend_client(d);
    char sock[PATH_MAX];
    const char *cfg = eng ? eng->cfg.docker.socket : "";
    double timeout = eng ? eng->cfg.docker.timeout_s : 10;
    if (dock_socket_path(cfg, sock, sizeof sock, e) != 0) return NULL;
    if (dock_open(tmp, sock, timeout, e) != 0) return NULL;
    return tmp;
}

/* Push the JSON text s decoded by json.decode (a string when it is not JSON). */
static void push_decoded(lua_State *L, const char *s, size_t n) {
    luaL_requiref(L, "json", luaopen_json, 0);                  /* [json] */
    lua_getfield(L, -1, "decode");                              /* [json, decode] */
    lua_remove(L, -2);
    lua_pushlstring(L, s, n);                                   /* [decode, s] */
    if (n == 0 || lua_pcall(L, 1, 1, 0) != LUA_OK) {
        lua_pop(L, n == 0 ? 2 : 1);
        lua_pushlstring(L, s, n);                               /* [s] */
    }
}

/* JSON text of the value at idx (in a malloc'ed copy), or NULL after raising. */
static char *encoded(lua_State *L, int idx, size_t *len) {
    lb_json_out out = { NULL, 0 };
    lua_pushcfunction(L, lb_json_encode_to);
    lua_pushvalue(L, idx);
    lua_pushlightuserdata(L, &out);
    if (lua_pcall(L, 2, 0, 0) != LUA_OK) lua_error(L);
    char *s = malloc(out.len + 1);
    if (!s) luaL_error(L, "docker: out of memory");
    memcpy(s, out.p, out.len);
    s[out.len] = '\0';
    *len = out.len;
    return s;
}

/* One call; on success pushes the decoded answer (or nothing with
 * push == 0) and returns the count of values pushed, else nil, err. */
static int call(lua_State *L, const char *method, const char *path, int body_idx, int push, long *status) {
    dock_client tmp, *c;
    pg_err e = { 0 };
    if (!(c = client(L, &tmp, &e))) return lb_fail(L, &e);
    size_t blen = 0;
    char *body = body_idx ? encoded(L, body_idx, &blen) : NULL, *out = NULL;
    size_t olen = 0;
    int rc = dock_call_raw(c, method, path, NULL, body, blen, status, &out, &olen, &e);
    free(body);
    if (rc != 0) return lb_fail(L, &e);
    if (push) push_decoded(L, out, olen);
    free(out);
    return push;
}

static const char *checkid(lua_State *L, int idx) {
    const char *id = luaL_checkstring(L, idx);
    luaL_argcheck(L, *id && strlen(id) < 128 && !strpbrk(id, "/?#&% \t\r\n"), idx, "not a container id or name");
    return id;
}

static int ok_true(lua_State *L, int rc) {
    if (rc == 2) return 2;                                      /* nil, err */
    lua_pushboolean(L, 1);
    return 1;
}

/* The label option at idx (a string or a list of strings) as a JSON array. */
static json_t *label_list(lua_State *L, int idx) {
    json_t *labels = json_array();
    int t = lua_istable(L, idx) ? lua_getfield(L, idx, "label") : LUA_TNIL;     /* [..., label] */
    if (t == LUA_TSTRING) {
        json_array_append_new(labels, json_string(lua_tostring(L, -1)));
    } else if (t == LUA_TTABLE) {
        for (lua_Integer i = 1; lua_rawgeti(L, -1, i) == LUA_TSTRING; i++) {
            json_array_append_new(labels, json_string(lua_tostring(L, -1)));
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
    } else if (t != LUA_TNIL) {
        json_decref(labels);
        luaL_argerror(L, idx, "label must be a string or a list of strings");
    }
    lua_pop(L, 1);
    return labels;
}

static int lb_docker_containers(lua_State *L) {
    static const char *const opts[] = { "label", "all" };
    if (!lua_isnoneornil(L, 1)) lb_options(L, 1, opts, 2, "docker.containers");
    json_t *f = json_pack("{so}", "label", label_list(L, 1));
    char *txt = json_dumps(f, JSON_COMPACT), path[2048], esc[1600] = "";
    json_decref(f);
    for (size_t i = 0, o = 0; txt && txt[i] && o + 4 < sizeof esc; i++) {   /* URL-encoded */
        unsigned char ch = (unsigned char)txt[i];
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || strchr("-._~", ch))
            esc[o++] = (char)ch;
        else o += (size_t)snprintf(esc + o, sizeof esc - o, "%%%02X", ch);
    }
    free(txt);
    snprintf(path, sizeof path, "/containers/json?all=%d&filters=%s",
             lua_istable(L, 1) ? lb_optboolfield(L, 1, "all", 1) : 1, esc);
    return call(L, "GET", path, 0, 1, NULL);
}

static int lb_docker_inspect(lua_State *L) {
    char path[200];
    snprintf(path, sizeof path, "/containers/%s/json", checkid(L, 1));
    return call(L, "GET", path, 0, 1, NULL);
}

static double fieldnum(lua_State *L, int idx, const char *a, const char *b2, const char *c) {
    double v = NAN;
    lua_pushvalue(L, idx);
    const char *keys[] = { a, b2, c };
    for (int i = 0; i < 3 && keys[i]; i++) {
        if (!lua_istable(L, -1)) break;
        lua_getfield(L, -1, keys[i]);
        lua_remove(L, -2);
    }
    if (lua_isnumber(L, -1)) v = lua_tonumber(L, -1);
    lua_pop(L, 1);
    return v;
}

/* stats(id): one sample with its predecessor (precpu_stats), as `docker stats` shows it. */
static int lb_docker_stats(lua_State *L) {
    char path[200];
    snprintf(path, sizeof path, "/containers/%s/stats?stream=false", checkid(L, 1));
    if (call(L, "GET", path, 0, 1, NULL) != 1) return 2;       /* [id, doc] */
    int s = lua_gettop(L);
    double tot = fieldnum(L, s, "cpu_stats", "cpu_usage", "total_usage");
    double ptot = fieldnum(L, s, "precpu_stats", "cpu_usage", "total_usage");
    double sys = fieldnum(L, s, "cpu_stats", "system_cpu_usage", NULL);
    double psys = fieldnum(L, s, "precpu_stats", "system_cpu_usage", NULL);
    double ncpu = fieldnum(L, s, "cpu_stats", "online_cpus", NULL);
    double mem = fieldnum(L, s, "memory_stats", "usage", NULL), lim = fieldnum(L, s, "memory_stats", "limit", NULL);
    double inact = fieldnum(L, s, "memory_stats", "stats", "total_inactive_file");
    if (isnan(inact)) inact = fieldnum(L, s, "memory_stats", "stats", "inactive_file");
    double dsys = sys - psys, dcpu = tot - ptot;
    double cores = dsys > 0 && dcpu >= 0 && ncpu > 0 ? dcpu / dsys * ncpu : 0;
    double used = isnan(mem) ? 0 : fmax(0, mem - (isnan(inact) ? 0 : inact));
    lua_createtable(L, 0, 5);                                   /* [id, doc, t] */
    lua_pushnumber(L, cores);
    lua_setfield(L, -2, "cpu");
    lua_pushnumber(L, cores * 100);
    lua_setfield(L, -2, "cpu_percent");
    lua_pushnumber(L, used);
    lua_setfield(L, -2, "memory");
    if (lim > 0) {
        lua_pushnumber(L, lim);
        lua_setfield(L, -2, "memory_limit");
        lua_pushnumber(L, used / lim * 100);
        lua_setfield(L, -2, "memory_percent");
    }
    return 1;
}

/* run{image, cmd, env, labels, name, host_config}: create + start, the id. */
static int lb_docker_run(lua_State *L) {
    static const char *const opts[] = { "image", "cmd", "env", "labels", "name", "host_config" };
    luaL_checktype(L, 1, LUA_TTABLE);
    lb_options(L, 1, opts, 6, "docker.run");
    const char *image = lb_optstrfield(L, 1, "image", NULL);
    luaL_argcheck(L, image && *image, 1, "image is required");
    const char *name = lb_optstrfield(L, 1, "name", "");
    luaL_argcheck(L, strlen(name) < 128 && !strpbrk(name, "/?#&% "), 1, "name: not a container name");
    lua_createtable(L, 0, 5);                                   /* [opts, spec] */
    lua_pushstring(L, image);
    lua_setfield(L, -2, "Image");
    if (lua_getfield(L, 1, "cmd") == LUA_TSTRING) {             /* a line: split as docker.command is */
        char buf[4096], *w[64];
        int n = dock_split(lua_tostring(L, -1), 0, buf, sizeof buf, w, 64);
        luaL_argcheck(L, n > 0, 1, "cmd: cannot split the line");
        lua_createtable(L, n, 0);
        for (int i = 0; i < n; i++) {
            lua_pushstring(L, w[i]);
            lua_rawseti(L, -2, i + 1);
        }
        lua_remove(L, -2);
    }
    lua_setfield(L, -2, "Cmd");
    static const char *const map[][2] = { { "env", "Env" }, { "labels", "Labels" }, { "host_config", "HostConfig" } };
    for (int i = 0; i < 3; i++) {
        lua_getfield(L, 1, map[i][0]);
        lua_setfield(L, -2, map[i][1]);
    }
    char path[256];
    snprintf(path, sizeof path, "/containers/create%s%s", *name ? "?name=" : "", name);
    if (call(L, "POST", path, lua_gettop(L), 1, NULL) != 1) return 2;      /* [opts, spec, answer] */
    lua_getfield(L, -1, "Id");                                  /* [opts, spec, answer, id] */
    const char *id = lua_tostring(L, -1);
    luaL_argcheck(L, id != NULL, 1, "the daemon answered no Id");
    snprintf(path, sizeof path, "/containers/%s/start", id);
    long st = 0;
    int rc = call(L, "POST", path, 0, 0, &st);
    if (rc == 2) return 2;
    lua_settop(L, 4);
    return 1;
}

static int lb_docker_stop(lua_State *L) {
    char path[256];
    double t = lb_optnumfield(L, 2, "timeout", 10);
    luaL_argcheck(L, t >= 0 && t < 86400, 2, "timeout must be in [0, 86400) s");
    snprintf(path, sizeof path, "/containers/%s/stop?t=%d", checkid(L, 1), (int)ceil(t));
    return ok_true(L, call(L, "POST", path, 0, 0, NULL));
}

static int lb_docker_remove(lua_State *L) {
    char path[256];
    snprintf(path, sizeof path, "/containers/%s?force=%d&v=1", checkid(L, 1), lb_optboolfield(L, 2, "force", 0));
    return ok_true(L, call(L, "DELETE", path, 0, 0, NULL));
}

/* logs(id, {tail}): the multiplexed frames (8-byte headers) joined. */
static int lb_docker_logs(lua_State *L) {
    char path[256];
    lua_Integer tail = lb_optintfield(L, 2, "tail", -1);
    const char *id = checkid(L, 1);
    if (tail >= 0) snprintf(path, sizeof path, "/containers/%s/logs?stdout=1&stderr=1&tail=%lld", id, (long long)tail);
    else snprintf(path, sizeof path, "/containers/%s/logs?stdout=1&stderr=1", id);
    dock_client tmp, *c;
    pg_err e = { 0 };
    if (!(c = client(L, &tmp, &e))) return lb_fail(L, &e);
    char *out = NULL;
    size_t n = 0;
    if (dock_call_raw(c, "GET", path, NULL, NULL, 0, NULL, &out, &n, &e) != 0) return lb_fail(L, &e);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    size_t i = 0;
    while (i + 8 <= n && (unsigned char)out[i] <= 2 && !out[i + 1] && !out[i + 2] && !out[i + 3]) {
        size_t len = ((size_t)(unsigned char)out[i + 4] << 24) | ((size_t)(unsigned char)out[i + 5] << 16)
                   | ((size_t)(unsigned char)out[i + 6] << 8) | (size_t)(unsigned char)out[i + 7];
        if (len > n - i - 8) len = n - i - 8;
        luaL_addlstring(&b, out + i + 8, len);
        i += 8 + len;
    }
    if (i < n) luaL_addlstring(&b, out + i, n - i);             /* a TTY container: raw */
    free(out);
    luaL_pushresult(&b);
    return 1;
}

/* request(method, path[, body]) -> decoded body, status */
static int lb_docker_request(lua_State *L) {
    const char *method = luaL_checkstring(L, 1), *path = luaL_checkstring(L, 2);
    luaL_argcheck(L, *method && strspn(method, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") == strlen(method), 1,
                  "not an HTTP method");
    luaL_argcheck(L, path[0] == '/' && !strpbrk(path, " \t\r\n") && strlen(path) < 1800, 2,
                  "path must start with / and hold no whitespace");
    long st = 0;
    int rc = call(L, method, path, lua_isnoneornil(L, 3) ? 0 : 3, 1, &st);
    if (rc != 1) return rc;
    lua_pushinteger(L, st);
    return 2;
}

static const lb_field template_fields[] = {
    LB_F(dock_template, image, LB_STR), LB_F(dock_template, command, LB_STR), LB_F(dock_template, env, LB_STR),
    { NULL, LB_INT, 0 },
};

/* template([t]) -> the pod template; t changes the given fields first. */
static int lb_docker_template(lua_State *L) {
    static const char *const opts[] = { "image", "command", "env" };
    pg_engine *eng = lb_engine(L);
    dock_backend *d = eng ? dock_from_backend(eng->backend) : NULL;
    if (!d) {
        pg_err e = { "conflict", "docker.template: the backend is not docker", 409 };
        return lb_fail(L, &e);
    }
    dock_template t;
    dock_template_get(d, &t);
    if (!lua_isnoneornil(L, 1)) {
        luaL_checktype(L, 1, LUA_TTABLE);
        lb_options(L, 1, opts, 3, "docker.template");
        snprintf(t.image, sizeof t.image, "%s", lb_optstrfield(L, 1, "image", t.image));
        snprintf(t.command, sizeof t.command, "%s", lb_optstrfield(L, 1, "command", t.command));
        snprintf(t.env, sizeof t.env, "%s", lb_optstrfield(L, 1, "env", t.env));
        pg_err e = { 0 };
        if (dock_template_set(d, &t, &e) != 0) return lb_fail(L, &e);
    }
    lb_push_fields(L, &t, template_fields);
    return 1;
}

int luaopen_docker(lua_State *L) {
    static const luaL_Reg fns[] = {
        { "containers", lb_docker_containers }, { "inspect", lb_docker_inspect }, { "stats", lb_docker_stats },
        { "run", lb_docker_run },               { "stop", lb_docker_stop },       { "remove", lb_docker_remove },
        { "logs", lb_docker_logs },             { "request", lb_docker_request }, { "template", lb_docker_template },
        { NULL, NULL },
    };
    luaL_newlib(L, fns);
    return 1;
}
