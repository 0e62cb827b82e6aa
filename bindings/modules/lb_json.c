/* lb_json.c: the json module. One encoder, for json.encode and for every
 * route's JSON body; one decoder, lua-cjson's, made strict; arrays marked
 * by a metatable (as OpenResty's cjson.array_mt).
 *
 * The encoder is here rather than lua-cjson's because Debian's lua-cjson
 * (2.1.0) can write neither an empty array nor only valid UTF-8. It is no
 * faster than lua-cjson's own (tests/bench/bj_json.py, rows BJ and BJv:
 * about 1.0x); lua-cjson with what those two would need around it (a walk
 * that swaps each empty array for a placeholder and back, a pass over its
 * output) measured 2x slower. Route bodies are written from its buffer,
 * with no Lua string made. Its output is byte for byte lua-cjson 2.1's
 * with its defaults, which the API's shapes were defined against, except
 * where lua-cjson's is not valid JSON or has no array marks:
 *
 *   - numbers as "%.14g" (json_fpconv.c), integers through the same rule
 *     (1e+14 and above get an exponent); NaN and infinities are an error;
 *   - strings with \" \\ \/ \b \f \n \r \t and \u00XX for the other control
 *     characters and DEL; well-formed UTF-8 as it is, and \ufffd for each
 *     maximal ill-formed subpart (base/utf8.h): the output is always UTF-8;
 *   - a table with json.array_mt as its metatable is an array of its
 *     #t elements (other keys ignored), [] when empty; json.empty_array
 *     is [] too;
 *   - any other table whose keys are all positive integers is an array
 *     (holes are null) unless it is excessively sparse (max > 2 x count
 *     and max > 10: an error); anything else is an object, number keys as
 *     strings, in lua_next order; an empty table is {};
 *   - nil and json.null are null; nesting deeper than 1000 is an error.
 *
 * The bytes go to a buffer of the calling thread, kept between calls. */
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/utf8.h"
#include "modules/lb.h"

void fpconv_init(void);                                     /* json_fpconv.c */
int fpconv_g_fmt(char *str, double num, int precision);

#define MAX_DEPTH 1000
#define BUF_KEEP (1u << 20)     /* a thread keeps its encode buffer up to this size */

static const char array_mt_key;         /* registry[&array_mt_key]: json.array_mt */
static const char empty_array;          /* json.empty_array: a light userdata to this */

static pthread_key_t buf_key;
static pthread_once_t buf_once = PTHREAD_ONCE_INIT;

static void buf_free(void *p) {
    pg_buf_free(p);
    free(p);
}

static void buf_key_init(void) { pthread_key_create(&buf_key, buf_free); }

static pg_buf *thread_buf(lua_State *L) {
    pthread_once(&buf_once, buf_key_init);
    pg_buf *b = pthread_getspecific(buf_key);
    if (!b) {
        b = calloc(1, sizeof *b);                   /* PG_BUF_INIT */
        if (!b || pthread_setspecific(buf_key, b)) {
            free(b);
            luaL_error(L, "not enough memory");
        }
    }
    if (b->cap > BUF_KEEP) pg_buf_free(b);          /* one huge body: do not keep its buffer */
    else pg_buf_clear(b);
    return b;
}

typedef struct enc {
    lua_State *L;
    pg_buf *b;                  /* written past b->n, which each writer then advances */
    int mt;                     /* stack index of json.array_mt; 0: none in this state */
} enc;

static char *grow(enc *E, size_t n) {
    char *p = pg_buf_reserve(E->b, n);
    if (!p) luaL_error(E->L, "not enough memory");
    return p;
}

/* Room for n more bytes (and pg_buf's NUL). */
static inline char *room(enc *E, size_t n) {
    pg_buf *b = E->b;
    return b->cap - b->n > n ? b->p + b->n : grow(E, n);
}

static inline void put(enc *E, const char *s, size_t n) {
    memcpy(room(E, n), s, n);
    E->b->n += n;
}

#define PUT(E, lit) put(E, lit, sizeof lit - 1)

/* 1: the byte is not copied as it is (an escape; or, from 0x80, the start
 * of a sequence to check). */
#define R16 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1
static const unsigned char needs_esc[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,     /* " and / */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,     /* \ */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, /* DEL */
    R16, R16, R16, R16, R16, R16, R16, R16,
};

/* The length of the prefix of s[0..n) that is copied as it is. Eight bytes
 * at a time (the last eight overlapping), each word tested at once for a
 * byte below 0x20, from 0x80, or equal to '"', '/', '\\' or DEL; bytes one
 * by one from the first word that has one, and in strings shorter than a
 * word. */
