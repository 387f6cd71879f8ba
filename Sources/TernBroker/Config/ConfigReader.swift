/// Typed reads of raw config strings with Kafka's parsing rules: values are trimmed, booleans are
/// `true`/`false` in any case, lists are comma-separated with blanks trimmed and empty items dropped.
struct ConfigReader {
    let values: [String: String]

    func string(_ key: String) -> String? {
        values[key].map { $0.trimmingBlanks() }
    }

    func isSet(_ key: String) -> Bool { values[key] != nil }

    /// A Kafka INT (32-bit) or LONG (64-bit) at least `atLeast`.
    func integer(_ key: String, default defaultValue: Int, atLeast: Int? = nil, bits: Int = 32) throws(BrokerConfigError) -> Int {
        guard let text = string(key) else { return defaultValue }
        return try Self.parseInteger(text, key: key, atLeast: atLeast, bits: bits)
    }

    func optionalInteger(_ key: String, atLeast: Int? = nil, bits: Int = 64) throws(BrokerConfigError) -> Int? {
        guard let text = string(key) else { return nil }
        return try Self.parseInteger(text, key: key, atLeast: atLeast, bits: bits)
    }

    static func parseInteger(_ text: String, key: String, atLeast: Int?, bits: Int) throws(BrokerConfigError) -> Int {
        let lower = bits == 16 ? Int(Int16.min) : bits == 32 ? Int(Int32.min) : Int.min
        let upper = bits == 16 ? Int(Int16.max) : bits == 32 ? Int(Int32.max) : Int.max
        let kind = bits == 64 ? "an integer" : "a \(bits)-bit integer"
        let expected = atLeast.map { "\(kind) >= \($0)" } ?? kind
        guard let value = Int(text), value >= lower, value <= upper, value >= (atLeast ?? Int.min) else {
            throw BrokerConfigError(key: key, "expected \(expected), got '\(text)'")
        }
        return value
    }

    func bool(_ key: String, default defaultValue: Bool) throws(BrokerConfigError) -> Bool {
        guard let text = string(key) else { return defaultValue }
        switch text.lowercased() {
        case "true": return true
        case "false": return false
        default: throw BrokerConfigError(key: key, "expected true or false, got '\(text)'")
        }
    }

    func list(_ key: String) -> [String]? {
        string(key).map(Self.splitList)
    }

    static func splitList(_ text: String) -> [String] {
        text.split(separator: ",").map { String($0).trimmingBlanks() }.filter { !$0.isEmpty }
    }

    /// One of `choices`, compared case-sensitively like Kafka's `ValidString`.
    func choice(_ key: String, default defaultValue: String, in choices: [String]) throws(BrokerConfigError) -> String {
        guard let text = string(key) else { return defaultValue }
        guard choices.contains(text) else {
            throw BrokerConfigError(key: key, "expected one of \(choices.joined(separator: ", ")), got '\(text)'")
        }
        return text
    }
}

extension String {
    /// Java's `String.trim()`: drops leading and trailing characters <= U+0020.
    func trimmingBlanks() -> String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { $0.value > 0x20 }) else { return "" }
        let last = scalars.lastIndex(where: { $0.value > 0x20 })!
        return String(scalars[first...last])
    }
}
