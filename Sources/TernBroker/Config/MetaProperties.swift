/// `meta.properties` in a log directory: which cluster and node the directory belongs to.
///
/// Format (Kafka's v1, Java properties):
/// ```
/// version=1
/// cluster.id=<22-char base64url uuid>
/// node.id=<id>
/// directory.id=<22-char base64url uuid>
/// ```
/// Version 0 files (ZooKeeper-era Kafka, `broker.id` instead of `node.id`) are read too. The file is written once,
/// on first start, via a temporary file and rename, so a crash leaves either no file or a whole one.
public struct MetaProperties: Sendable, Hashable {
    public static let fileName = "meta.properties"

    public var version: Int
    public var clusterId: String
    public var nodeId: Int
    public var directoryId: String?

    public init(version: Int = 1, clusterId: String, nodeId: Int, directoryId: String?) {
        self.version = version
        self.clusterId = clusterId
        self.nodeId = nodeId
        self.directoryId = directoryId
    }

    /// Reads `meta.properties` from `logDir`, or creates the directory and the file with a new cluster id.
    /// A stored node id different from `nodeId` fails, like Kafka ("the directory belongs to another broker").
    public static func loadOrCreate<R: RandomNumberGenerator>(
        logDir: String,
        nodeId: Int,
        using generator: inout R
    ) throws -> MetaProperties {
        let path = logDir + "/" + fileName
        if let bytes = try ConfigFiles.read(path) {
            let meta = try parse(JavaProperties.parseMap(JavaProperties.decode(bytes)), path: path)
            guard meta.nodeId == nodeId else {
                throw BrokerConfigError(
                    key: nil,
                    "\(path): stored node id \(meta.nodeId) does not match configured node id \(nodeId); "
                        + "this log directory belongs to another broker"
                )
            }
            return meta
        }
        try ConfigFiles.createDirectories(logDir)
        let meta = MetaProperties(
            clusterId: KafkaUuid.random(using: &generator),
            nodeId: nodeId,
            directoryId: KafkaUuid.random(using: &generator)
        )
        try ConfigFiles.writeAtomically(path, contents: meta.fileContents)
        return meta
    }

    public static func loadOrCreate(logDir: String, nodeId: Int) throws -> MetaProperties {
        var generator = SystemRandomNumberGenerator()
        return try loadOrCreate(logDir: logDir, nodeId: nodeId, using: &generator)
    }

    static func parse(_ values: [String: String], path: String) throws -> MetaProperties {
        guard let versionText = values["version"], let version = Int(versionText), version == 0 || version == 1 else {
            throw BrokerConfigError(key: nil, "\(path): expected version=0 or version=1")
        }
        guard let clusterId = values["cluster.id"], !clusterId.isEmpty else {
            throw BrokerConfigError(key: nil, "\(path): missing cluster.id")
        }
        let idKey = version == 0 ? "broker.id" : "node.id"
        guard let idText = values[idKey], let nodeId = Int(idText) else {
            throw BrokerConfigError(key: nil, "\(path): expected an integer \(idKey)")
        }
        return MetaProperties(version: version, clusterId: clusterId, nodeId: nodeId, directoryId: values["directory.id"])
    }

    var fileContents: String {
        var lines = ["#", "#Written by Tern", "version=\(version)", "cluster.id=\(clusterId)"]
        lines.append(version == 0 ? "broker.id=\(nodeId)" : "node.id=\(nodeId)")
        if let directoryId { lines.append("directory.id=\(directoryId)") }
        return lines.joined(separator: "\n") + "\n"
    }
}

/// Kafka's `Uuid.toString()`: 16 random bytes in URL-safe base64 without padding (22 characters). Like Kafka's
/// `Uuid.randomUuid()`, it never returns an id starting with '-' (awkward on command lines) or the reserved
/// all-zero id.
public enum KafkaUuid {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    public static func random<R: RandomNumberGenerator>(using generator: inout R) -> String {
        while true {
            var bytes = [UInt8](repeating: 0, count: 16)
            for index in bytes.indices { bytes[index] = generator.next() }
            if bytes.allSatisfy({ $0 == 0 }) { continue }
            let text = encode(bytes)
            if !text.hasPrefix("-") { return text }
        }
    }

    /// Base64url without padding.
    public static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        var index = 0
        while index + 3 <= bytes.count {
            let chunk = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2])
            for shift in [18, 12, 6, 0] { out.append(alphabet[Int(chunk >> UInt32(shift) & 63)]) }
            index += 3
        }
        let remaining = bytes.count - index
        if remaining == 1 {
            let chunk = UInt32(bytes[index]) << 16
            out.append(alphabet[Int(chunk >> 18 & 63)])
            out.append(alphabet[Int(chunk >> 12 & 63)])
        } else if remaining == 2 {
            let chunk = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8
            for shift in [18, 12, 6] { out.append(alphabet[Int(chunk >> UInt32(shift) & 63)]) }
        }
        return String(decoding: out, as: UTF8.self)
    }
}

extension BrokerConfig {
    /// Reads `server.properties` at `path` (nil: embedded defaults) and applies `--override key=value` arguments.
    public static func load(path: String?, overrides: [String]) throws -> BrokerConfig {
        var properties: [String: String] = [:]
        if let path {
            guard let bytes = try ConfigFiles.read(path) else {
                throw BrokerConfigError(key: nil, "configuration file \(path) does not exist")
            }
            do {
                properties = try JavaProperties.parseMap(JavaProperties.decode(bytes))
            } catch {
                throw BrokerConfigError(key: nil, "\(path): \(error)")
            }
        }
        var overrideMap: [String: String] = [:]
        for argument in overrides {
            let (key, value) = try parseOverride(argument)
            overrideMap[key] = value
        }
        return try parse(properties: properties, overrides: overrideMap)
    }
}
