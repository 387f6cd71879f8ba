import FoundationEssentials

/// Any JSON document, for the tools' hand-checked input files (reassignment, election, delete-records), where
/// fields are looked up and validated one by one as Kafka's tools do (JSONDecoder instead of JSONSerialization,
/// which FoundationEssentials lacks).
enum JSONValue: Decodable, CustomStringConvertible {
    case null
    case bool(Bool)
    case number(Double, exact: Int64?)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() {
            self = .null
        } else if let b = try? c.decode(Bool.self) {
            self = .bool(b)
        } else if let i = try? c.decode(Int64.self) {
            self = .number(Double(i), exact: i)
        } else if let d = try? c.decode(Double.self) {
            self = .number(d, exact: Int64(exactly: d))
        } else if let s = try? c.decode(String.self) {
            self = .string(s)
        } else if let a = try? c.decode([JSONValue].self) {
            self = .array(a)
        } else {
            self = .object(try c.decode([String: JSONValue].self))
        }
    }

    /// Parses `text`; nil if it is not JSON.
    static func parse(_ bytes: some Sequence<UInt8>) -> JSONValue? {
        try? JSONDecoder().decode(JSONValue.self, from: Data(bytes))
    }

    subscript(key: String) -> JSONValue? {
        if case .object(let o) = self { return o[key] }
        return nil
    }

    var object: [String: JSONValue]? { if case .object(let o) = self { return o }; return nil }
    var array: [JSONValue]? { if case .array(let a) = self { return a }; return nil }
    var string: String? { if case .string(let s) = self { return s }; return nil }
    /// A number without a fraction (as JSONSerialization's NSNumber casts to Int).
    var int: Int64? { if case .number(_, let exact) = self { return exact }; return nil }

    var description: String {
        switch self {
        case .null: "null"
        case .bool(let b): "\(b)"
        case .number(let d, let exact): exact.map(String.init) ?? "\(d)"
        case .string(let s): "\"\(s)\""
        case .array(let a): "[" + a.map(\.description).joined(separator: ", ") + "]"
        case .object(let o): "[" + o.keys.sorted().map { "\"\($0)\": \(o[$0]!)" }.joined(separator: ", ") + "]"
        }
    }
}
