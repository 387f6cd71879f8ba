/// Kafka's 128-bit `Uuid` (topic ids, directory ids, incarnation ids), printed as Kafka prints it:
/// URL-safe base64 of the 16 big-endian bytes without padding, 22 characters.
public struct KafkaUUID: Sendable, Hashable, CustomStringConvertible {
    public var mostSignificantBits: UInt64
    public var leastSignificantBits: UInt64

    public init(mostSignificantBits: UInt64, leastSignificantBits: UInt64) {
        self.mostSignificantBits = mostSignificantBits
        self.leastSignificantBits = leastSignificantBits
    }

    /// From exactly 16 bytes, big-endian; nil for any other count.
    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == 16 else { return nil }
        var high: UInt64 = 0
        var low: UInt64 = 0
        for (i, byte) in bytes.enumerated() {
            if i < 8 { high = high << 8 | UInt64(byte) } else { low = low << 8 | UInt64(byte) }
        }
        self.init(mostSignificantBits: high, leastSignificantBits: low)
    }

    /// `Uuid.ZERO`: "no id" on the wire.
    public static let zero = KafkaUUID(mostSignificantBits: 0, leastSignificantBits: 0)
    /// `Uuid.METADATA_TOPIC_ID`, reserved for the `__cluster_metadata` topic.
    public static let metadataTopicId = KafkaUUID(mostSignificantBits: 0, leastSignificantBits: 1)

    /// A random version-4 id that, like Kafka's `Uuid.randomUuid()`, is never a reserved id and never
    /// prints with a leading '-' (which command-line tools would read as an option).
    public static func random() -> KafkaUUID {
        var generator = SystemRandomNumberGenerator()
        return random(using: &generator)
    }

    public static func random<G: RandomNumberGenerator>(using generator: inout G) -> KafkaUUID {
        while true {
            var high = generator.next() as UInt64
            var low = generator.next() as UInt64
            high = (high & ~0xF000) | 0x4000  // version 4
            low = (low & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000  // IETF variant
            let id = KafkaUUID(mostSignificantBits: high, leastSignificantBits: low)
            if id != .zero && id != .metadataTopicId && !id.description.hasPrefix("-") {
                return id
            }
        }
    }

    public var bytes: [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(16)
        for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: mostSignificantBits >> UInt64(shift))) }
        for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: leastSignificantBits >> UInt64(shift))) }
        return out
    }

    private static let alphabet: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    public var description: String {
        let input = bytes
        var out = [UInt8]()
        out.reserveCapacity(22)
        var i = 0
        while i + 3 <= input.count {
            let n = UInt32(input[i]) << 16 | UInt32(input[i + 1]) << 8 | UInt32(input[i + 2])
            out.append(Self.alphabet[Int(n >> 18 & 63)])
            out.append(Self.alphabet[Int(n >> 12 & 63)])
            out.append(Self.alphabet[Int(n >> 6 & 63)])
            out.append(Self.alphabet[Int(n & 63)])
            i += 3
        }
        // 16 = 5 * 3 + 1: one byte left, two characters, no padding.
        let n = UInt32(input[15]) << 16
        out.append(Self.alphabet[Int(n >> 18 & 63)])
        out.append(Self.alphabet[Int(n >> 12 & 63)])
        return String(decoding: out, as: UTF8.self)
    }

    /// Parses Kafka's text form (22 URL-safe base64 characters, optionally padded with "==").
    public init?(string: String) {
        var chars = Array(string.utf8)
        if chars.count == 24 && chars[22] == UInt8(ascii: "=") && chars[23] == UInt8(ascii: "=") {
            chars.removeLast(2)
        }
        guard chars.count == 22 else { return nil }
        var values = [UInt32]()
        values.reserveCapacity(22)
        for c in chars {
            switch c {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): values.append(UInt32(c - UInt8(ascii: "A")))
            case UInt8(ascii: "a")...UInt8(ascii: "z"): values.append(UInt32(c - UInt8(ascii: "a")) + 26)
            case UInt8(ascii: "0")...UInt8(ascii: "9"): values.append(UInt32(c - UInt8(ascii: "0")) + 52)
            case UInt8(ascii: "-"): values.append(62)
            case UInt8(ascii: "_"): values.append(63)
            default: return nil
            }
        }
        var out = [UInt8]()
        out.reserveCapacity(16)
        var i = 0
        while i + 4 <= 20 {
            let n = values[i] << 18 | values[i + 1] << 12 | values[i + 2] << 6 | values[i + 3]
            out.append(UInt8(truncatingIfNeeded: n >> 16))
            out.append(UInt8(truncatingIfNeeded: n >> 8))
            out.append(UInt8(truncatingIfNeeded: n))
            i += 4
        }
        // The last two characters carry one byte; the low 4 bits of the last must be zero.
        guard values[21] & 0x0F == 0 else { return nil }
        out.append(UInt8(truncatingIfNeeded: values[20] << 2 | values[21] >> 4))
        self.init(bytes: out)
    }
}
