/// A broker configuration that cannot be used. The message names the key and the expected form, e.g.
/// "num.partitions: expected an integer >= 1, got 'abc'".
public struct BrokerConfigError: Error, Hashable, CustomStringConvertible {
    /// The offending key, when one key is to blame.
    public var key: String?
    public var message: String

    public init(key: String?, _ message: String) {
        self.key = key
        self.message = message
    }

    public var description: String { key.map { "\($0): \(message)" } ?? message }
}
