import ArgumentParser
import KafkaClient

/// `tern get-offsets`, like `kafka-get-offsets.sh`: prints "topic:partition:offset" per partition.
struct GetOffsetsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "get-offsets", abstract: "Print partition offsets (kafka-get-offsets.sh).")

    @Option(help: "The Kafka server to connect to (host:port[,host:port]).") var bootstrapServer: String
    @Option(help: "The topic (all topics when omitted).") var topic: String?
    @Option(help: "Comma-separated partition ids (all when omitted).") var partitions: String?
    @Option(parsing: .unconditional, help: "-1 or latest, -2 or earliest, -3 or max-timestamp, or a timestamp in ms.") var time: String = "-1"
    @Flag(help: "Exclude internal topics.") var excludeInternalTopics = false

    func run() async throws {
        let timestamp: Int64
        switch time {
        case "latest": timestamp = -1
        case "earliest": timestamp = -2
        case "max-timestamp": timestamp = -3
        default:
            guard let t = Int64(time) else { throw ValidationError("Malformed time argument \(time)") }
            timestamp = t
        }
        try await Tool.run {
            let admin = try KafkaAdmin(bootstrapServers: Tool.servers(bootstrapServer))
            defer { Task { await admin.close() } }
            let names: [String]
            if let topic { names = [topic] } else { names = try await admin.listTopics(includeInternal: !excludeInternalTopics) }
            let wanted = partitions.map { Set($0.split(separator: ",").compactMap { Int32($0.trimmingWhitespaces()) }) }
            var query: [TopicPartition: Int64] = [:]
            for info in try await admin.describeTopics(names) {
                for p in info.partitions where wanted?.contains(p.partition) ?? true {
                    query[TopicPartition(info.name, p.partition)] = timestamp
                }
            }
            let offsets = try await admin.listOffsets(query)
            for tp in offsets.keys.sorted() {
                let o = offsets[tp]!.offset
                print("\(tp.topic):\(tp.partition):\(o >= 0 ? "\(o)" : "")")
            }
        }
    }
}
