#ifndef CTERN_SUPPORT_H
#define CTERN_SUPPORT_H
#include <stddef.h>
#include <stdint.h>

/// CRC32C (Castagnoli) as Kafka's record batch v2 uses it. `crc` is the running value
/// (0 to start); the result is final (already inverted), and can be passed back in to continue.
uint32_t tern_crc32c(uint32_t crc, const void *data, size_t length);

/// Same, but always the portable slicing-by-8 path (for tests and benchmarks).
uint32_t tern_crc32c_sw(uint32_t crc, const void *data, size_t length);

/// 1 when the SSE4.2 (or ARMv8 CRC) instruction path is in use.
int tern_crc32c_is_hardware(void);

/// CRC32 (IEEE, zlib polynomial) for legacy message sets (magic 0 and 1).
uint32_t tern_crc32(uint32_t crc, const void *data, size_t length);

#endif
