import TernNetwork

extension BrokerConfig {
    /// Parses `listeners`, `advertised.listeners`, `listener.security.protocol.map` and
    /// `controller.listener.names` with Kafka's rules: names are upper-cased, unique, and each must map to a
    /// security protocol; advertised names must be among the listeners; 0.0.0.0 cannot be advertised.
    static func parseListeners(_ read: ConfigReader, into config: inout BrokerConfig, hostName: String) throws(BrokerConfigError) {
        if let mapText = read.string("listener.security.protocol.map") {
            config.listenerSecurityProtocolMap = try securityProtocolMap(mapText)
        }
        config.controllerListenerNames = (read.list("controller.listener.names") ?? []).map { $0.uppercased() }

        var listeners = config.listeners
        if let text = read.string("listeners") {
            listeners = try endpoints(text, key: "listeners", map: config.listenerSecurityProtocolMap)
        }
        let controllerNames = Set(config.controllerListenerNames)
        let dropped = listeners.filter { controllerNames.contains($0.name) }
        for listener in dropped {
            config.warnings.append("not binding controller listener \(listener): Tern runs no KRaft controller")
        }
        listeners.removeAll { controllerNames.contains($0.name) }
        guard !listeners.isEmpty else { throw BrokerConfigError(key: "listeners", "expected at least one broker listener") }
        try requireUnique(listeners, key: "listeners")
        config.listeners = listeners

        var advertised: [KafkaListener]
        if let text = read.string("advertised.listeners") {
            advertised = try endpoints(text, key: "advertised.listeners", map: config.listenerSecurityProtocolMap)
            advertised.removeAll { controllerNames.contains($0.name) }
            try requireUnique(advertised, key: "advertised.listeners")
            let names = Set(listeners.map(\.name))
            if let stray = advertised.first(where: { !names.contains($0.name) }) {
                throw BrokerConfigError(
                    key: "advertised.listeners",
                    "listener names must be equal to or a subset of the ones defined in listeners; found "
                        + "\(stray.name), valid options are \(listeners.map(\.name).joined(separator: ","))"
                )
            }
        } else {
            // Kafka advertises the listeners themselves, with an empty host replaced by the host name.
            advertised = listeners.map { listener in
                var copy = listener
                if copy.host.isEmpty { copy.host = hostName }
                return copy
            }
        }
        for listener in advertised where listener.host == "0.0.0.0" || listener.host == "::" {
            throw BrokerConfigError(
                key: "advertised.listeners",
                "cannot use the nonroutable meta-address \(listener.host) (from \(listener)); "
                    + "set advertised.listeners to a routable address"
            )
        }
        config.advertisedListeners = advertised.map { listener in
            var copy = listener
            if copy.host.isEmpty { copy.host = hostName }
            return copy
        }
    }

    /// `NAME:PROTOCOL,NAME:PROTOCOL`.
    static func securityProtocolMap(_ text: String) throws(BrokerConfigError) -> [String: ListenerSecurityProtocol] {
        var map: [String: ListenerSecurityProtocol] = [:]
        for item in ConfigReader.splitList(text) {
            let parts = item.split(separator: ":", maxSplits: 1).map { String($0).trimmingBlanks() }
            guard parts.count == 2, !parts[0].isEmpty,
                  let securityProtocol = ListenerSecurityProtocol(rawValue: parts[1].uppercased())
            else {
                throw BrokerConfigError(
                    key: "listener.security.protocol.map",
                    "expected NAME:PROTOCOL pairs with PROTOCOL one of "
                        + "\(ListenerSecurityProtocol.allCases.map(\.rawValue).joined(separator: ", ")), got '\(item)'"
                )
            }
            map[parts[0].uppercased()] = securityProtocol
        }
        return map
    }

    /// A comma-separated list of `NAME://host:port`; `[v6]` hosts allowed; an empty host means all interfaces.
    static func endpoints(
        _ text: String,
        key: String,
        map: [String: ListenerSecurityProtocol]
    ) throws(BrokerConfigError) -> [KafkaListener] {
        var result: [KafkaListener] = []
        for item in ConfigReader.splitList(text) {
            let expected = "expected NAME://host:port, got '\(item)'"
            let parts = item.split(separator: "://", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2 else { throw BrokerConfigError(key: key, expected) }
            let name = String(parts[0]).uppercased()
            let rest = parts[1]
            guard !name.isEmpty, let colon = rest.lastIndex(of: ":") else { throw BrokerConfigError(key: key, expected) }
            var host = String(rest[..<colon])
            if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            guard let port = Int(rest[rest.index(after: colon)...]), (0...65535).contains(port) else {
                throw BrokerConfigError(key: key, "expected a port in 0...65535 in '\(item)'")
            }
            guard let securityProtocol = map[name] else {
                throw BrokerConfigError(
                    key: key,
                    "no security protocol for listener name \(name); add it to listener.security.protocol.map"
                )
            }
            result.append(KafkaListener(name: name, host: host, port: port, securityProtocol: securityProtocol))
        }
        return result
    }

    private static func requireUnique(_ listeners: [KafkaListener], key: String) throws(BrokerConfigError) {
        var names = Set<String>()
        for listener in listeners where !names.insert(listener.name).inserted {
            throw BrokerConfigError(key: key, "each listener must have a different name; \(listener.name) appears twice")
        }
        if key == "listeners" {
            var ports = Set<Int>()
            for listener in listeners where listener.port != 0 && !ports.insert(listener.port).inserted {
                throw BrokerConfigError(key: key, "each listener must have a different port; \(listener.port) appears twice")
            }
        }
    }
}