#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL
static inline uint64_t zero_byte(uint64_t x) { return (x - ONES) & ~x & HIGHS; }
static inline uint64_t special(uint64_t x) {
    return (x & HIGHS) | ((x - ONES * 0x20) & ~x & HIGHS) | zero_byte(x ^ (ONES * '"')) | zero_byte(x ^ (ONES * '/')) |
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
    size_t i = 0;
    for (;;) {
        size_t plain = plain_prefix(s + i, n - i);
        memcpy(o, s + i, plain);
        o += plain;
        i += plain;
        if (i == n) break;
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x80) {                            /* well-formed: as it is; else U+FFFD */
            int len = pg_utf8_next(s + i, n - i);
            if (len > 0) {
                memcpy(o, s + i, (size_t)len);
                o += len;
                i += (size_t)len;
            } else {
                memcpy(o, "\\ufffd", 6);
                o += 6;
                i += (size_t)-len;
            }
            continue;
        }
        i++;
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

/* t[1..n] (at idx) as an array. */
static void array(enc *E, int idx, lua_Integer n, int depth) {
    lua_State *L = E->L;
    PUT(E, "[");
    for (lua_Integer i = 1; i <= n; i++) {
        if (i > 1) PUT(E, ",");
        lua_rawgeti(L, idx, i);
        value(E, lua_gettop(L), depth);
        lua_pop(L, 1);
    }
    PUT(E, "]");
}

static void table(enc *E, int idx, int depth) {
    lua_State *L = E->L;
    if (depth > MAX_DEPTH || !lua_checkstack(L, 3)) luaL_error(L, "Cannot serialise, excessive nesting (%d)", depth);
    if (E->mt && lua_getmetatable(L, idx)) {
        int marked = lua_rawequal(L, -1, E->mt);
        lua_pop(L, 1);
        if (marked) {                               /* json.array_mt: #t elements, [] when empty */
            array(E, idx, (lua_Integer)lua_rawlen(L, idx), depth);
            return;
        }
    }
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
        array(E, idx, max, depth);
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
        put_string(E, s, n, 0);
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
        if (lua_touserdata(L, idx) == &empty_array) {
            PUT(E, "[]");
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
    idx = lua_absindex(L, idx);
    enc E = { .L = L, .b = thread_buf(L) };
    lua_rawgetp(L, LUA_REGISTRYINDEX, &array_mt_key);  /* [.., array_mt or nil] */
    E.mt = lua_istable(L, -1) ? lua_gettop(L) : 0;
    value(&E, idx, 0);
    lua_pop(L, 1);
    E.b->p[E.b->n] = '\0';                         /* pg_buf's NUL: room() kept a byte for it */
    *len = E.b->n;
    return E.b->p;
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

/* ---- decoding ------------------------------------------------------------ */

/* s[i] is '"': the index of the string's closing quote (n if none), with
 * *nul_run raised to its longest run of \u0000 escapes. */
static size_t string_end(const char *s, size_t n, size_t i, size_t *nul_run) {
    size_t run = 0;
    for (i++; i < n && s[i] != '"'; i++) {
        if (s[i] != '\\') {
            run = 0;
        } else if (n - i > 5 && !memcmp(s + i + 1, "u0000", 5)) {
            if (++run > *nul_run) *nul_run = run;
            i += 5;
        } else {
            run = 0;
            i++;                                    /* the escaped byte */
        }
    }
    return i;
}

/* s[i] is '[': the index of its ']' when only whitespace is between, else 0. */
static size_t empty_close(const char *s, size_t n, size_t i) {
    size_t j = i + 1;
    while (j < n && (s[j] == ' ' || s[j] == '\t' || s[j] == '\n' || s[j] == '\r')) j++;
    return j < n && s[j] == ']' ? j : 0;
}

/* The empty arrays of a JSON text (outside strings) and, in *nul_run, the
 * longest run of \u0000 escapes in its strings. */
static size_t empty_arrays(const char *s, size_t n, size_t *nul_run) {
    size_t found = 0;
    *nul_run = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"') i = string_end(s, n, i, nul_run);
        else if (s[i] == '[' && empty_close(s, n, i)) found++;
    }
    return found;
}

/* The text with every empty array holding one string of k NUL bytes,
 * ["\u0000..."], pushed. No string of the text itself can be that one:
 * its longest run of \u0000 escapes is shorter than k. */
static void push_marked(lua_State *L, const char *s, size_t n, size_t k) {
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    size_t from = 0, run = 0, j;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"') {
            i = string_end(s, n, i, &run);
        } else if (s[i] == '[' && (j = empty_close(s, n, i))) {
            luaL_addlstring(&b, s + from, i + 1 - from);
            luaL_addchar(&b, '"');
            for (size_t r = 0; r < k; r++) luaL_addlstring(&b, "\\u0000", 6);
            luaL_addchar(&b, '"');
            from = i = j;                           /* from the ']' on */
        }
    }
    luaL_addlstring(&b, s + from, n - from);
    luaL_pushresult(&b);
}

/* Set json.array_mt (at mt) on every array of the decoded value at idx; an
 * array holding just the marker string (at marker; 0: none) was empty. */
