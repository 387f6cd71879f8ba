/// Foundation's `trimmingCharacters(in: .whitespaces)` and `(in: .whitespacesAndNewlines)` without Foundation
/// (Tern imports only FoundationEssentials, which lacks them, to keep ICU out of the binary). Shared by the broker
/// (config lists) and the client (config values), so it lives in the module both build on.
extension StringProtocol {
    /// Drops tabs, Unicode space separators (category Zs) and U+200B at both ends, as `CharacterSet.whitespaces`.
    public func trimmingWhitespaces() -> String { trimming(where: Self.isWhitespace) }

    /// Also drops line breaks (U+000A-U+000D, U+0085, U+2028, U+2029), as `CharacterSet.whitespacesAndNewlines`.
    public func trimmingWhitespacesAndNewlines() -> String {
        trimming { s in
            Self.isWhitespace(s) || (0x0A...0x0D).contains(s.value) || s.value == 0x85 || s.value == 0x2028 || s.value == 0x2029
        }
    }

    private static func isWhitespace(_ s: Unicode.Scalar) -> Bool {
        s.value == 0x09 || s.value == 0x200B || s.properties.generalCategory == .spaceSeparator
    }

    private func trimming(where drop: (Unicode.Scalar) -> Bool) -> String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !drop($0) }) else { return "" }
        let last = scalars.lastIndex(where: { !drop($0) })!
        return String(String.UnicodeScalarView(scalars[first...last]))
    }
}
