/* deadline.c: CPU-time deadlines of Lua calls (see runtime_priv.h). */
#include <errno.h>
#include <link.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lualib.h>

#include "base/clock.h"
#include "base/log.h"
#include "runtime/runtime_priv.h"

#define TICK_MS 10
#define IDLE_TICKS 50           /* half a second without an armed call: sleep until the next */

static struct {
    pthread_once_t once;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    rt_state **v;               /* every state that ever armed a call */
    size_t n, cap;
    atomic_int idle;
    int ok;                     /* the thread and the signal handler are in place */
    int sig;
    atomic_int stopping;        /* dl_stop_all: every armed call is past its deadline */
    uintptr_t text_lo, text_hi; /* the executable's own code (not libc's): where a stuck call may be left */
} wd = { .once = PTHREAD_ONCE_INIT, .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };

static __thread rt_state *running;      /* the armed call of this thread */
static __thread pid_t my_tid;
static __thread clockid_t my_cpu;
static __thread int my_known;

/* On the thread whose call is past its deadline: that call may be an outer
 * one, with another state's call running inside it; the outer one stops as
 * soon as control comes back to it. */
static void on_signal(int sig, siginfo_t *si, void *uc) {
    (void)sig;
    (void)si;
    for (rt_state *s = running; s; s = s->outer) {
        if (!atomic_load(&s->armed) || atomic_load(&s->fire) != atomic_load(&s->call)) continue;
        atomic_store(&s->timed_out, 1);
        dl_hook_running(s);
    }
    /* The innermost call only: an outer one waits in C (a sampler probe's
     * caller holds the sampler's lock). */
    rt_state *s = running;
    if (!s || !s->escape || s->no_escape || !atomic_load(&s->armed) || atomic_load(&s->stuck) != atomic_load(&s->call) ||
        s->nheld > RT_HELD_MAX)
        return;
    uintptr_t pc = 0;
#if defined(__x86_64__)
    pc = (uintptr_t)((ucontext_t *)uc)->uc_mcontext.gregs[REG_RIP];
#elif defined(__aarch64__)
    pc = (uintptr_t)((ucontext_t *)uc)->uc_mcontext.pc;
#endif
    if (pc >= wd.text_lo && pc < wd.text_hi) siglongjmp(*s->escape, 1);
    /* else inside libc: the next tick tries again */
}

static void hook(lua_State *L) { lua_sethook(L, rt_deadline_hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1); }

void dl_hook_running(rt_state *s) {
    hook(s->L);
    lua_State *co = atomic_load(&s->co);
    if (co) hook(co);
}

static double ms_between(const struct timespec *a, const struct timespec *b) {
    return (double)(b->tv_sec - a->tv_sec) * 1e3 + (double)(b->tv_nsec - a->tv_nsec) / 1e6;
}

static int scan(void) {
    int any = 0;
    int stopping = atomic_load(&wd.stopping);
    for (size_t i = 0; i < wd.n; i++) {
        rt_state *s = wd.v[i];
        if (!atomic_load(&s->armed)) continue;
        any = 1;
        unsigned long call = atomic_load(&s->call);
        pid_t tid = s->tid;
        clockid_t cpu = s->cpu;
        struct timespec now;
        int ok = clock_gettime(cpu, &now) == 0;
        if (call != atomic_load(&s->call) || !atomic_load(&s->armed) || !ok) continue;  /* moved on */
        if (call != s->wd_call) {
            s->wd_call = call;
            s->wd_cpu0 = now;
            continue;
        }
        double ran = ms_between(&s->wd_cpu0, &now);
        if ((stopping || ran >= s->deadline_ms) && atomic_load(&s->fire) != call) {
            atomic_store(&s->fire, call);
            syscall(SYS_tgkill, getpid(), tid, wd.sig);
        } else if (stopping || ran >= s->deadline_ms + DL_GRACE_MS) {
            atomic_store(&s->stuck, call);      /* signalled every tick until it leaves */
            syscall(SYS_tgkill, getpid(), tid, wd.sig);
        }
    }
    return any;
}

static void *watch(void *ud) {
    (void)ud;
    int empty = 0;
    pthread_mutex_lock(&wd.mu);
    for (;;) {
        empty = scan() ? 0 : empty + 1;
        if (empty >= IDLE_TICKS) {
            atomic_store(&wd.idle, 1);
            int armed = 0;                  /* an arm that missed idle = 1 is seen here */
            for (size_t i = 0; i < wd.n && !armed; i++) armed = atomic_load(&wd.v[i]->armed);
            if (!armed) pthread_cond_wait(&wd.cv, &wd.mu);
            atomic_store(&wd.idle, 0);
            empty = 0;
            continue;
        }
        struct timespec until = pg_wall_after(TICK_MS / 1e3);
        pthread_cond_timedwait(&wd.cv, &wd.mu, &until);
    }
    return NULL;
}

/* The executable's code segment: the Lua VM and libraries are linked in. */
static int find_text(struct dl_phdr_info *info, size_t size, void *ud) {
    (void)size;
    (void)ud;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X) && (uintptr_t)find_text >= lo &&
            (uintptr_t)find_text < lo + ph->p_memsz) {
            wd.text_lo = lo;
            wd.text_hi = lo + ph->p_memsz;
            return 1;
        }
    }
    return 0;
}

