/* json_enc.c: json.encode, and the encoder behind every route's JSON body.
 *
 * lua-cjson still decodes; encoding is here because it is on every
 * response's path and cjson walks each object twice (once to tell an array
 * from an object, once to write it) and builds a Lua string that the
 * server then copies again. The output is byte for byte what lua-cjson 2.1
 * writes with its defaults, which the API's shapes were defined against:
 *
 *   - numbers as "%.14g" (json_fpconv.c), integers through the same rule
 *     (1e+14 and above get an exponent); NaN and infinities are an error;
 *   - strings with \" \\ \/ \b \f \n \r \t and \u00XX for the other control
 *     characters and DEL; other bytes as they are;
 *   - a table whose keys are all positive integers is an array (holes are
 *     null) unless it is excessively sparse (max > 2 x count and max > 10:
 *     an error); anything else is an object, number keys as strings, in
 *     lua_next order; an empty table is {};
 *   - nil and json.null are null; nesting deeper than 1000 is an error;
 *   - json.array(t) marks a list that must stay [] even when empty (the
 *     marker string below, set by prelude.lua).
 *
 * The bytes go to a buffer of the calling thread, kept between calls. */
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "modules/lb.h"

int fpconv_g_fmt(char *str, double num, int precision);    /* json_fpconv.c */

#define MAX_DEPTH 1000
#define BUF_KEEP (1u << 20)     /* a thread keeps its encode buffer up to this size */
static const char EMPTY_ARRAY[] = "\0podgym:empty-array\0"; /* prelude.lua's json.array({}) */
#define EMPTY_LEN (sizeof EMPTY_ARRAY - 1)

typedef struct jbuf {
    char *p;
    size_t n, cap;
} jbuf;

static pthread_key_t buf_key;
static pthread_once_t buf_once = PTHREAD_ONCE_INIT;

static void buf_free(void *p) {
    jbuf *b = p;
    free(b->p);
    free(b);
}

static void buf_key_init(void) { pthread_key_create(&buf_key, buf_free); }

static jbuf *thread_buf(lua_State *L) {
    pthread_once(&buf_once, buf_key_init);
    jbuf *b = pthread_getspecific(buf_key);
    if (!b) {
        b = calloc(1, sizeof *b);
        if (!b || pthread_setspecific(buf_key, b)) {
            free(b);
            luaL_error(L, "out of memory");
        }
    }
    if (b->cap > BUF_KEEP) {                   /* one huge body: do not keep its buffer */
        free(b->p);
        b->p = NULL;
        b->cap = 0;
    }
    b->n = 0;
    return b;
}

typedef struct enc {
    lua_State *L;
    jbuf *b;
} enc;

static char *grow(enc *E, size_t n) {
    jbuf *b = E->b;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap - b->n < n) cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) luaL_error(E->L, "out of memory");
    b->p = p;
    b->cap = cap;
    return b->p + b->n;
}

/* Room for n more bytes. */
static inline char *room(enc *E, size_t n) {
    jbuf *b = E->b;
    return b->cap - b->n >= n ? b->p + b->n : grow(E, n);
}

static inline void put(enc *E, const char *s, size_t n) {
    memcpy(room(E, n), s, n);
    E->b->n += n;
}

#define PUT(E, lit) put(E, lit, sizeof lit - 1)

/* 1: the byte needs an escape. */
static const unsigned char needs_esc[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,     /* " and / */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,     /* \ */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, /* DEL */
};

/* The length of the prefix of s[0..n) that needs no escape. Eight bytes at
 * a time (the last eight overlapping), each word tested at once for a byte
 * below 0x20 or equal to '"', '/', '\\' or DEL; bytes one by one from the
 * first word that has one, and in strings shorter than a word. */
