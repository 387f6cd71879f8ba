import ArgumentParser
import FoundationEssentials
import KafkaClient

/// `tern delete-records`, like `kafka-delete-records.sh --offset-json-file`.
struct DeleteRecordsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete-records", abstract: "Delete records before the given offsets (kafka-delete-records.sh).")

    @Option(help: "The Kafka server to connect to (host:port[,host:port]).") var bootstrapServer: String
    @Option(help: #"JSON: {"partitions":[{"topic":"t","partition":0,"offset":3}],"version":1}"#) var offsetJsonFile: String

    func run() async throws {
        try await Tool.run {
            guard let data = FileManager.default.contents(atPath: offsetJsonFile),
                  let partitions = JSONValue.parse(data)?["partitions"]?.array
            else { throw ToolError("cannot parse \(offsetJsonFile): expected {\"partitions\": [{\"topic\", \"partition\", \"offset\"}]}") }
            var before: [TopicPartition: Int64] = [:]
            for p in partitions {
                guard let topic = p["topic"]?.string, let partition = p["partition"]?.int.flatMap(Int32.init(exactly:)),
                      let offset = p["offset"]?.int
                else { throw ToolError("bad partition entry \(p) in \(offsetJsonFile)") }
                let tp = TopicPartition(topic, partition)
                if before[tp] != nil { throw ToolError("Offset json file contains duplicate topic partitions: \(tp)") }
                before[tp] = offset
            }
            let admin = try KafkaAdmin(bootstrapServers: Tool.servers(bootstrapServer))
            defer { Task { await admin.close() } }
            print("Executing records delete operation")
            let result = try await admin.deleteRecords(before)
            print("Records delete operation completed:")
            for tp in result.keys.sorted() { print("partition: \(tp)\tlow_watermark: \(result[tp]!)") }
        }
    }
}
