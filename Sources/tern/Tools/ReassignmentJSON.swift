import FoundationEssentials
import KafkaClient

/// The JSON files of kafka-reassign-partitions.sh and kafka-leader-election.sh, version 1:
///   topics to move   {"version":1,"topics":[{"topic":"foo"}]}
///   reassignment     {"version":1,"partitions":[{"topic":"foo","partition":0,"replicas":[1,2],"log_dirs":["any","any"]}]}
///   election         {"partitions":[{"topic":"foo","partition":0}]}
/// Output is compact, keys in Kafka's order, partitions sorted by topic then partition.
enum ReassignmentJSON {
    static func object(_ text: String) throws -> [String: JSONValue] {
        guard let obj = JSONValue.parse(text.utf8)?.object else {
            throw ToolError("The input string is not a valid JSON")
        }
        if let v = obj["version"], v.int != 1 { throw ToolError("Not supported version field value \(v)") }
        return obj
    }

    static func parseTopics(_ text: String) throws -> [String] {
        let obj = try object(text)
        return try (obj["topics"]?.array ?? []).map {
            guard let t = $0["topic"]?.string else { throw ToolError("Missing field 'topic' in \($0)") }
            return t
        }
    }

    /// Target replicas per partition, checked as Kafka's tool checks them.
    static func parseReassignment(_ text: String) throws -> [TopicPartition: [Int32]] {
        let obj = try object(text)
        var entries: [(TopicPartition, [Int32])] = []
        for p in obj["partitions"]?.array ?? [] {
            guard let topic = p["topic"]?.string, let partition = p["partition"]?.int,
                  let replicas = p["replicas"]?.array?.compactMap(\.int), replicas.count == p["replicas"]?.array?.count else {
                throw ToolError("Each partition needs 'topic', 'partition' and 'replicas': \(p)")
            }
            let tp = TopicPartition(topic, Int32(partition))
            let logDirs = p["log_dirs"]?.array?.compactMap(\.string) ?? replicas.map { _ in "any" }
            if logDirs.count != replicas.count {
                throw ToolError("Size of replicas list \(replicas) is different from size of log dirs list \(logDirs) for partition \(tp)")
            }
            if logDirs.contains(where: { $0 != "any" }) {
                throw ToolError("Moving replicas between log directories is not supported: log_dirs of \(tp) must be \"any\"")
            }
            entries.append((tp, replicas.map { Int32($0) }))
        }
        if entries.isEmpty { throw ToolError("Partition reassignment list cannot be empty") }
        if entries.contains(where: { $0.1.isEmpty }) { throw ToolError("Partition replica list cannot be empty") }
        let dupParts = ReassignPartitionsCommand.duplicates(entries.map(\.0))
        if !dupParts.isEmpty {
            throw ToolError("Partition reassignment contains duplicate topic partitions: \(dupParts.map(\.description).joined(separator: ","))")
        }
        let dupReplicas = entries.compactMap { e -> String? in
            let d = ReassignPartitionsCommand.duplicates(e.1)
            return d.isEmpty ? nil : "\(e.0) contains multiple entries for \(d.map(String.init).joined(separator: ","))"
        }
        if !dupReplicas.isEmpty {
            throw ToolError("Partition replica lists may not contain duplicate entries: \(dupReplicas.joined(separator: ". "))")
        }
        return Dictionary(uniqueKeysWithValues: entries)
    }

    /// Partitions of kafka-leader-election.sh's --path-to-json-file.
    static func parseElectionPartitions(_ text: String) throws -> [TopicPartition] {
        let obj = try object(text)
        let parts = try (obj["partitions"]?.array ?? []).map { p -> TopicPartition in
            guard let topic = p["topic"]?.string, let partition = p["partition"]?.int else {
                throw ToolError("Each partition needs 'topic' and 'partition': \(p)")
            }
            return TopicPartition(topic, Int32(partition))
        }
        let dups = ReassignPartitionsCommand.duplicates(parts)
        if !dups.isEmpty { throw ToolError("Replica election data contains duplicate partitions: \(dups.map(\.description).joined(separator: ","))") }
        return parts
    }

    static func format(_ assignment: [TopicPartition: [Int32]]) -> String {
        let partitions = assignment.keys.sorted().map { tp -> String in
            let replicas = assignment[tp]!
            return "{\"topic\":\(quote(tp.topic)),\"partition\":\(tp.partition),\"replicas\":[\(replicas.map(String.init).joined(separator: ","))],\"log_dirs\":[\(replicas.map { _ in "\"any\"" }.joined(separator: ","))]}"
        }
        return "{\"version\":1,\"partitions\":[\(partitions.joined(separator: ","))]}"
    }

    private static func quote(_ s: String) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .withoutEscapingSlashes
        let data = (try? encoder.encode([s])) ?? Data("[\"\"]".utf8)
        return String(decoding: data.dropFirst().dropLast(), as: UTF8.self)
    }
}