#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL
static inline uint64_t zero_byte(uint64_t x) { return (x - ONES) & ~x & HIGHS; }
static inline uint64_t special(uint64_t x) {
    return ((x - ONES * 0x20) & ~x & HIGHS) | zero_byte(x ^ (ONES * '"')) | zero_byte(x ^ (ONES * '/')) |
           zero_byte(x ^ (ONES * '\\')) | zero_byte(x ^ (ONES * 0x7f));
}

static size_t plain_prefix(const char *s, size_t n) {
    size_t i = 0;
    if (n >= 8) {
        uint64_t x;
        for (; i + 8 <= n; i += 8) {
            memcpy(&x, s + i, 8);
            if (special(x)) goto bytes;
        }
        if (i == n) return n;
        memcpy(&x, s + n - 8, 8);
        if (!special(x)) return n;
        i = n - 8;
    }
bytes:
    while (i < n && !needs_esc[(unsigned char)s[i]]) i++;
    return i;
}

/* The string, quoted, then tail (':' after a key; 0: nothing). */
static void put_string(enc *E, const char *s, size_t n, char tail) {
    char *o = room(E, n * 6 + 3), *start = o;
    *o++ = '"';
    size_t i = plain_prefix(s, n);
    memcpy(o, s, i);
    o += i;
    for (; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!needs_esc[c]) {
            *o++ = (char)c;
            continue;
        }
        *o++ = '\\';
        switch (c) {
        case '"': *o++ = '"'; break;
        case '\\': *o++ = '\\'; break;
        case '/': *o++ = '/'; break;
        case '\b': *o++ = 'b'; break;
        case '\f': *o++ = 'f'; break;
        case '\n': *o++ = 'n'; break;
        case '\r': *o++ = 'r'; break;
        case '\t': *o++ = 't'; break;
        default:
            *o++ = 'u';
            *o++ = '0';
            *o++ = '0';
            *o++ = "0123456789abcdef"[c >> 4];
            *o++ = "0123456789abcdef"[c & 15];
        }
    }
    *o++ = '"';
    if (tail) *o++ = tail;
    E->b->n += (size_t)(o - start);
}

/* A number as lua-cjson printed it: "%.14g" of the double (an integer has
 * every digit below 1e14, an exponent above). */
static void put_number(enc *E, int idx) {
    double d = lua_tonumber(E->L, idx);
    if (!isfinite(d)) luaL_error(E->L, "Cannot serialise number: must not be NaN or Inf");
    E->b->n += (size_t)fpconv_g_fmt(room(E, 32), d, 14);
}

static void value(enc *E, int idx, int depth);

static void put_key(enc *E, int kidx) {
    lua_State *L = E->L;
    switch (lua_type(L, kidx)) {
    case LUA_TSTRING: {
        size_t n;
        const char *s = lua_tolstring(L, kidx, &n);
        put_string(E, s, n, ':');
        return;
    }
    case LUA_TNUMBER:
        PUT(E, "\"");
        put_number(E, kidx);
        PUT(E, "\":");
        return;
    default:
        luaL_error(L, "Cannot serialise %s: table key must be a number or string", luaL_typename(L, kidx));
    }
}

/* A positive integral number key: its value, else 0. */
static double array_key(lua_State *L, int kidx) {
    if (lua_type(L, kidx) != LUA_TNUMBER) return 0;
    double k = lua_tonumber(L, kidx);
    return k >= 1 && floor(k) == k ? k : 0;
}

/* lua-cjson kept the largest index in an int: a key past INT_MAX made it
 * INT_MIN (x86's conversion), so such a table came out as an object, or as
 * an array as long as the largest index after it. Kept, for the same bytes. */
static int raise_max(int max, double k) {
    if (!(k > max)) return max;
    return k >= 2147483648.0 ? INT_MIN : (int)k;
}

/* The object t (at idx), its first pair already on the stack [k, v]. */
static void object_from(enc *E, int idx, int depth) {
    lua_State *L = E->L;
    PUT(E, "{");
    int first = 1;
    do {                                            /* [k, v] */
        if (!first) PUT(E, ",");
        first = 0;
        put_key(E, -2);
        value(E, lua_gettop(L), depth);
        lua_pop(L, 1);                              /* [k] */
    } while (lua_next(L, idx));
    PUT(E, "}");
}

