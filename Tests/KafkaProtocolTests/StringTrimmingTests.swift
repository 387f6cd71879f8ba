import Foundation
import Testing
@testable import KafkaProtocol

/// The own trimming helpers must trim exactly what Foundation's CharacterSet.whitespaces(AndNewlines) trims.
@Suite struct StringTrimmingTests {
    static let samples = [
        "", " ", "\t", "abc", "  a b  ", "\ta\t", "\n a \n", "\r\nx\r\n", "\u{00A0}x\u{3000}", "\u{2028}y\u{2028}",
        "\u{0085}z\u{000B}\u{000C}", "é ", " \u{1F600} ", "a\u{200B}", " \u{0301}a",
    ]

    @Test func matchesFoundation() {
        for s in Self.samples {
            #expect(s.trimmingWhitespaces() == s.trimmingCharacters(in: .whitespaces), "\(Array(s.unicodeScalars))")
            #expect(s.trimmingWhitespacesAndNewlines() == s.trimmingCharacters(in: .whitespacesAndNewlines),
                    "\(Array(s.unicodeScalars))")
            let sub = Substring(s)
            #expect(sub.trimmingWhitespaces() == s.trimmingCharacters(in: .whitespaces))
        }
    }

    @Test func everyBMPScalarAlone() {
        for v in UInt32(0)...0xFFFF {
            guard let scalar = Unicode.Scalar(v) else { continue }
            let s = "a" + String(scalar) + "b" + String(scalar)
            #expect(s.trimmingWhitespacesAndNewlines() == s.trimmingCharacters(in: .whitespacesAndNewlines))
            #expect(s.trimmingWhitespaces() == s.trimmingCharacters(in: .whitespaces))
        }
    }
}
