import Foundation
import NIOCore
import Testing

@testable import KafkaProtocol

/// SplitMix64: a tiny seeded generator, so a failing run can be replayed from its printed seed.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Seed from TERN_TEST_SEED when set (to replay a failure), otherwise fresh; always printed.
func testSeed(_ name: String) -> UInt64 {
    let seed = ProcessInfo.processInfo.environment["TERN_TEST_SEED"].flatMap { UInt64($0) }
        ?? UInt64.random(in: 0...UInt64.max)
    print("\(name): seed \(seed) (replay with TERN_TEST_SEED=\(seed))")
    return seed
}

/// Decoding arbitrary bytes must either succeed or throw `KafkaProtocolError`: never trap, never hang,
/// never allocate beyond what the input backs (array counts are bounded by the remaining bytes).
func decodeRandomInputs<M: SampledMessage>(_: M.Type, rng: inout SplitMix64, rounds: Int) -> [String] {
    var failures: [String] = []
    for version in M.lowestSupportedVersion...M.highestSupportedVersion {
        var valid = ByteBuffer()
        try? M.sample(version: version).write(to: &valid, version: version)
        let validBytes = Array(valid.readableBytesView)
        for round in 0..<rounds {
            var bytes: [UInt8]
            if round % 2 == 0 || validBytes.isEmpty {
                bytes = (0..<Int.random(in: 0...96, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            } else {
                // Mutate a valid encoding: random bytes flipped, so decoding gets deep before failing.
                bytes = validBytes
                for _ in 0..<Int.random(in: 1...4, using: &rng) {
                    bytes[Int.random(in: 0..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
                }
            }
            var buffer = ByteBuffer(bytes: bytes)
            do {
                let decoded = try M(from: &buffer, version: version)
                // Whatever decodes must encode again.
                var out = ByteBuffer()
                do { try decoded.write(to: &out, version: version) } catch {
                    failures.append("\(M.self) v\(version): decoded value does not re-encode: \(error)")
                }
            } catch is KafkaProtocolError {
            } catch {
                failures.append("\(M.self) v\(version): unexpected error \(error)")
            }
        }
    }
    return failures
}

@Suite struct GeneratedRandomInputTests {
    @Test func randomBytesNeverCrashRequestDecoders() {
        var rng = SplitMix64(seed: testSeed("randomBytesNeverCrashRequestDecoders"))
        var failures: [String] = []
        for type in allSampledRequests {
            failures += decodeRandomInputs(type, rng: &rng, rounds: 200)
        }
        #expect(failures.isEmpty, "\(failures.prefix(20))")
    }

    @Test func randomBytesNeverCrashAnyDecoder() {
        var rng = SplitMix64(seed: testSeed("randomBytesNeverCrashAnyDecoder"))
        var failures: [String] = []
        for type in allSampledMessages {
            failures += decodeRandomInputs(type, rng: &rng, rounds: 20)
        }
        #expect(failures.isEmpty, "\(failures.prefix(20))")
    }
}
