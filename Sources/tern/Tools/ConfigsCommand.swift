import ArgumentParser
import KafkaClient

/// `tern configs`, like `kafka-configs.sh`: --describe or --alter (--add-config, --delete-config) of topics and brokers.
struct ConfigsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "configs", abstract: "Describe or alter topic and broker configs (kafka-configs.sh).")

    @Option(help: "The Kafka server to connect to (host:port[,host:port]).") var bootstrapServer: String
    @Flag(help: "List configs for the given entity.") var describe = false
    @Flag(help: "Alter the configuration of the entity.") var alter = false
    @Option(help: "topics or brokers.") var entityType: String
    @Option(help: "The topic name or broker id.") var entityName: String?
    @Flag(help: "The default broker entity.") var entityDefault = false
    @Option(help: "Configs to set: k=v,k2=v2 (values in [] may hold commas).") var addConfig: String?
    @Option(help: "Config names to remove: k,k2.") var deleteConfig: [String] = []
    @Flag(help: "With --describe, all configs rather than only the dynamic ones.") var all = false

    func validate() throws {
        guard describe != alter else { throw ValidationError("Command must include exactly one action: --describe, --alter") }
        guard ["topics", "brokers", "topic", "broker"].contains(entityType) else {
            throw ValidationError("Invalid entity-type \(entityType), --entity-type must be one of topics, brokers")
        }
        if alter && entityName == nil && !entityDefault { throw ValidationError("--entity-name or --entity-default must be specified with --alter") }
        if alter && addConfig == nil && deleteConfig.isEmpty { throw ValidationError("At least one of --add-config or --delete-config must be specified with --alter") }
    }

    var isTopic: Bool { entityType.hasPrefix("topic") }

    func run() async throws {
        try await Tool.run {
            let admin = try KafkaAdmin(bootstrapServers: Tool.servers(bootstrapServer))
            defer { Task { await admin.close() } }
            let type: KafkaAdmin.ResourceType = isTopic ? .topic : .broker
            let name = entityName ?? ""
            if alter {
                var ops: [KafkaAdmin.AlterOp] = try Self.parseAddConfig(addConfig ?? "").map { .set($0.0, $0.1) }
                ops += deleteConfig.flatMap { $0.split(separator: ",") }.map { .delete(String($0).trimmingWhitespaces()) }
                try await admin.incrementalAlterConfigs(type, name, ops)
                print("Completed updating config for \(isTopic ? "topic" : "broker") \(entityName ?? "<default>").")
                return
            }
            let names: [String]
            if let entityName { names = [entityName] } else if isTopic { names = try await admin.listTopics() } else {
                names = await admin.cluster.brokers.keys.sorted().map(String.init)
            }
            for n in names {
                let entries = try await admin.describeConfigs(type, n, includeSynonyms: true)
                let shown = all ? entries : entries.filter { $0.source == 1 || $0.source == 2 || $0.source == 3 }
                let label = isTopic ? "topic \(n)" : "broker \(n)"
                print("\(all ? "All" : "Dynamic") configs for \(label) are:")
                for e in shown {
                    let value = e.isSensitive ? "null" : e.value ?? "null"
                    let synonyms = e.synonyms.map { "\(Self.sourceName($0.source)):\($0.name)=\($0.value ?? "null")" }.joined(separator: ", ")
                    print("  \(e.name)=\(value) sensitive=\(e.isSensitive) synonyms={\(synonyms)}")
                }
            }
        }
    }

    /// "k=v,k2=[a,b]" -> [(k, v), (k2, a,b)], as kafka-configs.sh parses it.
    static func parseAddConfig(_ s: String) throws -> [(String, String)] {
        var out: [(String, String)] = []
        var current = ""
        var depth = 0
        for c in s + "," {
            if c == "[" { depth += 1 } else if c == "]" { depth -= 1 }
            if c == "," && depth == 0 {
                if !current.isEmpty {
                    guard let eq = current.firstIndex(of: "=") else { throw ToolError("Invalid config '\(current)': expected key=value") }
                    var value = String(current[current.index(after: eq)...])
                    if value.hasPrefix("[") && value.hasSuffix("]") { value = String(value.dropFirst().dropLast()) }
                    out.append((String(current[..<eq]).trimmingWhitespaces(), value))
                }
                current = ""
            } else {
                current.append(c)
            }
        }
        return out
    }

    static func sourceName(_ s: Int8) -> String {
        switch s {
        case 1: "DYNAMIC_TOPIC_CONFIG"
        case 2: "DYNAMIC_BROKER_CONFIG"
        case 3: "DYNAMIC_DEFAULT_BROKER_CONFIG"
        case 4: "STATIC_BROKER_CONFIG"
        case 5: "DEFAULT_CONFIG"
        case 6: "DYNAMIC_BROKER_LOGGER_CONFIG"
        case 7: "CLIENT_METRICS_CONFIG"
        case 8: "GROUP_CONFIG"
        default: "UNKNOWN"
        }
    }
}
