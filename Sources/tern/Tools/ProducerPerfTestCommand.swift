#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import ArgumentParser
import FoundationEssentials
import KafkaClient
import Dispatch
import NIOConcurrencyHelpers

/// `tern producer-perf-test`, like `kafka-producer-perf-test.sh`, with its output: a line per 5 s window and a
/// final line with average, maximum and percentile latencies (send to acknowledgement).
struct ProducerPerfTestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "producer-perf-test", abstract: "Producer throughput and latency test (kafka-producer-perf-test.sh).")

    @Option(help: "The topic to produce to.") var topic: String
    @Option(help: "Number of records to send.") var numRecords: Int
    @Option(help: "Record size in bytes.") var recordSize: Int = 100
    @Option(parsing: .unconditional, help: "Records per second to aim for; -1 for no limit.") var throughput: Double
    @Option(parsing: .upToNextOption, help: "Producer properties: k=v ... (bootstrap.servers among them).") var producerProps: [String] = []
    @Option(name: .customLong("producer.config"), help: "A producer properties file.") var producerConfig: String?
    @Option(help: "The Kafka server, if not in --producer-props.") var bootstrapServer: String?
    @Flag(help: "Print the producer's settings.") var printMetrics = false

    func run() async throws {
        try await Tool.run {
            var props: [String: String] = ["client.id": "perf-producer-client"]
            if let producerConfig { props.merge(try Tool.propertiesFile(producerConfig)) { $1 } }
            props.merge(try Tool.properties(producerProps)) { $1 }
            if let bootstrapServer { props["bootstrap.servers"] = bootstrapServer }
            let producer = try KafkaProducer(properties: props)
            _ = try await producer.partitionCount(topic)
            var payload = [UInt8](repeating: 0, count: recordSize)
            var rng = SystemRandomNumberGenerator()
            for i in payload.indices { payload[i] = UInt8.random(in: 65...90, using: &rng) }
            let stats = PerfStats(numRecords: numRecords, recordSize: recordSize)
            let start = ContinuousClock.now
            try await Self.produce(on: producer, record: ProducerRecord(topic: topic, value: payload),
                                   numRecords: numRecords, throughput: throughput, stats: stats)
            await producer.close()
            stats.printTotal(elapsed: ContinuousClock.now - start)
        }
    }

    /// The send loop, run on the producer's own executor so a send is a call rather than an actor hop, as Java's
    /// perf tool calls send() from its one thread. Each record's send time is kept; acknowledgements come back a
    /// batch at a time (`DeliveryListener`), so no closure is made per record.
    static func produce(on producer: isolated KafkaProducer, record: ProducerRecord, numRecords: Int,
                        throughput: Double, stats: PerfStats) async throws {
        let start = ContinuousClock.now
        for i in 0..<numRecords {
            stats.sent(index: i)
            try await producer.send(record, tag: i, listener: stats)
            if throughput > 0 {
                let due = start + .seconds(Double(i + 1) / throughput)
                if due > .now { try await Task.sleep(until: due) }
            } else if i & 1023 == 1023 {
                // Lets acknowledgements queued on the producer run between records, not only when memory runs out.
                await Task.yield()
            }
        }
    }
}

/// Kafka's ProducerPerformance.Stats: windows of 5 s, latencies sampled to at most 500,000. A record's latency runs
/// from its send to the report of its batch.
final class PerfStats: DeliveryListener, @unchecked Sendable {
    private struct State {
        var count = 0, bytes = 0, totalLatency = 0.0, maxLatency = 0.0, errors = 0
        var windowStart = ContinuousClock.now, windowCount = 0, windowBytes = 0, windowLatency = 0.0, windowMax = 0.0
        var samples: [Float] = []
        var firstError: String?
    }

    private let state = NIOLockedValueBox(State())
    private let sampling: Int
    private let recordSize: Int
    /// Send times (monotonic ns) by record index: written by the send loop before the record is handed over, read
    /// when its batch is reported, which the producer orders after the send.
    private let sendTimes: UnsafeMutableBufferPointer<UInt64>

    init(numRecords: Int, recordSize: Int) {
        sampling = max(1, numRecords / min(max(numRecords, 1), 500_000))
        self.recordSize = recordSize
        sendTimes = .allocate(capacity: max(numRecords, 1))
        state.withLockedValue { $0.samples.reserveCapacity(min(numRecords, 500_000) + 1) }
    }

    deinit { sendTimes.deallocate() }

    func sent(index: Int) { sendTimes[index] = DispatchTime.now().uptimeNanoseconds }

    func delivered(topic: String, partition: Int32, tags: [Int], result: Result<Int64, KafkaClientError>) {
        let now = DispatchTime.now().uptimeNanoseconds
        var ok = true
        if case .failure(let e) = result { ok = false; failed(e.message) }
        let line: String? = state.withLockedValue { s in
            for i in tags {
                let ms = Double(now &- sendTimes[i]) / 1e6
                if !ok { s.errors += 1 }
                s.count += 1; s.totalLatency += ms; s.maxLatency = max(s.maxLatency, ms)
                s.windowCount += 1; s.windowLatency += ms; s.windowMax = max(s.windowMax, ms)
                if i % sampling == 0 { s.samples.append(Float(ms)) }
            }
            s.bytes += recordSize * tags.count
            s.windowBytes += recordSize * tags.count
            return windowLine(&s)
        }
        if let line { Tool.writeAll(STDOUT_FILENO, Array((line + "\n").utf8)) }
    }

    func failed(_ message: String) {
        state.withLockedValue { if $0.firstError == nil { $0.firstError = message } }
    }

    /// Kafka's line for a window of 5 s, when one has passed.
    private func windowLine(_ s: inout State) -> String? {
        let now = ContinuousClock.now
        guard now - s.windowStart >= .seconds(5) else { return nil }
        let secs = Self.seconds(now - s.windowStart)
        let text = CFormat.string("%ld records sent, %.1f records/sec (%.2f MB/sec), %.1f ms avg latency, %.1f ms max latency.",
                          s.windowCount, Double(s.windowCount) / secs, Double(s.windowBytes) / secs / 1024 / 1024,
                          s.windowLatency / Double(s.windowCount), s.windowMax)
        s.windowStart = now; s.windowCount = 0; s.windowBytes = 0; s.windowLatency = 0; s.windowMax = 0
        return text
    }

    func printTotal(elapsed: Duration) {
        state.withLockedValue { s in
            let secs = Self.seconds(elapsed)
            let sorted = s.samples.sorted()
            func pct(_ p: Double) -> Int { sorted.isEmpty ? 0 : Int(sorted[min(sorted.count - 1, Int(p * Double(sorted.count)))]) }
            print(CFormat.string("%ld records sent, %f records/sec (%.2f MB/sec), %.2f ms avg latency, %.2f ms max latency, %ld ms 50th, %ld ms 95th, %ld ms 99th, %ld ms 99.9th.",
                         s.count, Double(s.count) / secs, Double(s.bytes) / secs / 1024 / 1024,
                         s.count > 0 ? s.totalLatency / Double(s.count) : 0, s.maxLatency,
                         pct(0.5), pct(0.95), pct(0.99), pct(0.999)))
            if s.errors > 0 { Tool.err("\(s.errors) records failed; first error: \(s.firstError ?? "?")") }
        }
    }

    static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }
}
