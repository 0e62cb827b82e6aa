/* attach.c: `podgym repl --attach`, a prompt whose statements run inside a
 * running `podgym serve`, against the cluster it serves.
 *
 * The server listens on a unix socket, <data_dir>/repl.sock (mode 0600:
 * only its user can attach; repl.attach: false turns it off). Each session
 * has its own Lua state with the full library (as `podgym repl`, not the
 * routes' sandbox), a reader thread and an evaluator thread.
 *
 * Frames, both ways: a type byte, the payload's length (4 bytes, big
 * endian, at most ATTACH_FRAME_MAX) and the payload.
 *   client -> server  'E' a statement's source (a whole chunk, as the
 *                         client's own compile found it complete)
 *                     'I' interrupt the running statement (Ctrl-C)
 *   server -> client  'H' hello: one line about the server, on connect
 *                     'O' output (printed results, print())
 *                     'R' an error message
 *                     'P' a live progress line (a wait, a load test; "" ends it)
 *                     'D' the statement is done ("ok" or "error")
 *                     'X' refused (too many sessions): a message, then close
 * A client that disconnects interrupts its running statement; a server
 * that stops interrupts every session and closes them. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "base/clock.h"
#include "base/log.h"
#include "cli/repl.h"
#include "runtime/runtime.h"

#define ATTACH_FRAME_MAX (16u << 20)
#define ATTACH_SESSIONS_MAX 32
#define ATTACH_STOP_WAIT_S 1.0      /* within the serve's stop grace (main.c) */

/* ---- frames ------------------------------------------------------------- */