static void mark_arrays(lua_State *L, int idx, int mt, int marker) {
    luaL_checkstack(L, 3, "JSON nesting");
    if (lua_rawgeti(L, idx, 1) == LUA_TNIL) {       /* an object (keys are strings), or {} */
        lua_pop(L, 1);
        lua_pushnil(L);
        while (lua_next(L, idx)) {                  /* [k, v] */
            if (lua_type(L, -1) == LUA_TTABLE) mark_arrays(L, lua_gettop(L), mt, marker);
            lua_pop(L, 1);
        }
        return;
    }
    if (marker && lua_rawequal(L, -1, marker)) {
        lua_pushnil(L);
        lua_rawseti(L, idx, 1);
    }
    lua_pop(L, 1);
    lua_pushvalue(L, mt);
    lua_setmetatable(L, idx);
    lua_Integer n = (lua_Integer)lua_rawlen(L, idx);
    for (lua_Integer i = 1; i <= n; i++) {
        if (lua_rawgeti(L, idx, i) == LUA_TTABLE) mark_arrays(L, lua_gettop(L), mt, marker);
        lua_pop(L, 1);
    }
}

/* json.decode(text) -> value: lua-cjson's decoder (upvalue 1), strict: no
 * NUL byte anywhere (lua-cjson would stop reading there), numbers as the
 * JSON grammar has them and within a double's range (json_fpconv.c), and
 * every array with json.array_mt, so that [] is encoded back as []. */
static int json_decode(lua_State *L) {
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    luaL_argcheck(L, lua_gettop(L) == 1, 2, "expected 1 argument");
    const char *nul = memchr(s, '\0', n);
    if (nul) return luaL_error(L, "JSON text has a NUL byte at character %d", (int)(nul - s) + 1);
    lua_pushvalue(L, lua_upvalueindex(1));
    if (!memchr(s, '[', n)) {                       /* no array: lua-cjson's value as it is */
        lua_pushvalue(L, 1);
        lua_call(L, 1, 1);
        return 1;
    }
    size_t run;
    int marker = 0;
    if (empty_arrays(s, n, &run)) {
        luaL_checkstack(L, 4, NULL);
        push_marked(L, s, n, run + 1);              /* [s, decode, marked] */
        if (lua_pcall(L, 1, 1, 0) != LUA_OK) {      /* the error as the text has it */
            lua_settop(L, 1);
            lua_pushvalue(L, lua_upvalueindex(1));
            lua_insert(L, 1);
            lua_call(L, 1, 1);
        }
        luaL_Buffer b;                              /* [s, value] */
        luaL_buffinit(L, &b);
        for (size_t r = 0; r <= run; r++) luaL_addchar(&b, '\0');
        luaL_pushresult(&b);                        /* [s, value, marker] */
        marker = lua_gettop(L);
        lua_pushvalue(L, -2);
    } else {
        lua_pushvalue(L, 1);
        lua_call(L, 1, 1);                          /* [s, value] */
    }
    if (lua_type(L, -1) == LUA_TTABLE) {
        lua_rawgetp(L, LUA_REGISTRYINDEX, &array_mt_key);
        mark_arrays(L, lua_gettop(L) - 1, lua_gettop(L), marker);
        lua_pop(L, 1);
    }
    return 1;
}

/* json.array([t]) -> t, with json.array_mt: an array even when empty. */
static int json_array(lua_State *L) {
    if (lua_isnoneornil(L, 1)) {
        lua_settop(L, 0);
        lua_newtable(L);
    }
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &array_mt_key);  /* [t, array_mt] */
    if (lua_getmetatable(L, 1)) {
        luaL_argcheck(L, lua_rawequal(L, -1, -2), 1, "the table has another metatable");
        lua_pop(L, 1);
    }
    lua_setmetatable(L, 1);
    return 1;
}

/* The json module: lua-cjson's null and (made strict) decode; encode, the
 * array marks. Calling fpconv_init links json_fpconv.c ahead of the
 * lua-cjson archive's own fpconv.o. */
int luaopen_json(lua_State *L) {
    fpconv_init();
    luaopen_cjson(L);                               /* [cjson] */
    lua_getfield(L, -1, "decode_invalid_numbers");  /* no hex, leading zeros, NaN or Infinity */
    lua_pushboolean(L, 0);
    lua_call(L, 1, 0);
    lua_createtable(L, 0, 6);                       /* [cjson, json] */
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &array_mt_key) != LUA_TTABLE) {  /* one per state */
        lua_pop(L, 1);
        lua_newtable(L);
        lua_pushvalue(L, -1);
        lua_rawsetp(L, LUA_REGISTRYINDEX, &array_mt_key);
    }
    lua_setfield(L, -2, "array_mt");
    lua_pushlightuserdata(L, (void *)&empty_array);
    lua_setfield(L, -2, "empty_array");
    lua_getfield(L, -2, "null");
    lua_setfield(L, -2, "null");
    lua_getfield(L, -2, "decode");
    lua_pushcclosure(L, json_decode, 1);
    lua_setfield(L, -2, "decode");
    lua_pushcfunction(L, lb_json_encode);
    lua_setfield(L, -2, "encode");
    lua_pushcfunction(L, json_array);
    lua_setfield(L, -2, "array");
    lua_remove(L, -2);                              /* [json] */
    return 1;
}
