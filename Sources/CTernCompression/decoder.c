// Streaming decoders. The Swift side owns the output buffer and its size limit: it calls
// tern_decoder_step with bounded output space and stops once the limit is passed, so a small
// compressed input that expands without end (a "zip bomb") cannot exhaust memory.
#include "CTernCompression.h"
#include <lz4frame.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

struct tern_decoder {
    int codec;
    int midStream; // gzip: inflate has consumed part of a member
    z_stream zlib;
    LZ4F_dctx *lz4;
    ZSTD_DStream *zstd;
};

tern_decoder *tern_decoder_create(int codec) {
    tern_decoder *d = calloc(1, sizeof(tern_decoder));
    if (!d) return NULL;
    d->codec = codec;
    switch (codec) {
    case TERN_CODEC_GZIP:
        // 15 + 16: gzip wrapper only, as Kafka writes; a zlib or raw stream is corrupt input.
        if (inflateInit2(&d->zlib, 15 + 16) != Z_OK) { free(d); return NULL; }
        return d;
    case TERN_CODEC_LZ4:
        if (LZ4F_isError(LZ4F_createDecompressionContext(&d->lz4, LZ4F_VERSION))) { free(d); return NULL; }
        return d;
    case TERN_CODEC_ZSTD:
        d->zstd = ZSTD_createDStream();
        if (!d->zstd) { free(d); return NULL; }
        ZSTD_initDStream(d->zstd);
        return d;
    default:
        free(d);
        return NULL;
    }
}

void tern_decoder_free(tern_decoder *d) {
    if (!d) return;
    if (d->codec == TERN_CODEC_GZIP) inflateEnd(&d->zlib);
    if (d->lz4) LZ4F_freeDecompressionContext(d->lz4);
    if (d->zstd) ZSTD_freeDStream(d->zstd);
    free(d);
}

static int gzip_step(tern_decoder *d, const void *src, size_t srcLength, size_t *srcUsed, void *dst,
                     size_t dstCapacity, size_t *dstWritten) {
    uInt inChunk = srcLength > 0x7FFFFFFFu ? 0x7FFFFFFFu : (uInt)srcLength;
    uInt outChunk = dstCapacity > 0x7FFFFFFFu ? 0x7FFFFFFFu : (uInt)dstCapacity;
    d->zlib.next_in = (Bytef *)src;
    d->zlib.avail_in = inChunk;
    d->zlib.next_out = (Bytef *)dst;
    d->zlib.avail_out = outChunk;
    int rc = inflate(&d->zlib, Z_NO_FLUSH);
    *srcUsed = inChunk - d->zlib.avail_in;
    *dstWritten = outChunk - d->zlib.avail_out;
    if (rc == Z_STREAM_END) {
        // Java's GZIPInputStream reads concatenated members; do the same.
        inflateReset(&d->zlib);
        d->midStream = 0;
        return TERN_STREAM_END;
    }
    d->midStream = 1;
    if (rc == Z_OK) return TERN_OK;
    if (rc == Z_BUF_ERROR) return TERN_OK; // no progress possible: caller supplies more of either
    if (rc == Z_MEM_ERROR) return TERN_ERR_MEMORY;
    return TERN_ERR_CORRUPT;
}

int tern_decoder_step(tern_decoder *d, const void *src, size_t srcLength, size_t *srcUsed, void *dst,
                      size_t dstCapacity, size_t *dstWritten) {
    *srcUsed = 0;
    *dstWritten = 0;
    switch (d->codec) {
    case TERN_CODEC_GZIP:
        return gzip_step(d, src, srcLength, srcUsed, dst, dstCapacity, dstWritten);
    case TERN_CODEC_LZ4: {
        size_t in = srcLength, out = dstCapacity;
        size_t hint = LZ4F_decompress(d->lz4, dst, &out, src, &in, NULL);
        *srcUsed = in;
        *dstWritten = out;
        if (LZ4F_isError(hint)) return TERN_ERR_CORRUPT;
        return hint == 0 ? TERN_STREAM_END : TERN_OK;
    }
    case TERN_CODEC_ZSTD: {
        ZSTD_inBuffer in = {src, srcLength, 0};
        ZSTD_outBuffer out = {dst, dstCapacity, 0};
        size_t hint = ZSTD_decompressStream(d->zstd, &out, &in);
        *srcUsed = in.pos;
        *dstWritten = out.pos;
        if (ZSTD_isError(hint)) return TERN_ERR_CORRUPT;
        return hint == 0 ? TERN_STREAM_END : TERN_OK;
    }
    default:
        return TERN_ERR_CODEC;
    }
}
