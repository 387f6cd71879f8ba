/// Java's `Utils.murmur2`: 32-bit MurmurHash2 with seed 0x9747b28c, over the key bytes. Producers in every
/// language that want to agree with Java on where a key lands use exactly this (librdkafka's `murmur2_random`).
public func murmur2<Bytes: Collection<UInt8>>(_ data: Bytes) -> Int32 {
    let bytes = Array(data)
    let length = bytes.count
    let m: UInt32 = 0x5bd1_e995
    let r: UInt32 = 24
    var h: UInt32 = 0x9747_b28c ^ UInt32(truncatingIfNeeded: length)
    let length4 = length / 4
    for i in 0..<length4 {
        let i4 = i * 4
        var k = UInt32(bytes[i4]) | UInt32(bytes[i4 + 1]) << 8 | UInt32(bytes[i4 + 2]) << 16 | UInt32(bytes[i4 + 3]) << 24
        k = k &* m
        k ^= k >> r
        k = k &* m
        h = h &* m
        h ^= k
    }
    let tail = length & ~3
    switch length % 4 {
    case 3:
        h ^= UInt32(bytes[tail + 2]) << 16
        h ^= UInt32(bytes[tail + 1]) << 8
        h ^= UInt32(bytes[tail])
        h = h &* m
    case 2:
        h ^= UInt32(bytes[tail + 1]) << 8
        h ^= UInt32(bytes[tail])
        h = h &* m
    case 1:
        h ^= UInt32(bytes[tail])
        h = h &* m
    default:
        break
    }
    h ^= h >> 13
    h = h &* m
    h ^= h >> 15
    return Int32(bitPattern: h)
}

/// Java's `Utils.toPositive`: clears the sign bit (not `abs`, which overflows on Int32.min).
public func toPositive(_ n: Int32) -> Int32 { n & 0x7fff_ffff }

/// Java's built-in partitioner for a keyed record: `toPositive(murmur2(key)) % numPartitions`.
public func defaultPartition<Bytes: Collection<UInt8>>(key: Bytes, numPartitions: Int32) -> Int32 {
    precondition(numPartitions > 0, "a topic has at least one partition")
    return toPositive(murmur2(key)) % numPartitions
}
