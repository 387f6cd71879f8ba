import ArgumentParser
import FoundationEssentials
import KafkaClient
import TernBroker

/// `tern reassign-partitions`, like `kafka-reassign-partitions.sh`: --generate proposes an assignment of some
/// topics over a broker list, --execute starts moving partitions, --verify reports progress, --cancel stops
/// moves, --list shows the moves in progress. Same JSON files and output lines as Kafka's tool. Log-directory
/// moves and replication throttles are not supported (Tern has neither), so `log_dirs` must be "any".
struct ReassignPartitionsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reassign-partitions", abstract: "This tool helps to move topic partitions between replicas.")

    @Option(help: "The Kafka server to connect to (host:port[,host:port]).") var bootstrapServer: String
    @Flag(help: "Generate a candidate partition reassignment configuration (does not execute it).") var generate = false
    @Flag(help: "Kick off the reassignment as specified by the --reassignment-json-file option.") var execute = false
    @Flag(help: "Verify if the reassignment completed as specified by the --reassignment-json-file option.") var verify = false
    @Flag(help: "Cancel an active reassignment.") var cancel = false
    @Flag(help: "List all active partition reassignments.") var list = false
    @Flag(help: "Execute this reassignment in addition to any other ongoing ones.") var additional = false
    @Option(help: "The JSON file with the partition reassignment configuration.") var reassignmentJsonFile: String?
    @Option(help: "JSON file listing the topics to move: {\"topics\": [{\"topic\": \"foo\"}], \"version\": 1}.")
    var topicsToMoveJsonFile: String?
    @Option(help: "The brokers to which the partitions need to be reassigned, as \"0,1,2\" (with --generate).")
    var brokerList: String?
    @Flag(help: "Disable rack aware replica assignment.") var disableRackAware = false

    func validate() throws {
        guard [generate, execute, verify, cancel, list].filter({ $0 }).count == 1 else {
            throw ValidationError("Command must include exactly one action: --generate, --execute, --verify, --cancel, --list")
        }
        if generate && (topicsToMoveJsonFile == nil || brokerList == nil) {
            throw ValidationError("Missing required argument \"[topics-to-move-json-file, broker-list]\"")
        }
        if (execute || verify || cancel) && reassignmentJsonFile == nil {
            throw ValidationError("Missing required argument \"[reassignment-json-file]\"")
        }
    }

    func run() async throws {
        try await Tool.run {
            let admin = try KafkaAdmin(bootstrapServers: Tool.servers(bootstrapServer))
            defer { Task { await admin.close() } }
            if generate {
                try await generateAssignment(admin)
            } else if execute {
                try await executeAssignment(admin)
            } else if verify {
                try await verifyAssignment(admin)
            } else if cancel {
                try await cancelAssignment(admin)
            } else {
                print(try await Self.currentReassignments(admin))
            }
        }
    }

    // MARK: Actions

    private func generateAssignment(_ admin: KafkaAdmin) async throws {
        let brokers = try brokerList!.split(separator: ",").map { s -> Int32 in
            guard let id = Int32(s.trimmingWhitespaces()) else { throw ToolError("Invalid broker list \(brokerList!)") }
            return id
        }
        if let dup = Self.duplicates(brokers).first { throw ToolError("Broker list contains duplicate entries: \(dup)") }
        let topics = try ReassignmentJSON.parseTopics(try Self.read(topicsToMoveJsonFile!))
        if let dup = Self.duplicates(topics).first { throw ToolError("List of topics to reassign contains duplicate entries: \(dup)") }
        var current: [TopicPartition: [Int32]] = [:]
        for info in try await admin.describeTopics(topics) {
            for p in info.partitions { current[TopicPartition(info.name, p.partition)] = p.replicas }
        }
        // Rack information of the listed brokers, unless disabled; some with and some without is an error.
        _ = try await admin.cluster.refreshMetadata(topics: [])
        let known = await admin.cluster.brokers
        let placement = brokers.filter { known[$0] != nil }.map {
            ReplicaAssignment.Broker(id: $0, rack: disableRackAware ? nil : known[$0]!.rack)
        }
        let rackless = placement.filter { $0.rack == nil }.count
        if rackless != 0 && rackless != placement.count {
            throw ToolError("Not all brokers have rack information. Add --disable-rack-aware in command line to make replica assignment without rack information.")
        }
        var proposed: [TopicPartition: [Int32]] = [:]
        for topic in Set(current.keys.map(\.topic)) {
            let parts = current.filter { $0.key.topic == topic }
            let rf = parts[TopicPartition(topic, 0)]?.count ?? parts.values.first?.count ?? 1
            guard rf <= placement.count else {
                throw ToolError("Replication factor: \(rf) larger than available brokers: \(placement.count).")
            }
            let assignment: [[Int32]]
            do throws(ReplicaAssignment.Failure) {
                assignment = try ReplicaAssignment.assign(partitions: parts.count, replicationFactor: rf, brokers: placement)
            } catch {
                throw ToolError(error.message)
            }
            for (p, replicas) in assignment.enumerated() { proposed[TopicPartition(topic, Int32(p))] = replicas }
        }
        print("Current partition replica assignment\n\(ReassignmentJSON.format(current))\n")
        print("Proposed partition reassignment configuration\n\(ReassignmentJSON.format(proposed))")
    }

    private func executeAssignment(_ admin: KafkaAdmin) async throws {
        let proposed = try ReassignmentJSON.parseReassignment(try Self.read(reassignmentJsonFile!))
        let existing = try await admin.listPartitionReassignments()
        if !additional && !existing.isEmpty {
            throw TerseFailure("Cannot execute because there is an existing partition assignment.  Use --additional to override this and create a new partition assignment in addition to the existing one. The --additional flag can also be used to change the throttle by resubmitting the current reassignment.")
        }
        _ = try await admin.cluster.refreshMetadata(topics: [])
        let known = await admin.cluster.brokers
        if let unknown = proposed.values.flatMap({ $0 }).first(where: { known[$0] == nil }) {
            throw ToolError("Unknown broker id \(unknown)")
        }
        let current = try await Self.currentReplicas(admin, of: Set(proposed.keys))
        print("Current partition replica assignment\n\n\(ReassignmentJSON.format(current))\n\nSave this to use as the --reassignment-json-file option during rollback")
        let results = try await admin.alterPartitionReassignments(proposed.mapValues { Optional($0) })
        let errors = results.compactMapValues { $0 }
        if !errors.isEmpty {
            throw TerseFailure("Error reassigning partition(s):\n" + errors.keys.sorted().map { "\($0): \(errors[$0]!.message)" }.joined(separator: "\n"))
        }
        let parts = proposed.keys.sorted()
        print("Successfully started partition reassignment\(parts.count == 1 ? "" : "s") for \(parts.map(\.description).joined(separator: ","))")
    }

    private func verifyAssignment(_ admin: KafkaAdmin) async throws {
        let targets = try ReassignmentJSON.parseReassignment(try Self.read(reassignmentJsonFile!))
        let ongoing = try await admin.listPartitionReassignments()
        let settled = try await Self.currentReplicas(admin, of: Set(targets.keys.filter { ongoing[$0] == nil }), allowMissing: true)
        var lines = ["Status of partition reassignment:"]
        for tp in targets.keys.sorted() {
            if ongoing[tp] != nil {
                lines.append("Reassignment of partition \(tp) is still in progress.")
            } else if settled[tp] == targets[tp] {
                lines.append("Reassignment of partition \(tp) is completed.")
            } else {
                let now = (settled[tp] ?? []).map(String.init).joined(separator: ",")
                let want = targets[tp]!.map(String.init).joined(separator: ",")
                lines.append("There is no active reassignment of partition \(tp), but replica set is \(now) rather than \(want).")
            }
        }
        print(lines.joined(separator: "\n"))
    }

    private func cancelAssignment(_ admin: KafkaAdmin) async throws {
        let targets = try ReassignmentJSON.parseReassignment(try Self.read(reassignmentJsonFile!))
        let ongoing = try await admin.listPartitionReassignments(Array(targets.keys))
        let active = ongoing.filter { !$0.value.addingReplicas.isEmpty || !$0.value.removingReplicas.isEmpty }.keys.sorted()
        if active.isEmpty {
            print("None of the specified partition reassignments are active.")
            return
        }
        let results = try await admin.alterPartitionReassignments(Dictionary(uniqueKeysWithValues: active.map { ($0, nil as [Int32]?) }))
        let errors = results.compactMapValues { $0 }
        if !errors.isEmpty {
            throw TerseFailure("Error cancelling partition reassignment\(errors.count == 1 ? "" : "s") for:\n"
                + errors.keys.sorted().map { "\($0): \(errors[$0]!.message)" }.joined(separator: "\n"))
        }
        print("Successfully cancelled partition reassignment\(active.count == 1 ? "" : "s") for: \(active.map(\.description).joined(separator: ","))")
    }

    // MARK: Helpers

    static func currentReassignments(_ admin: KafkaAdmin) async throws -> String {
        let ongoing = try await admin.listPartitionReassignments()
        guard !ongoing.isEmpty else { return "No partition reassignments found." }
        let lines = ongoing.keys.sorted().map { tp -> String in
            let r = ongoing[tp]!
            var line = "\(tp): replicas: \(r.replicas.map(String.init).joined(separator: ","))."
            if !r.addingReplicas.isEmpty { line += " adding: \(r.addingReplicas.map(String.init).joined(separator: ","))." }
            if !r.removingReplicas.isEmpty { line += " removing: \(r.removingReplicas.map(String.init).joined(separator: ","))." }
            return line
        }
        return "Current partition reassignments:\n" + lines.joined(separator: "\n")
    }

    /// The replica lists Metadata gives for `partitions`; a missing one is an error unless `allowMissing`.
    static func currentReplicas(_ admin: KafkaAdmin, of partitions: Set<TopicPartition>, allowMissing: Bool = false) async throws -> [TopicPartition: [Int32]] {
        var out: [TopicPartition: [Int32]] = [:]
        let topics = Set(partitions.map(\.topic)).sorted()
        for topic in topics {
            let infos: [TopicInfo]
            do { infos = try await admin.describeTopics([topic]) } catch let e as KafkaClientError where e.kind == .unknownTopic && allowMissing { continue }
            for info in infos {
                for p in info.partitions where partitions.contains(TopicPartition(topic, p.partition)) {
                    out[TopicPartition(topic, p.partition)] = p.replicas
                }
            }
        }
        let missing = partitions.subtracting(out.keys).sorted()
        if !allowMissing && !missing.isEmpty {
            throw ToolError("Unable to find partition: \(missing.map(\.description).joined(separator: ", "))")
        }
        return out
    }

    static func read(_ path: String) throws -> String {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw ToolError("cannot read \(path)") }
        return text
    }

    static func duplicates<T: Hashable>(_ items: [T]) -> [T] {
        var seen = Set<T>()
        var dups: [T] = []
        for i in items where !seen.insert(i).inserted && !dups.contains(i) { dups.append(i) }
        return dups
    }
}

/// Kafka's TerseException: a message printed as it is (no "Error:" prefix), exit code 1.
struct TerseFailure: Error {
    var message: String
    init(_ message: String) { self.message = message }
}