static void table(enc *E, int idx, int depth) {
    lua_State *L = E->L;
    if (depth > MAX_DEPTH || !lua_checkstack(L, 3)) luaL_error(L, "Cannot serialise, excessive nesting (%d)", depth);
    lua_pushnil(L);
    if (!lua_next(L, idx)) {                        /* empty: {} as lua-cjson */
        PUT(E, "{}");
        return;
    }
    double k1 = array_key(L, -2);
    if (k1 == 0) {                                  /* a key that is not an index: an object, one pass */
        object_from(E, idx, depth);
        return;
    }
    int max = raise_max(0, k1);
    /* Looks like an array: every key must be an index. */
    size_t items = 1;
    int is_array = 1;
    lua_pop(L, 1);
    while (lua_next(L, idx)) {
        double k = array_key(L, -2);
        lua_pop(L, 1);
        if (k == 0) {
            lua_pop(L, 1);
            is_array = 0;
            break;
        }
        max = raise_max(max, k);
        items++;
    }
    if (is_array && max > 10 && (size_t)max > items * 2)
        luaL_error(L, "Cannot serialise table: excessively sparse array");
    if (is_array && max > 0) {
        PUT(E, "[");
        lua_Integer n = (lua_Integer)max;
        for (lua_Integer i = 1; i <= n; i++) {
            if (i > 1) PUT(E, ",");
            lua_rawgeti(L, idx, i);
            value(E, lua_gettop(L), depth);
            lua_pop(L, 1);
        }
        PUT(E, "]");
        return;
    }
    lua_pushnil(L);
    lua_next(L, idx);                               /* not empty: seen above */
    object_from(E, idx, depth);
}

static void value(enc *E, int idx, int depth) {
    lua_State *L = E->L;
    switch (lua_type(L, idx)) {
    case LUA_TSTRING: {
        size_t n;
        const char *s = lua_tolstring(L, idx, &n);
        if (n == EMPTY_LEN && !memcmp(s, EMPTY_ARRAY, EMPTY_LEN)) PUT(E, "[]");
        else put_string(E, s, n, 0);
        return;
    }
    case LUA_TNUMBER: put_number(E, idx); return;
    case LUA_TBOOLEAN:
        if (lua_toboolean(L, idx)) PUT(E, "true");
        else PUT(E, "false");
        return;
    case LUA_TNIL: PUT(E, "null"); return;
    case LUA_TTABLE: table(E, idx, depth + 1); return;
    case LUA_TLIGHTUSERDATA:
        if (!lua_touserdata(L, idx)) {              /* json.null */
            PUT(E, "null");
            return;
        }
        /* fall through */
    default: luaL_error(L, "Cannot serialise %s: type not supported", luaL_typename(L, idx));
    }
}

/* Encode the value at idx into the calling thread's buffer; raises on a
 * value JSON cannot hold. The bytes stay valid until the thread's next
 * encode. */
static const char *encode(lua_State *L, int idx, size_t *len) {
    enc E = { .L = L, .b = thread_buf(L) };
    value(&E, lua_absindex(L, idx), 0);
    *len = E.b->n;
    return E.b->p ? E.b->p : "";
}

/* json.encode(v) -> string */
int lb_json_encode(lua_State *L) {
    luaL_argcheck(L, lua_gettop(L) == 1, 1, "expected 1 argument");
    size_t n;
    const char *s = encode(L, 1, &n);
    lua_pushlstring(L, s, n);
    return 1;
}

/* lb_json_encode_to(v, out): for C callers through lua_pcall; out is a
 * light userdata lb_json_out filled with the thread buffer's bytes. */
int lb_json_encode_to(lua_State *L) {
    lb_json_out *out = lua_touserdata(L, 2);
    out->p = encode(L, 1, &out->len);
    return 0;
}
