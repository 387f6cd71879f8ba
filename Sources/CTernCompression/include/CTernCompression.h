#ifndef CTERN_COMPRESSION_H
#define CTERN_COMPRESSION_H
// Thin shims over the system zlib, liblz4 (frame format), libzstd and libsnappy, so that Swift sees
// one small, stable C surface instead of four libraries' headers. Framing that Kafka adds on top
// (xerial snappy) is done in Swift.
#include <stddef.h>
#include <stdint.h>

/// Codec numbers as Kafka's batch attributes encode them.
enum {
    TERN_CODEC_GZIP = 1,
    TERN_CODEC_SNAPPY = 2,
    TERN_CODEC_LZ4 = 3,
    TERN_CODEC_ZSTD = 4,
};

/// Status codes shared by every shim.
enum {
    TERN_OK = 0,            // finished (compress) or progress made, more may follow (decoder step)
    TERN_STREAM_END = 1,    // decoder: the compressed stream is complete
    TERN_ERR_CORRUPT = -1,  // input is not valid for the codec
    TERN_ERR_SPACE = -2,    // output capacity too small
    TERN_ERR_MEMORY = -3,   // the library could not allocate its state
    TERN_ERR_CODEC = -4,    // unknown codec
};

/// Upper bound of the compressed size of `length` input bytes (0 for an unknown codec).
size_t tern_compress_bound(int codec, size_t length);

/// One-shot compression into `dst` (capacity at least tern_compress_bound); sets `*written`.
/// gzip writes one gzip member (RFC 1952), lz4 one LZ4 frame with 64 KiB independent blocks,
/// zstd one frame (with its content size), snappy one raw block. `level` <= 0 means the codec default.
int tern_compress(int codec, int level, const void *src, size_t srcLength,
                  void *dst, size_t dstCapacity, size_t *written);

/// Streaming decoder for gzip, lz4 frames and zstd, where the output size is not known up front.
typedef struct tern_decoder tern_decoder;
tern_decoder *tern_decoder_create(int codec);
void tern_decoder_free(tern_decoder *decoder);

/// Decodes from `src` into `dst`; sets how much of each was used. Returns TERN_STREAM_END when the
/// last frame (or gzip member) ended, TERN_OK when more input or output space is needed, or an
/// error. Concatenated frames/members are decoded in sequence.
int tern_decoder_step(tern_decoder *decoder, const void *src, size_t srcLength, size_t *srcUsed,
                      void *dst, size_t dstCapacity, size_t *dstWritten);

/// Raw snappy block: the uncompressed length stored in its preamble (TERN_ERR_CORRUPT if none).
int tern_snappy_uncompressed_length(const void *src, size_t srcLength, size_t *length);
/// Raw snappy block into `dst` of capacity at least the stored uncompressed length.
int tern_snappy_uncompress(const void *src, size_t srcLength, void *dst, size_t dstCapacity,
                           size_t *written);

#endif
