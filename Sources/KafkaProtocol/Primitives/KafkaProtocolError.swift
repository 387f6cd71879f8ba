/// A message could not be decoded or encoded: truncated input, a forged length, a null where the
/// version does not allow one. The message names the field and the version so a bad frame can be traced.
public struct KafkaProtocolError: Error, Sendable, CustomStringConvertible, Equatable {
    public var message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { "KafkaProtocolError: \(message)" }

    // Out of line so the inlinable fast paths stay small; errors are the rare path.
    @usableFromInline
    @inline(never)
    static func field(_ field: StaticString, version: Int16, _ problem: String) -> KafkaProtocolError {
        KafkaProtocolError("\(field) (version \(version)): \(problem)")
    }

    @usableFromInline
    @inline(never)
    static func truncated(_ field: StaticString, version: Int16, needed: Int, remaining: Int) -> KafkaProtocolError {
        KafkaProtocolError("\(field) (version \(version)): needs \(needed) bytes, only \(remaining) remain")
    }
}
