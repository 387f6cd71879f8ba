// CRC32C and CRC32 for Kafka record batches. The hot path uses the SSE4.2 crc32 instruction,
// processing three independent 8-byte lanes is not needed at our sizes: one lane reaches
// several GB/s, well above what a 2-core broker can feed it. Slicing-by-8 is the fallback.
#include "CTernSupport.h"
#include <string.h>

static uint32_t table_c[8][256];
static uint32_t table_ieee[8][256];
static int tables_ready = 0;
static int hw = -1;

static void build_table(uint32_t t[8][256], uint32_t poly) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ poly : c >> 1;
        t[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = t[0][i];
        for (int s = 1; s < 8; s++) {
            c = t[0][c & 0xff] ^ (c >> 8);
            t[s][i] = c;
        }
    }
}

static void ensure_tables(void) {
    if (__atomic_load_n(&tables_ready, __ATOMIC_ACQUIRE)) return;
    build_table(table_c, 0x82F63B78u);
    build_table(table_ieee, 0xEDB88320u);
    __atomic_store_n(&tables_ready, 1, __ATOMIC_RELEASE);
}

static uint32_t slice8(uint32_t t[8][256], uint32_t crc, const uint8_t *p, size_t n) {
    crc = ~crc;
    while (n && ((uintptr_t)p & 7)) { crc = t[0][(crc ^ *p++) & 0xff] ^ (crc >> 8); n--; }
    while (n >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        uint32_t lo = (uint32_t)v ^ crc, hi = (uint32_t)(v >> 32);
        crc = t[7][lo & 0xff] ^ t[6][(lo >> 8) & 0xff] ^ t[5][(lo >> 16) & 0xff] ^ t[4][lo >> 24] ^
              t[3][hi & 0xff] ^ t[2][(hi >> 8) & 0xff] ^ t[1][(hi >> 16) & 0xff] ^ t[0][hi >> 24];
        p += 8; n -= 8;
    }
    while (n--) crc = t[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}

uint32_t tern_crc32c_sw(uint32_t crc, const void *data, size_t length) {
    ensure_tables();
    return slice8(table_c, crc, (const uint8_t *)data, length);
}

uint32_t tern_crc32(uint32_t crc, const void *data, size_t length) {
    ensure_tables();
    return slice8(table_ieee, crc, (const uint8_t *)data, length);
}

#if defined(__x86_64__)
__attribute__((target("sse4.2")))
static uint32_t crc32c_hw(uint32_t crc, const uint8_t *p, size_t n) {
    uint64_t c = ~crc;
    while (n && ((uintptr_t)p & 7)) { c = __builtin_ia32_crc32qi((uint32_t)c, *p++); n--; }
    while (n >= 32) {
        uint64_t a, b, d, e;
        memcpy(&a, p, 8); memcpy(&b, p + 8, 8); memcpy(&d, p + 16, 8); memcpy(&e, p + 24, 8);
        c = __builtin_ia32_crc32di(c, a);
        c = __builtin_ia32_crc32di(c, b);
        c = __builtin_ia32_crc32di(c, d);
        c = __builtin_ia32_crc32di(c, e);
        p += 32; n -= 32;
    }
    while (n >= 8) { uint64_t v; memcpy(&v, p, 8); c = __builtin_ia32_crc32di(c, v); p += 8; n -= 8; }
    while (n--) c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
    return ~(uint32_t)c;
}
static int detect_hw(void) { __builtin_cpu_init(); return __builtin_cpu_supports("sse4.2") ? 1 : 0; }
#else
static uint32_t crc32c_hw(uint32_t crc, const uint8_t *p, size_t n) { return tern_crc32c_sw(crc, p, n); }
static int detect_hw(void) { return 0; }
#endif

int tern_crc32c_is_hardware(void) {
    int h = __atomic_load_n(&hw, __ATOMIC_ACQUIRE);
    if (h < 0) { h = detect_hw(); __atomic_store_n(&hw, h, __ATOMIC_RELEASE); }
    return h;
}

uint32_t tern_crc32c(uint32_t crc, const void *data, size_t length) {
    if (tern_crc32c_is_hardware()) return crc32c_hw(crc, (const uint8_t *)data, length);
    return tern_crc32c_sw(crc, data, length);
}
