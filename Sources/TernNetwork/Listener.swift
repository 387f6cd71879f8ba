/// Kafka's `security.protocol` values. Only PLAINTEXT is implemented; a listener with any other protocol makes
/// `KafkaServer.start()` fail with a clear message rather than silently speaking plaintext.
public enum ListenerSecurityProtocol: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case plaintext = "PLAINTEXT"
    case ssl = "SSL"
    case saslPlaintext = "SASL_PLAINTEXT"
    case saslSSL = "SASL_SSL"

    public var description: String { rawValue }

    /// Whether Tern can serve this protocol today.
    public var isImplemented: Bool { self == .plaintext }
}

/// One socket to listen on (`NAME://host:port` in `listeners`).
public struct KafkaListener: Sendable, Hashable, CustomStringConvertible {
    /// Listener name, upper-cased like Kafka's `ListenerName.normalised`.
    public var name: String
    /// Host or IP to bind; "" or "0.0.0.0" means all IPv4 interfaces, "::" all interfaces.
    public var host: String
    /// 0 asks the OS for a free port; `KafkaServer` reports the bound one.
    public var port: Int
    public var securityProtocol: ListenerSecurityProtocol

    public init(name: String, host: String, port: Int, securityProtocol: ListenerSecurityProtocol) {
        self.name = name
        self.host = host
        self.port = port
        self.securityProtocol = securityProtocol
    }

    public var description: String {
        let shownHost = host.contains(":") ? "[\(host)]" : host
        return "\(name)://\(shownHost):\(port)"
    }
}
