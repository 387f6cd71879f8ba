import Benchmark
import Foundation
import KafkaProtocol
import NIOCore
import NIOPosix
import TernBroker
import TernNetwork
import TernStorage

// In-process hot paths with malloc counters (ordo-one package-benchmark). Each iteration handles one batch of
// `recordsPerBatch` 100-byte records, so "Malloc (total)" per iteration is mallocs per 1,000 records; the produce
// path also runs with a 10-record batch: equal counts mean no per-record allocation.

let recordsPerBatch = 1000
let topic = "bench"

func makeBatch(records: Int) -> ByteBuffer {
    var builder = RecordBatchBuilder()
    let value = ByteBuffer(repeating: UInt8(ascii: "x"), count: 100)
    for i in 0..<records {
        builder.append(key: nil, value: value, timestamp: 1_700_000_000_000 + Int64(i))
    }
    return try! builder.build()
}

/// A whole request frame as the network delivers it: 4-byte size, request header v1 (Produce v9 is flexible: v2),
/// ProduceRequest v9 with one partition holding `batch`.
func produceFrame(_ batch: ByteBuffer, correlationId: Int32 = 1) -> ByteBuffer {
    var header = RequestHeader()
    header.requestApiKey = ApiKey.produce.rawValue
    header.requestApiVersion = 9
    header.correlationId = correlationId
    header.clientId = "bench"
    var partition = ProduceRequest.PartitionProduceData()
    partition.index = 0
    partition.records = batch
    var topicData = ProduceRequest.TopicProduceData()
    topicData.name = topic
    topicData.partitionData = [partition]
    var request = ProduceRequest()
    request.acks = 1
    request.timeoutMs = 30_000
    request.topicData = [topicData]
    var body = ByteBuffer()
    try! header.write(to: &body, version: ApiKey.produce.requestHeaderVersion(9))
    try! request.write(to: &body, version: 9)
    var frame = ByteBuffer()
    frame.writeInteger(Int32(body.readableBytes))
    frame.writeImmutableBuffer(body)
    return frame
}

/// A fresh copy with its own storage: what the network hands over (the broker patches offsets in place).
func ownedCopy(_ buffer: ByteBuffer) -> ByteBuffer {
    var copy = ByteBufferAllocator().buffer(capacity: buffer.readableBytes)
    copy.writeImmutableBuffer(buffer)
    return copy
}

func tempDir(_ name: String) -> String {
    let dir = NSTemporaryDirectory() + "tern-bench-\(name)-\(UUID().uuidString)"
    try! FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}

/// A started broker on a temp log dir, driven through its request entry point (`Broker.handle`).
final class InProcessBroker: @unchecked Sendable {
    let dir = tempDir("broker")
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    let broker: Broker
    let context = ConnectionContext(
        connectionId: 1, remoteAddress: "127.0.0.1:50000", listenerName: "PLAINTEXT", securityProtocol: .plaintext,
        principal: "User:ANONYMOUS", allocator: ByteBufferAllocator())

    init() throws {
        var config = BrokerConfig()
        config.logDirs = [dir]
        config.raw["log.dirs"] = dir
        config.offsetsTopicNumPartitions = 1
        broker = try Broker(config: config, eventLoopGroup: group)
        try broker.start()
        // The first produce auto-creates the topic (librdkafka relies on that too); retry until the leader is ready.
        for _ in 0..<200 {
            if try produce(produceFrame(makeBatch(records: 1))) == 0 { return }
            Thread.sleep(forTimeInterval: 0.01)
        }
        fatalError("topic \(topic) did not become writable")
    }

    /// Decode -> validate -> append -> encode: the response frame as it would go out.
    func handle(_ wire: ByteBuffer) throws -> ByteBuffer {
        var wire = wire
        let frame = try KafkaFrameDecoder.readFrame(from: &wire, maxFrameBytes: KafkaFrameDecoder.defaultMaxFrameBytes)!
        return try broker.handle(KafkaRequestFrame(frame: frame)!, context: context, eventLoop: group.next()).wait()!
    }

