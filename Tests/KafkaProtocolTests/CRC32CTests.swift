import Testing
import NIOCore
@testable import KafkaProtocol

@Suite struct CRC32CTests {
    @Test func knownVector() {
        // RFC 3720 B.4: CRC32C of "123456789" is 0xE3069283.
        let bytes = Array("123456789".utf8)
        #expect(CRC32C.checksum(bytes) == 0xE306_9283)
        bytes.withUnsafeBytes { #expect(CRC32C.softwareChecksum($0) == 0xE306_9283) }
        #expect(CRC32.checksum(bytes) == 0xCBF4_3926)
    }

    @Test func hardwareMatchesSoftwareOnEveryLengthAndAlignment() {
        var rng = SystemRandomNumberGenerator()
        let data = (0..<4096).map { _ in UInt8.random(in: 0...255, using: &rng) }
        data.withUnsafeBytes { raw in
            for start in 0..<9 {
                for length in [0, 1, 7, 8, 9, 31, 32, 33, 100, 1000, 4000] {
                    let slice = UnsafeRawBufferPointer(rebasing: raw[start..<(start + length)])
                    #expect(CRC32C.checksum(slice) == CRC32C.softwareChecksum(slice))
                }
            }
        }
    }
}
