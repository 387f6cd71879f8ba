// One-shot compression for the four codecs Kafka uses. Sizes are bounded by the caller, which
// allocates tern_compress_bound() bytes, so no call here grows memory on its own.
#include "CTernCompression.h"
#include <lz4frame.h>
#include <snappy-c.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

static LZ4F_preferences_t lz4_preferences(int level) {
    LZ4F_preferences_t prefs;
    memset(&prefs, 0, sizeof(prefs));
    // Kafka's Java producer writes 64 KiB independent blocks; matching it keeps the decoder's
    // window small on every client.
    prefs.frameInfo.blockSizeID = LZ4F_max64KB;
    prefs.frameInfo.blockMode = LZ4F_blockIndependent;
    prefs.compressionLevel = level > 0 ? level : 0;
    return prefs;
}

size_t tern_compress_bound(int codec, size_t length) {
    switch (codec) {
    case TERN_CODEC_GZIP:
        // deflateBound for the default window plus the 18-byte gzip header and trailer.
        return compressBound((uLong)length) + 18 + 64;
    case TERN_CODEC_SNAPPY:
        return snappy_max_compressed_length(length);
    case TERN_CODEC_LZ4: {
        LZ4F_preferences_t prefs = lz4_preferences(0);
        return LZ4F_compressFrameBound(length, &prefs);
    }
    case TERN_CODEC_ZSTD:
        return ZSTD_compressBound(length);
    default:
        return 0;
    }
}

static int gzip_compress(int level, const void *src, size_t srcLength, void *dst, size_t dstCapacity,
                         size_t *written) {
    z_stream stream;
    memset(&stream, 0, sizeof(stream));
    // windowBits 15 + 16 selects the gzip wrapper, which is what Kafka's GZIPOutputStream writes.
    if (deflateInit2(&stream, level > 0 ? level : Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
                     Z_DEFAULT_STRATEGY) != Z_OK)
        return TERN_ERR_MEMORY;
    stream.next_in = (Bytef *)src;
    stream.avail_in = (uInt)srcLength;
    stream.next_out = (Bytef *)dst;
    stream.avail_out = (uInt)dstCapacity;
    int rc = deflate(&stream, Z_FINISH);
    *written = stream.total_out;
    deflateEnd(&stream);
    return rc == Z_STREAM_END ? TERN_OK : TERN_ERR_SPACE;
}

int tern_compress(int codec, int level, const void *src, size_t srcLength, void *dst,
                  size_t dstCapacity, size_t *written) {
    *written = 0;
    switch (codec) {
    case TERN_CODEC_GZIP:
        if (srcLength > 0xFFFFFFFFu || dstCapacity > 0xFFFFFFFFu) return TERN_ERR_SPACE;
        return gzip_compress(level, src, srcLength, dst, dstCapacity, written);
    case TERN_CODEC_SNAPPY: {
        size_t length = dstCapacity;
        snappy_status status = snappy_compress((const char *)src, srcLength, (char *)dst, &length);
        if (status != SNAPPY_OK) return TERN_ERR_SPACE;
        *written = length;
        return TERN_OK;
    }
    case TERN_CODEC_LZ4: {
        LZ4F_preferences_t prefs = lz4_preferences(level);
        size_t n = LZ4F_compressFrame(dst, dstCapacity, src, srcLength, &prefs);
        if (LZ4F_isError(n)) return TERN_ERR_SPACE;
        *written = n;
        return TERN_OK;
    }
    case TERN_CODEC_ZSTD: {
        size_t n = ZSTD_compress(dst, dstCapacity, src, srcLength, level > 0 ? level : 3);
        if (ZSTD_isError(n)) return TERN_ERR_SPACE;
        *written = n;
        return TERN_OK;
    }
    default:
        return TERN_ERR_CODEC;
    }
}

int tern_snappy_uncompressed_length(const void *src, size_t srcLength, size_t *length) {
    return snappy_uncompressed_length((const char *)src, srcLength, length) == SNAPPY_OK
               ? TERN_OK : TERN_ERR_CORRUPT;
}

int tern_snappy_uncompress(const void *src, size_t srcLength, void *dst, size_t dstCapacity,
                           size_t *written) {
    size_t length = dstCapacity;
    snappy_status status = snappy_uncompress((const char *)src, srcLength, (char *)dst, &length);
    if (status == SNAPPY_BUFFER_TOO_SMALL) return TERN_ERR_SPACE;
    if (status != SNAPPY_OK) return TERN_ERR_CORRUPT;
    *written = length;
    return TERN_OK;
}
