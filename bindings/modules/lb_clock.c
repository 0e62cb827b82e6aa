/* lb_clock.c: the Lua `clock` module.
 *
 *   clock.now()          epoch seconds (float, CLOCK_REALTIME)
 *   clock.mono()         monotonic seconds, for measuring intervals
 *   clock.sleep(s)       real sleep; a signal (Ctrl-C in the repl) ends it early
 *   clock.backend_now()  the backend's clock (virtual on sim), else clock.now() */
#include <math.h>
#include <time.h>

#include "base/clock.h"
#include "modules/lb.h"
#include "runtime/runtime.h"

#define SLEEP_SLICE_S 0.05

static int lb_clock_now(lua_State *L) {
    lua_pushnumber(L, pg_wall());
    return 1;
}

static int lb_clock_mono(lua_State *L) {
    lua_pushnumber(L, pg_mono());
    return 1;
}

static int lb_clock_sleep(lua_State *L) {
    double s = luaL_checknumber(L, 1);
    luaL_argcheck(L, s >= 0 && isfinite(s), 1, "seconds must be >= 0");
    if (s > 1e9) s = 1e9;                           /* ~31 years: keeps tv_sec in range */
    /* In slices, so that an interrupt from any thread (Ctrl-C in the repl or
     * in an attached session) ends it: the runtime's hook fires on return. */
    double until = pg_mono() + s;
    while (!rt_interrupted(L)) {
        double left = until - pg_mono();
        if (left <= 0) break;
        if (left > SLEEP_SLICE_S) left = SLEEP_SLICE_S;
        struct timespec ts = { .tv_sec = (time_t)left, .tv_nsec = (long)((left - floor(left)) * 1e9) };
        nanosleep(&ts, NULL);
    }
    return 0;
}

static int lb_clock_backend_now(lua_State *L) {
    pg_backend *b = lb_backend(L);
    lua_pushnumber(L, b && b->ops && b->ops->now ? b->ops->now(b) : pg_wall());
    return 1;
}

int luaopen_clock(lua_State *L) {
    static const luaL_Reg fns[] = {
        { "now", lb_clock_now },     { "mono", lb_clock_mono },
        { "sleep", lb_clock_sleep }, { "backend_now", lb_clock_backend_now }, { NULL, NULL },
    };
    luaL_newlib(L, fns);
    return 1;
}