static int write_all(int fd, const void *p, size_t n) {
    const char *c = p;
    while (n) {
        ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

static int read_all(int fd, void *p, size_t n) {
    char *c = p;
    while (n) {
        ssize_t r = recv(fd, c, n, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        c += r;
        n -= (size_t)r;
    }
    return 0;
}

static int frame_send(int fd, char type, const char *p, size_t n) {
    unsigned char h[5] = { (unsigned char)type, (unsigned char)(n >> 24), (unsigned char)(n >> 16),
                           (unsigned char)(n >> 8), (unsigned char)n };
    if (n > ATTACH_FRAME_MAX) return -1;
    return write_all(fd, h, sizeof h) || (n && write_all(fd, p, n)) ? -1 : 0;
}

/* A frame: 0 with *type, *p (malloc'ed, NUL-terminated) and *n; -1 at EOF or on error. */
static int frame_recv(int fd, char *type, char **p, size_t *n) {
    unsigned char h[5];
    if (read_all(fd, h, sizeof h)) return -1;
    uint32_t len = (uint32_t)h[1] << 24 | (uint32_t)h[2] << 16 | (uint32_t)h[3] << 8 | h[4];
    if (len > ATTACH_FRAME_MAX) return -1;
    char *buf = malloc(len + 1);
    if (!buf) return -1;
    if (len && read_all(fd, buf, len)) {
        free(buf);
        return -1;
    }
    buf[len] = '\0';
    *type = (char)h[0];
    *p = buf;
    *n = len;
    return 0;
}

/* ---- the server --------------------------------------------------------- */

typedef struct session {
    struct attach_server *srv;
    int fd;
    lua_State *L;
    pthread_t eval;
    pthread_mutex_t wmu;        /* one frame at a time on fd */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char *code;                 /* the statement to run next */
    size_t code_len;
    int busy;                   /* a statement runs */
    int closing;
    struct session *next;
} session;

struct attach_server {
    pg_engine *eng;
    int fd;
    int wake[2];                /* the accept loop's stop */
    pthread_t accept;
    char path[sizeof ((struct sockaddr_un *)0)->sun_path];
    pthread_mutex_t mu;
    pthread_cond_t cv;
    session *sessions;
    int nsessions;
    int stopping;
};

static void send_locked(session *s, char type, const char *p, size_t n) {
    pthread_mutex_lock(&s->wmu);
    frame_send(s->fd, type, p, n);          /* a client gone: its reader sees EOF */
    pthread_mutex_unlock(&s->wmu);
}

static void out_frame(void *ud, int err, const char *p, size_t n) { send_locked(ud, err ? 'R' : 'O', p, n); }

/* A live progress line of a session (a wait, a load test): 'P' frames, "" ends it. */
static void session_progress(void *ud, const char *line) { send_locked(ud, 'P', line, strlen(line)); }

/* os.exit in a session would end the server: it is refused. */
static int session_exit(lua_State *L) {
    return luaL_error(L, "os.exit in an attached session would stop the server: Ctrl-D detaches");
}

/* print() of a session: its output goes to the client. */
static int session_print(lua_State *L) {
    session *s = lua_touserdata(L, lua_upvalueindex(1));
    int n = lua_gettop(L);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (int i = 1; i <= n; i++) {
        if (i > 1) luaL_addchar(&b, '\t');
        luaL_tolstring(L, i, NULL);
        luaL_addvalue(&b);
    }
    luaL_addchar(&b, '\n');
    luaL_pushresult(&b);
    size_t len;
    const char *p = lua_tolstring(L, -1, &len);
    send_locked(s, 'O', p, len);
    return 0;
}

static void *eval_main(void *ud) {
    session *s = ud;
    lua_State *L = s->L;
    repl_out o = { out_frame, s };
    for (;;) {
        pthread_mutex_lock(&s->mu);
        while (!s->code && !s->closing) pthread_cond_wait(&s->cv, &s->mu);
        char *code = s->code;
        size_t len = s->code_len;
        s->code = NULL;
        pthread_mutex_unlock(&s->mu);
        if (!code) break;                   /* closing */
        int base = lua_gettop(L);
        int ok = 0;
        if (luaL_loadbufferx(L, code, len, "=stdin", "t") != LUA_OK) {
            const char *msg = lua_pushfstring(L, "%s\n", lua_tostring(L, -1));
            out_frame(s, 1, msg, strlen(msg));
        } else {
            ok = repl_exec(L, 0, &o) == LUA_OK;
        }
        lua_settop(L, base);
        free(code);
        pthread_mutex_lock(&s->mu);
        s->busy = 0;
        rt_interrupt_clear(L);              /* one that came as it ended */
        pthread_mutex_unlock(&s->mu);
        send_locked(s, 'D', ok ? "ok" : "error", ok ? 2 : 5);
    }
    return NULL;
}

static void session_unlink(session *s) {
    attach_server *srv = s->srv;
    pthread_mutex_lock(&srv->mu);
    for (session **p = &srv->sessions; *p; p = &(*p)->next)
        if (*p == s) {
            *p = s->next;
            break;
        }
    srv->nsessions--;
    pthread_cond_broadcast(&srv->cv);
    pthread_mutex_unlock(&srv->mu);
}

static void session_free(session *s) {
    pthread_mutex_destroy(&s->wmu);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s->code);
    free(s);
}

/* The session's reader: statements to the evaluator, interrupts at once. */
static void *session_main(void *ud) {
    session *s = ud;
    pg_engine *eng = s->srv->eng;
    s->L = rt_open_state(eng, 0);
    if (!s->L || repl_setup(s->L) < 0) {
        const char *msg = "podgym: the server could not make a Lua state for the session\n";
        send_locked(s, 'X', msg, strlen(msg));
        goto out;
    }
    lua_pushlightuserdata(s->L, s);
    lua_pushcclosure(s->L, session_print, 1);
    lua_setglobal(s->L, "print");
    rt_set_progress(s->L, session_progress, s);
    if (lua_getglobal(s->L, "os") == LUA_TTABLE) {
        lua_pushcfunction(s->L, session_exit);
        lua_setfield(s->L, -2, "exit");
    }
    lua_pop(s->L, 1);
    if (pthread_create(&s->eval, NULL, eval_main, s)) {
        const char *msg = "podgym: the server could not start the session\n";
        send_locked(s, 'X', msg, strlen(msg));
        goto out;
    }
    char hello[256];
    int n = snprintf(hello, sizeof hello, "podgym %s serve (pid %d) on the %s backend", PODGYM_VERSION,
                     (int)getpid(), eng->backend ? eng->backend->ops->name : "?");
    send_locked(s, 'H', hello, (size_t)n);
    for (;;) {
        char type, *p;
        size_t len;
        if (frame_recv(s->fd, &type, &p, &len)) break;
        pthread_mutex_lock(&s->mu);
        if (type == 'E' && !s->busy) {
            s->code = p;
            s->code_len = len;
            s->busy = 1;
            p = NULL;
            pthread_cond_signal(&s->cv);
        } else if (type == 'I' && s->busy) {
            rt_interrupt(s->L);
        }
        pthread_mutex_unlock(&s->mu);
        free(p);
    }
    /* the client is gone, or the server stops */
    pthread_mutex_lock(&s->mu);
    s->closing = 1;
    if (s->busy) rt_interrupt(s->L);
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->eval, NULL);
out:
    if (s->L) rt_close_state(s->L);
    shutdown(s->fd, SHUT_RDWR);
    close(s->fd);
    session_unlink(s);
    session_free(s);
    return NULL;
}

static void refuse(int fd, const char *msg) {
    frame_send(fd, 'X', msg, strlen(msg));
    close(fd);
}

static void *accept_main(void *ud) {
    attach_server *srv = ud;
    for (;;) {
        struct pollfd pf[2] = { { .fd = srv->fd, .events = POLLIN }, { .fd = srv->wake[0], .events = POLLIN } };
        if (poll(pf, 2, -1) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        if (pf[1].revents) break;
        if (!(pf[0].revents & POLLIN)) continue;
        int fd = accept4(srv->fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) continue;
        pthread_mutex_lock(&srv->mu);
        int full = srv->nsessions >= ATTACH_SESSIONS_MAX, stopping = srv->stopping;
        session *s = full || stopping ? NULL : calloc(1, sizeof *s);
        if (s) {
            s->srv = srv;
            s->fd = fd;
            pthread_mutex_init(&s->wmu, NULL);
            pthread_mutex_init(&s->mu, NULL);
            pthread_cond_init(&s->cv, NULL);
            s->next = srv->sessions;
            srv->sessions = s;
            srv->nsessions++;
        }
        pthread_mutex_unlock(&srv->mu);
        if (!s) {
            refuse(fd, full ? "podgym: too many attached sessions\n" : "podgym: the server is stopping\n");
            continue;
        }
        pthread_attr_t a;
        pthread_attr_init(&a);
        pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
        pthread_t t;
        if (pthread_create(&t, &a, session_main, s)) {
            session_unlink(s);
            session_free(s);
            refuse(fd, "podgym: the server could not start the session\n");
        }
        pthread_attr_destroy(&a);
    }
    return NULL;
}

void attach_default_path(const pg_config *cfg, char *out, size_t n) {
    if (snprintf(out, n, "%s/repl.sock", cfg->data_dir[0] ? cfg->data_dir : ".") >= (int)n && n) out[0] = '\0';
}

/* A socket left by a server that is gone is removed; one a live server
 * answers on is left alone (0 when path is free now). */
static int claim_path(const char *path) {
    struct stat st;
    if (lstat(path, &st) != 0) return 0;
    if (!S_ISSOCK(st.st_mode)) return -1;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    memcpy(a.sun_path, path, strlen(path) + 1);     /* the caller checked its length */
    int live = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    if (fd >= 0) close(fd);
    if (live) return -1;
    return unlink(path) == 0 || errno == ENOENT ? 0 : -1;
}

attach_server *attach_start(pg_engine *eng) {
    if (!eng->cfg.repl_attach) return NULL;
    attach_server *srv = calloc(1, sizeof *srv);
    if (!srv) return NULL;
    srv->eng = eng;
    srv->fd = -1;
    srv->wake[0] = srv->wake[1] = -1;
    pthread_mutex_init(&srv->mu, NULL);
    pthread_cond_init(&srv->cv, NULL);
    char path[4096];
    attach_default_path(&eng->cfg, path, sizeof path);
    const char *why = NULL;
    if (strlen(path) >= sizeof srv->path) why = "the path is too long for a unix socket";
    else if (mkdir(eng->cfg.data_dir, 0755) != 0 && errno != EEXIST) why = strerror(errno);
    else if (claim_path(path) != 0) why = "another server listens there (or it is not a socket)";
    if (!why) {
        memcpy(srv->path, path, strlen(path) + 1);
        srv->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_un a = { .sun_family = AF_UNIX };
        memcpy(a.sun_path, srv->path, strlen(srv->path) + 1);
        mode_t old = umask(0177);           /* created 0600: only this user can attach */
        int bound = srv->fd >= 0 && bind(srv->fd, (struct sockaddr *)&a, sizeof a) == 0;
        umask(old);
        if (!bound || chmod(srv->path, 0600) != 0 || listen(srv->fd, 16) != 0 || pipe2(srv->wake, O_CLOEXEC) != 0)
            why = strerror(errno);
        else if (pthread_create(&srv->accept, NULL, accept_main, srv) != 0)
            why = "no thread";
        if (why && bound) unlink(srv->path);
    }
    if (why) {
        pg_log(PG_LOG_WARN, "repl attach off: %s: %s", path, why);
        if (srv->fd >= 0) close(srv->fd);
        for (int i = 0; i < 2; i++)
            if (srv->wake[i] >= 0) close(srv->wake[i]);
        free(srv);
        return NULL;
    }
    pg_log(PG_LOG_INFO, "repl attach on %s (podgym repl --attach)", srv->path);
    return srv;
}

void attach_stop(attach_server *srv) {
    if (!srv) return;
    pthread_mutex_lock(&srv->mu);
    srv->stopping = 1;
    pthread_mutex_unlock(&srv->mu);
    if (write(srv->wake[1], "x", 1) < 0) pg_log(PG_LOG_WARN, "repl attach: cannot wake the listener");
    pthread_join(srv->accept, NULL);
    close(srv->fd);
    unlink(srv->path);
    pthread_mutex_lock(&srv->mu);
    for (session *s = srv->sessions; s; s = s->next) shutdown(s->fd, SHUT_RDWR);   /* readers see EOF */
    struct timespec until = pg_wall_after(ATTACH_STOP_WAIT_S);
    while (srv->nsessions > 0)
        if (pthread_cond_timedwait(&srv->cv, &srv->mu, &until) == ETIMEDOUT) break;
    int left = srv->nsessions;
    pthread_mutex_unlock(&srv->mu);
    close(srv->wake[0]);
    close(srv->wake[1]);
    if (left) {                             /* a statement stuck where no interrupt reaches: the process exits */
        pg_log(PG_LOG_WARN, "repl attach: %d session%s still running at the stop", left, left == 1 ? "" : "s");
        return;
    }
    pthread_mutex_destroy(&srv->mu);
    pthread_cond_destroy(&srv->cv);
    free(srv);
}

/* ---- the client --------------------------------------------------------- */

/* Frames until 'D' (0), or the server gone (-1). Ctrl-C sends 'I'. */
static int await_done(int fd) {
    int progress = isatty(2);
    sigset_t old, waiting;
    repl_block_sigint(&old, &waiting);
    int rc = -1;
    for (;;) {
        fd_set fds;
        FD_ZERO(&fds);
        FD_SET(fd, &fds);
        int r = pselect(fd + 1, &fds, NULL, NULL, NULL, &waiting);
        if (r < 0 && errno == EINTR) {
            if (repl_take_sigint() && frame_send(fd, 'I', NULL, 0)) break;
            continue;
        }
        if (r < 0) break;
        char type, *p;
        size_t n;
        if (frame_recv(fd, &type, &p, &n)) break;
        if (type == 'P' && progress) fprintf(stderr, "\r\033[K%s", p), fflush(stderr);
        else if (type == 'O') fwrite(p, 1, n, stdout), fflush(stdout);
        else if (type == 'R' || type == 'X') fwrite(p, 1, n, stderr), fflush(stderr);
        free(p);
        if (type == 'D') {
            rc = 0;
            break;
        }
        if (type == 'X') break;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

int attach_client(const char *path) {
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    if (strlen(path) >= sizeof a.sun_path) {
        fprintf(stderr, "podgym: --attach: the path %s is too long for a unix socket\n", path);
        if (fd >= 0) close(fd);
        return 1;
    }
    memcpy(a.sun_path, path, strlen(path) + 1);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        int err = errno;
        fprintf(stderr, "podgym: cannot attach to %s: %s (no `podgym serve` listens there: it is not running, "
                "runs from another folder (give its <data_dir>/repl.sock), or has repl.attach: false)\n",
                path, strerror(err));
        if (fd >= 0) close(fd);
        return 1;
    }
    char type = 0, *p = NULL;
    size_t n = 0;
    if (frame_recv(fd, &type, &p, &n) || type != 'H') {
        if (type == 'X' && p) fwrite(p, 1, n, stderr);
        else fprintf(stderr, "podgym: %s: the server did not answer as a podgym serve\n", path);
        free(p);
        close(fd);
        return 1;
    }
    int tty = isatty(0);
    repl_signals();
    if (tty) {
        repl_history_open();
        printf("attached to %s (%s). help() lists the modules; Ctrl-C stops a statement; Ctrl-D detaches.\n",
               path, p);
        fflush(stdout);
    }
    free(p);
    lua_State *L = luaL_newstate();         /* only to find where a statement ends */
    int rc = 0;
    for (;;) {
        int base = lua_gettop(L);
        char *src = NULL;
        int r = repl_read(L, tty, &src);
        lua_settop(L, base);
        if (r == 0) break;
        if (r < 0 || !src) {
            free(src);
            continue;
        }
        int sent = frame_send(fd, 'E', src, strlen(src));
        free(src);
        if (sent || await_done(fd)) {
            fprintf(stderr, "podgym: the server closed the session\n");
            rc = 1;
            break;
        }
    }
    if (tty) putchar('\n');
    lua_close(L);
    close(fd);
    return rc;
}