static void start(void) {
    wd.sig = SIGRTMIN + 3;
    dl_iterate_phdr(find_text, NULL);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_signal;
    /* SA_NODEFER: a handler left by siglongjmp leaves the signal unblocked */
    sa.sa_flags = SA_RESTART | SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    if (sigaction(wd.sig, &sa, NULL)) {
        pg_log(PG_LOG_ERROR, "lua deadlines: sigaction: %s; calls run without a deadline", strerror(errno));
        return;
    }
    /* the watchdog itself never takes the signal */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    pthread_t t;
    int rc = pthread_create(&t, NULL, watch, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc) {
        pg_log(PG_LOG_ERROR, "lua deadlines: no watchdog thread: %s; calls run without a deadline", strerror(rc));
        return;
    }
    pthread_detach(t);
    wd.ok = 1;
}

static void enroll(rt_state *s) {
    pthread_mutex_lock(&wd.mu);
    if (wd.n == wd.cap) {
        size_t cap = wd.cap ? wd.cap * 2 : 64;
        rt_state **v = realloc(wd.v, cap * sizeof *v);
        if (!v) {
            pthread_mutex_unlock(&wd.mu);
            return;
        }
        wd.v = v;
        wd.cap = cap;
    }
    wd.v[wd.n++] = s;
    s->registered = 1;
    pthread_mutex_unlock(&wd.mu);
}

int dl_arm(rt_state *s, int ms, rt_state **prev) {
    *prev = running;
    pthread_once(&wd.once, start);
    if (!wd.ok || atomic_load(&s->armed)) return 0;    /* no watchdog, or nested in an armed call */
    if (!s->registered) enroll(s);
    if (!my_known) {                        /* once per thread */
        my_tid = (pid_t)syscall(SYS_gettid);
        pthread_getcpuclockid(pthread_self(), &my_cpu);
        sigset_t one;                       /* threads that block every signal (the sampler's) */
        sigemptyset(&one);
        sigaddset(&one, wd.sig);
        pthread_sigmask(SIG_UNBLOCK, &one, NULL);
        my_known = 1;
    }
    s->deadline_ms = ms;
    s->tid = my_tid;
    s->cpu = my_cpu;
    atomic_store(&s->timed_out, 0);
    s->outer = running;
    running = s;
    atomic_fetch_add(&s->call, 1);
    atomic_store(&s->armed, 1);
    if (atomic_load(&wd.idle)) {
        pthread_mutex_lock(&wd.mu);
        pthread_cond_signal(&wd.cv);
        pthread_mutex_unlock(&wd.mu);
    }
    return 1;
}

int dl_disarm(rt_state *s, rt_state *prev) {
    atomic_store(&s->armed, 0);
    running = prev;
    if (!s->abandoned) lua_sethook(s->L, NULL, 0, 0);  /* a signal that came after the call ended */
    return atomic_load(&s->timed_out);
}

void rt_stop_calls(void) {
    if (!wd.ok) return;
    atomic_store(&wd.stopping, 1);
    pthread_mutex_lock(&wd.mu);
    pthread_cond_signal(&wd.cv);
    pthread_mutex_unlock(&wd.mu);
}

void dl_forget(rt_state *s) {
    if (!s->registered) return;
    pthread_mutex_lock(&wd.mu);
    for (size_t i = 0; i < wd.n; i++)
        if (wd.v[i] == s) {
            wd.v[i] = wd.v[--wd.n];
            break;
        }
    pthread_mutex_unlock(&wd.mu);
}

/* ---- coroutines --------------------------------------------------------
 * A hook set on the main thread does not reach a coroutine it resumed, so
 * resume and wrap note the coroutine they run in s->co (the innermost; the
 * one before is kept on the C stack), where dl_hook_running finds it. When
 * the coroutine has stopped, by the hook's error or otherwise, the resumer
 * is hooked in turn if the deadline has passed. */

static int pending(rt_state *s) {
    return atomic_load(&s->interrupt) || (atomic_load(&s->armed) && atomic_load(&s->timed_out));
}

/* [f, args...] -> [results...]: f (the library's resume, or a wrap
 * closure) called with co noted as running; its error raised again. */
static int run_noted(lua_State *L, lua_State *co) {
    rt_state *s = rt_state_of(L);
    if (pending(s)) hook(co);
    else if (lua_gethook(co) == rt_deadline_hook) lua_sethook(co, NULL, 0, 0);   /* left from a past call */
    lua_State *prev = atomic_load(&s->co);
    atomic_store(&s->co, co);
    int rc = lua_pcall(L, lua_gettop(L) - 1, LUA_MULTRET, 0);
    atomic_store(&s->co, prev);
    if (pending(s)) hook(L);
    if (rc != LUA_OK) return lua_error(L);
    return lua_gettop(L);
}

static int co_resume(lua_State *L) {
    lua_State *co = lua_tothread(L, 1);
    luaL_argexpected(L, co, 1, "coroutine");
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);                               /* [resume, co, args...] */
    return run_noted(L, co);
}

static int co_wrapped(lua_State *L) {
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);                               /* [wrapped, args...] */
    return run_noted(L, lua_tothread(L, lua_upvalueindex(2)));
}

static int co_wrap(lua_State *L) {
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, 1);              /* [wrapped]: the library's closure */
    if (!lua_getupvalue(L, -1, 1)) return 1;        /* [wrapped, co] */
    lua_pushcclosure(L, co_wrapped, 2);
    return 1;
}

void dl_open_coroutines(lua_State *L) {
    if (lua_getglobal(L, LUA_COLIBNAME) != LUA_TTABLE) {
        lua_pop(L, 1);
        return;
    }
    lua_getfield(L, -1, "resume");
    lua_pushcclosure(L, co_resume, 1);
    lua_setfield(L, -2, "resume");
    lua_getfield(L, -1, "wrap");
    lua_pushcclosure(L, co_wrap, 1);
    lua_setfield(L, -2, "wrap");
    lua_pop(L, 1);
}
