import ArgumentParser
import FoundationEssentials
import KafkaClient
import NIOConcurrencyHelpers

/// `tern console-producer`, like `kafka-console-producer.sh`: one record per line of stdin.
struct ConsoleProducerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "console-producer", abstract: "Read lines from stdin and produce them (kafka-console-producer.sh).")

    @Option(help: "The Kafka server to connect to (host:port[,host:port]).") var bootstrapServer: String
    @Option(help: "The topic to produce to.") var topic: String
    @Option(help: "Reader properties: parse.key=true, key.separator=:, null.marker=...; repeatable.") var property: [String] = []
    @Option(help: "A producer property (key=value); repeatable.") var producerProperty: [String] = []
    @Option(name: .customLong("producer.config"), help: "A producer properties file.") var producerConfig: String?
    @Option(help: "none, gzip, snappy, lz4 or zstd.") var compressionCodec: String?
    @Option(help: "acks: 0, 1 or -1/all.") var requestRequiredAcks: String?
    @Option(help: "linger.ms (Kafka's console producer waits up to 1000 ms).") var timeout: Int = 1000
    @Option(help: "Records per batch (batch.size is kept in bytes).") var batchSize: Int?
    @Flag(help: "Wait for each record's acknowledgement before reading the next line.") var sync = false

    func run() async throws {
        try await Tool.run {
            var props: [String: String] = ["linger.ms": "\(timeout)", "client.id": "console-producer"]
            if let producerConfig { props.merge(try Tool.propertiesFile(producerConfig)) { $1 } }
            props.merge(try Tool.properties(producerProperty)) { $1 }
            props["bootstrap.servers"] = bootstrapServer
            if let compressionCodec { props["compression.type"] = compressionCodec.isEmpty ? "gzip" : compressionCodec }
            if let requestRequiredAcks { props["acks"] = requestRequiredAcks }
            let reader = try Tool.properties(property)
            let parseKey = reader["parse.key"]?.lowercased() == "true"
            let keySeparator = Tool.unescape(reader["key.separator"] ?? "\t")
            let nullMarker = reader["null.marker"]

            let producer = try KafkaProducer(properties: props)
            // Fail fast, naming the address, when no broker answers (Java would hang until max.block.ms).
            _ = try await producer.partitionCount(topic)
            let failures = NIOLockedValueBox(0)
            let topic = self.topic
            while let line = readLine(strippingNewline: true) {
                var key: [UInt8]?
                var value: [UInt8]? = Array(line.utf8)
                if parseKey {
                    guard !keySeparator.isEmpty, let range = line.firstRange(of: keySeparator) else {
                        throw ToolError("No key separator found on line number \(1): '\(line)'")
                    }
                    let k = String(line[..<range.lowerBound])
                    key = k == nullMarker ? nil : Array(k.utf8)
                    value = Array(line[range.upperBound...].utf8)
                }
                if let nullMarker, let v = value, v == Array(nullMarker.utf8) { value = nil }
                let record = ProducerRecord(topic: topic, key: key, value: value)
                if sync {
                    _ = try await producer.send(record)
                } else {
                    let keyText = key.map { "\($0.count) bytes" } ?? "null"
                    let valueText = value.map { "\($0.count) bytes" } ?? "null"
                    try await producer.send(record) { result in
                        if case .failure(let e) = result {
                            failures.withLockedValue { $0 += 1 }
                            Tool.err("Error when sending message to topic \(topic) with key: \(keyText), value: \(valueText) with error: \(e.message)")
                        }
                    }
                }
            }
            await producer.close()
            if failures.withLockedValue({ $0 }) > 0 { throw ExitCode(1) }
        }
    }
}
