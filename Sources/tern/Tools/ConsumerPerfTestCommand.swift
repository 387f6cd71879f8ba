import ArgumentParser
import FoundationEssentials
import KafkaClient

/// `tern consumer-perf-test`, like `kafka-consumer-perf-test.sh`: reads --messages records from the beginning
/// and prints Kafka's CSV-style summary.
struct ConsumerPerfTestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "consumer-perf-test", abstract: "Consumer throughput test (kafka-consumer-perf-test.sh).")

    @Option(help: "The Kafka server to connect to.") var bootstrapServer: String
    @Option(help: "The topic to consume.") var topic: String
    @Option(help: "The number of records to consume.") var messages: Int
    @Option(help: "Give up after this many ms without records.") var timeout: Int = 10000
    @Option(help: "max.partition.fetch.bytes / fetch size.") var fetchSize: Int = 1_048_576
    @Option(help: "A consumer property (key=value); repeatable.") var consumerProperty: [String] = []
    @Flag(help: "Print only the figures.") var hideHeader = false

    static func nowMillis() -> Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded(.down)) }

    func run() async throws {
        try await Tool.run {
            var props = try Tool.properties(consumerProperty)
            props["bootstrap.servers"] = bootstrapServer
            props["max.partition.fetch.bytes"] = props["max.partition.fetch.bytes"] ?? "\(fetchSize)"
            props["auto.offset.reset"] = "earliest"
            let consumer = try KafkaConsumer(properties: props)
            try await consumer.assign(topic: topic)
            try await consumer.seekToBeginning()
            let startMillis = Self.nowMillis()
            let start = ContinuousClock.now
            var count = 0, bytes = 0
            var last = ContinuousClock.now
            while count < messages {
                // Read in place: sizes are all this test needs, so no record is copied out of the fetch response.
                let fetched = try await consumer.pollFetched(timeout: .milliseconds(500), maxRecords: messages - count)
                if fetched.isEmpty {
                    if ContinuousClock.now - last > .milliseconds(timeout) { break }
                    continue
                }
                last = .now
                for run in fetched {
                    count += run.count
                    for r in run.records { bytes += (r.value?.readableBytes ?? 0) + (r.key?.readableBytes ?? 0) }
                }
            }
            let elapsed = PerfStats.seconds(ContinuousClock.now - start)
            await consumer.close()
            let mb = Double(bytes) / 1024 / 1024
            if !hideHeader {
                print("start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec")
            }
            let times = CFormat.localTimestamp(millis: startMillis) + ", " + CFormat.localTimestamp(millis: Self.nowMillis())
            print(times + CFormat.string(", %.4f, %.4f, %ld, %.4f, %ld, %ld, %.4f, %.4f",
                                         mb, mb / elapsed, count, Double(count) / elapsed,
                                         0, Int(elapsed * 1000), mb / elapsed, Double(count) / elapsed))
            if count < messages { Tool.err("WARNING: Exiting before consuming the expected number of messages: timeout (\(timeout) ms) exceeded.") }
        }
    }
}
