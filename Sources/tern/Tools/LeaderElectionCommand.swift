import ArgumentParser
import KafkaClient

/// `tern leader-election`, like `kafka-leader-election.sh`: asks the controller to elect the preferred replica
/// (PREFERRED) or any live replica of a partition without a leader (UNCLEAN) for one partition, a JSON file's
/// partitions, or every partition; prints Kafka's lines for the partitions elected, those that already had a
/// valid leader, and the failures (exit code 1).
struct LeaderElectionCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "leader-election", abstract: "Elect the preferred or an unclean leader for partitions (kafka-leader-election.sh).")

    enum Kind: String, ExpressibleByArgument {
        case preferred = "PREFERRED", unclean = "UNCLEAN"
        init?(argument: String) { self.init(rawValue: argument.uppercased()) }
    }

    @Option(help: "The Kafka server to connect to (host:port[,host:port]).") var bootstrapServer: String
    @Option(help: "Type of election to attempt: PREFERRED or UNCLEAN.") var electionType: Kind
    @Option(help: "Name of the topic to elect a leader for; needs --partition.") var topic: String?
    @Option(help: "The partition of --topic.") var partition: Int32?
    @Flag(help: "Perform the election on all topic partitions.") var allTopicPartitions = false
    @Option(help: "JSON file with the partitions: {\"partitions\": [{\"topic\": \"foo\", \"partition\": 1}]}.")
    var pathToJsonFile: String?

    func validate() throws {
        let sources = [topic != nil, allTopicPartitions, pathToJsonFile != nil].filter { $0 }.count
        guard sources == 1 else {
            throw ValidationError("One and only one of the following options is required: --all-topic-partitions, --topic, --path-to-json-file")
        }
        if topic != nil && partition == nil { throw ValidationError("Missing required option(s) [partition]") }
        if partition != nil && topic == nil { throw ValidationError("Option --partition needs --topic") }
    }

    func run() async throws {
        try await Tool.run {
            let admin = try KafkaAdmin(bootstrapServers: Tool.servers(bootstrapServer))
            defer { Task { await admin.close() } }
            var partitions: [TopicPartition]?
            if let topic, let partition { partitions = [TopicPartition(topic, partition)] }
            if let pathToJsonFile {
                partitions = try ReassignmentJSON.parseElectionPartitions(try ReassignPartitionsCommand.read(pathToJsonFile))
            }
            let type: KafkaAdmin.ElectionType = electionType == .preferred ? .preferred : .unclean
            let results = try await admin.electLeaders(type, partitions: partitions)
            let name = electionType.rawValue
            let succeeded = results.filter { $0.value == nil }.keys.sorted()
            let noop = results.filter { $0.value?.errorCode == .electionNotNeeded }.keys.sorted()
            let failed = results.filter { $0.value != nil && $0.value?.errorCode != .electionNotNeeded }
            if !succeeded.isEmpty {
                print("Successfully completed leader election (\(name)) for partitions \(succeeded.map(\.description).joined(separator: ", "))")
            }
            if !noop.isEmpty {
                print("Valid replica already elected for partitions \(noop.map(\.description).joined(separator: ", "))")
            }
            if !failed.isEmpty {
                for tp in failed.keys.sorted() {
                    print("Error completing leader election (\(name)) for partition: \(tp): \(failed[tp]!!.message)")
                }
                throw ToolError("\(failed.count) replica(s) could not be elected")
            }
        }
    }
}
