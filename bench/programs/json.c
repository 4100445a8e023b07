// expect: 0xf255bbdb (checksum of run(); see bench.h)
/* A small JSON parser for configuration messages: objects, arrays, strings
 * with escapes, integers (no floats), true/false/null; it validates the
 * document and folds every key and value into a checksum, as a device
 * reading a provisioning message would.
 * KAT: {"a":[1,-2,{"b":"x\"y"}],"c":true} parses, its integers sum to -1,
 * it has 3 keys; a document with a trailing comma is rejected. */
#include "bench.h"

typedef struct {
    const u8 *p, *end;
    i32 int_sum;
    u32 keys;
    u32 hash;
    int depth;
} parser;

static void skip_ws(parser *ps) {
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\n' || *ps->p == '\t' || *ps->p == '\r')) ps->p++;
}

static int parse_value(parser *ps);

static int parse_string(parser *ps) {
    if (ps->p >= ps->end || *ps->p != '"') return 0;
    ps->p++;
    u32 h = 2166136261u;
    while (ps->p < ps->end && *ps->p != '"') {
        u8 c = *ps->p++;
        if (c == '\\') {
            if (ps->p >= ps->end) return 0;
            u8 e = *ps->p++;
            switch (e) {
            case '"': case '\\': case '/': c = e; break;
            case 'n': c = '\n'; break;
            case 't': c = '\t'; break;
            case 'u': {
                u32 v = 0;
                for (int k = 0; k < 4; k++) {
                    if (ps->p >= ps->end) return 0;
                    u8 d = *ps->p++;
                    if (d >= '0' && d <= '9') v = v * 16 + (u32)(d - '0');
                    else if ((d | 0x20) >= 'a' && (d | 0x20) <= 'f') v = v * 16 + (u32)((d | 0x20) - 'a' + 10);
                    else return 0;
                }
                c = (u8)v;
                break;
            }
            default: return 0;
            }
        } else if (c < 0x20) {
            return 0;
        }
        h = (h ^ c) * 16777619u;
    }
    if (ps->p >= ps->end) return 0;
    ps->p++;
    ps->hash = bench_mix(ps->hash, h);
    return 1;
}

static int parse_number(parser *ps) {
    int negative = 0;
    if (*ps->p == '-') {
        negative = 1;
        ps->p++;
    }
    if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9') return 0;
    i32 v = 0;
    while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') v = v * 10 + (*ps->p++ - '0');
    ps->int_sum += negative ? -v : v;
    ps->hash = bench_mix(ps->hash, (u32)v);
    return 1;
}

static int expect_word(parser *ps, const char *w, u32 tag) {
    while (*w) {
        if (ps->p >= ps->end || *ps->p != (u8)*w) return 0;
        ps->p++;
        w++;
    }
    ps->hash = bench_mix(ps->hash, tag);
    return 1;
}

static int parse_container(parser *ps, u8 close, int is_object) {
    ps->p++;
    if (++ps->depth > 32) return 0;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == close) {
        ps->p++;
        ps->depth--;
        return 1;
    }
    for (;;) {
        skip_ws(ps);
        if (is_object) {
            if (!parse_string(ps)) return 0;
            ps->keys++;
            skip_ws(ps);
            if (ps->p >= ps->end || *ps->p++ != ':') return 0;
        }
        if (!parse_value(ps)) return 0;
        skip_ws(ps);
        if (ps->p >= ps->end) return 0;
        u8 c = *ps->p++;
        if (c == close) break;
        if (c != ',') return 0;
    }
    ps->depth--;
    return 1;
}

static int parse_value(parser *ps) {
    skip_ws(ps);
    if (ps->p >= ps->end) return 0;
    switch (*ps->p) {
    case '{': return parse_container(ps, '}', 1);
    case '[': return parse_container(ps, ']', 0);
    case '"': return parse_string(ps);
    case 't': return expect_word(ps, "true", 1);
    case 'f': return expect_word(ps, "false", 2);
    case 'n': return expect_word(ps, "null", 3);
    default: return parse_number(ps);
    }
}

static int parse(const u8 *text, usize n, parser *ps) {
    ps->p = text;
    ps->end = text + n;
    ps->int_sum = 0;
    ps->keys = 0;
    ps->hash = 0;
    ps->depth = 0;
    if (!parse_value(ps)) return 0;
    skip_ws(ps);
    return ps->p == ps->end;
}

static u8 doc[4096];
static usize doc_len;

static void emit(const char *s) {
    while (*s && doc_len < sizeof doc) doc[doc_len++] = (u8)*s++;
}

static void emit_int(i32 v) {
    char buf[12];
    int i = 11;
    buf[i] = 0;
    u32 u = v < 0 ? (u32)-v : (u32)v;
    do {
        buf[--i] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0) buf[--i] = '-';
    emit(buf + i);
}

i32 BENCH_ENTRY(void) {
    static const char good[] = "{\"a\":[1,-2,{\"b\":\"x\\\"y\"}],\"c\":true}";
    static const char bad[] = "{\"a\":[1,2,]}";
    parser ps;
    if (!parse((const u8 *)good, sizeof good - 1, &ps) || ps.int_sum != -1 || ps.keys != 3) return BENCH_KAT_FAILED;
    if (parse((const u8 *)bad, sizeof bad - 1, &ps)) return BENCH_KAT_FAILED;

    /* A provisioning document: an array of device records. */
    u32 seed = 0x15011501u;
    doc_len = 0;
    emit("{\"devices\": [");
    for (int i = 0; i < 40; i++) {
        if (i) emit(", ");
        emit("{\"id\": ");
        emit_int((i32)(bench_rand(&seed) % 100000));
        emit(", \"name\": \"sensor\\u0041-");
        emit_int(i);
        emit("\", \"enabled\": ");
        emit(bench_rand(&seed) & 1 ? "true" : "false");
        emit(", \"limits\": [");
        emit_int(-(i32)(bench_rand(&seed) % 500));
        emit(", ");
        emit_int((i32)(bench_rand(&seed) % 500));
        emit("], \"parent\": null}");
    }
    emit("], \"version\": 7}");
    u32 h = 0;
    for (int rep = 0; rep < 3; rep++) {
        if (!parse(doc, doc_len, &ps)) return BENCH_KAT_FAILED;
        h = bench_mix(h, ps.hash ^ (u32)ps.int_sum ^ ps.keys << 20);
    }
    return (i32)bench_mix(h, (u32)doc_len);
}