    /// The one partition's error code in a response from `handle`.
    static func errorCode(_ response: ByteBuffer) throws -> Int16 {
        var response = response
        _ = try ResponseHeader(from: &response, version: ApiKey.produce.responseHeaderVersion(9))
        return try ProduceResponse(from: &response, version: 9).responses[0].partitionResponses[0].errorCode
    }

    func produce(_ wire: ByteBuffer) throws -> Int16 { try Self.errorCode(handle(wire)) }

    deinit {
        broker.shutdown()
        try? group.syncShutdownGracefully()
        try? FileManager.default.removeItem(atPath: dir)
    }
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .mallocCountTotal, .instructions],
        warmupIterations: 10,
        maxDuration: .seconds(3),
        maxIterations: 2_000
    )

    let batch = makeBatch(records: recordsPerBatch)
    let frame = produceFrame(batch)

    Benchmark("CRC32C over a 1000-record batch (~100 KiB)") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(CRC32C.checksum(batch, at: 21, length: batch.readableBytes - 21))
        }
    }

    Benchmark("Frame decode: ProduceRequest v9 with 1000 records") { benchmark in
        for _ in benchmark.scaledIterations {
            var wire = frame
            var body = try KafkaFrameDecoder.readFrame(from: &wire, maxFrameBytes: 1 << 27)!
            let header = try RequestHeader(from: &body, version: ApiKey.produce.requestHeaderVersion(9))
            let request = try ProduceRequest(from: &body, version: header.requestApiVersion)
            blackHole(request)
        }
    }

    Benchmark("Record batch validation (header + CRC), 1000 records") { benchmark in
        var options = RecordBatchValidator.Options()
        options.requireSingleBatch = true
        for _ in benchmark.scaledIterations {
            blackHole(try RecordBatchValidator.validate(batch, options: options))
        }
    }

    Benchmark("Record batch validation (walk records), 1000 records") { benchmark in
        var options = RecordBatchValidator.Options()
        options.requireSingleBatch = true
        options.walkRecords = true
        for _ in benchmark.scaledIterations {
            blackHole(try RecordBatchValidator.validate(batch, options: options))
        }
    }

    var index = OffsetIndex(path: "/nonexistent", baseOffset: 0, maxIndexSize: 10 << 20)
    for i in 1...10_000 { index.append(offset: Int64(i) * 100, position: Int64(i) * 4096) }
    let fullIndex = index
    // 1,000 lookups per iteration (scaling factor kilo): figures are per 1,000 lookups.
    Benchmark("Offset index lookup (10,000-entry index), 1000 lookups", configuration: .init(scalingFactor: .kilo)) { benchmark in
        var target: Int64 = 17
        let index = fullIndex
        for _ in benchmark.scaledIterations {
            target = (target &* 6_364_136_223_846_793_005 &+ 1) & 0xF_FFFF
            blackHole(index.lookup(target))
        }
    }

    Benchmark("Log.append of a 1000-record batch") { benchmark in
        let dir = tempDir("log")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let manager = LogManager(logDirs: [dir])
        _ = try manager.startup()
        let log = try manager.getOrCreateLog(TopicPartition(topic: topic, partition: 0))
        for _ in benchmark.scaledIterations {
            let owned = ownedCopy(batch)  // what the network hands over; not measured
            benchmark.startMeasurement()
            blackHole(try log.append(batches: owned, leaderEpoch: 0))
            benchmark.stopMeasurement()
        }
        try manager.shutdown()
    }

    for records in [recordsPerBatch, 10] {
        Benchmark("Broker produce path (decode, validate, append, encode), \(records) records") { benchmark in
            let broker = try InProcessBroker()
            let wire = produceFrame(makeBatch(records: records))
            for _ in benchmark.scaledIterations {
                let owned = ownedCopy(wire)  // a frame fresh off the socket; not measured
                benchmark.startMeasurement()
                let response = try broker.handle(owned)
                benchmark.stopMeasurement()
                let error = try InProcessBroker.errorCode(response)
                precondition(error == 0, "produce failed with \(error)")
            }
        }
    }
}
