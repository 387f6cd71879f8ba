import KafkaProtocol
import NIOCore

// Prints throughput figures. Wall-clock numbers on a shared 2-core machine are noisy: each figure
// is the best of several runs, and comparisons should be made on the same machine.

let clock = ContinuousClock()

/// Best time per iteration, in seconds, of `runs` runs of `iterations` calls.
func measure(iterations: Int, runs: Int = 5, _ body: () throws -> Void) rethrows -> Double {
    var best = Double.infinity
    for _ in 0..<runs {
        let start = clock.now
        for _ in 0..<iterations { try body() }
        let elapsed = clock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        best = min(best, seconds / Double(iterations))
    }
    return best
}

func rate(_ bytes: Int, _ seconds: Double, unit: Double) -> String {
    String(Int((Double(bytes) / seconds / unit * 100).rounded())).withDecimal
}

extension String {
    var withDecimal: String {
        let padded = count < 3 ? String(repeating: "0", count: 3 - count) + self : self
        return "\(padded.dropLast(2)).\(padded.suffix(2))"
    }
}

/// Semi-realistic record values: JSON-like text with varying numbers, seeded.
func recordValue(_ i: Int, size: Int) -> ByteBuffer {
    var text = "{\"id\":\(i &* 2_654_435_761 % 1_000_003),\"user\":\"u\(i % 997)\",\"event\":\"click\",\"ts\":\(1_700_000_000_000 + i)}"
    while text.utf8.count < size { text += " " }
    return ByteBuffer(string: String(text.utf8.prefix(size))!)
}

let mib = 1 << 20

// CRC32C over 1 MiB.
let crcInput = [UInt8]((0..<mib).map { UInt8(truncatingIfNeeded: $0 &* 31) })
crcInput.withUnsafeBytes { raw in
    var sink: UInt32 = 0
    let hardware = measure(iterations: 200) { sink &+= CRC32C.checksum(raw) }
    let software = measure(iterations: 50) { sink &+= CRC32C.softwareChecksum(raw) }
    print("CRC32C 1 MiB  hardware(\(CRC32C.isHardwareAccelerated ? "SSE4.2" : "none")): \(rate(mib, hardware, unit: 1e9)) GB/s   software: \(rate(mib, software, unit: 1e9)) GB/s  (\(sink & 1))")
}

// A 1 MiB batch of 100-byte records.
var builder = RecordBatchBuilder()
var index = 0
var estimate = RecordBatchHeader.size
while estimate < mib {
    builder.append(key: nil, value: recordValue(index, size: 100), timestamp: 1_700_000_000_000 + Int64(index))
    estimate += 100 + 10
    index += 1
}
let batch = try builder.build()
print("Batch: \(builder.count) records of 100 bytes, \(batch.readableBytes) bytes")

var walkOptions = RecordBatchValidator.Options()
walkOptions.walkRecords = true
walkOptions.maxBatchSize = 2 * mib
var headerOptions = RecordBatchValidator.Options()
headerOptions.maxBatchSize = 2 * mib
let headerOnly2 = try measure(iterations: 500) { _ = try RecordBatchValidator.validate(batch, options: headerOptions) }
let walked = try measure(iterations: 50) { _ = try RecordBatchValidator.validate(batch, options: walkOptions) }
let decoded = try measure(iterations: 20) { _ = try RecordBatch.readAll(batch) }

print("RecordBatchValidator (header + CRC): \(rate(batch.readableBytes, headerOnly2, unit: 1e9)) GB/s, \(Int(1 / headerOnly2)) batches/s")
print("RecordBatchValidator (walkRecords):  \(rate(batch.readableBytes, walked, unit: 1e9)) GB/s, \(Int(Double(builder.count) / walked / 1e6)) M records/s")
print("RecordBatch.readAll (full decode):   \(rate(batch.readableBytes, decoded, unit: 1e9)) GB/s, \(Int(Double(builder.count) / decoded / 1e6)) M records/s")

// Each codec over the records section of that batch (1 MiB of 100-byte JSON-like values).
let body = batch.getSlice(at: RecordBatchHeader.size, length: batch.readableBytes - RecordBatchHeader.size)!
print("Codec over \(body.readableBytes) bytes: ratio, compress MB/s, decompress MB/s")
for codec in CompressionCodec.allCases where codec != .none {
    let compressed = try codec.compress(body)
    let compress = try measure(iterations: 5) { _ = try codec.compress(body) }
    let decompress = try measure(iterations: 10) { _ = try codec.decompress(compressed) }
    let ratio = String(Int((Double(body.readableBytes) / Double(compressed.readableBytes) * 100).rounded())).withDecimal
    print("  \(codec.description + String(repeating: " ", count: 7 - codec.description.count)) ratio \(ratio)  compress \(rate(body.readableBytes, compress, unit: 1e6)) MB/s  decompress \(rate(body.readableBytes, decompress, unit: 1e6)) MB/s")
}

// A Produce request (v9, flexible) carrying that 1 MiB batch: encode and decode of the whole request, the work
// the broker's request path does before validation. Records stay zero-copy slices on decode.
do {
    var request = ProduceRequest()
    request.acks = -1
    request.timeoutMs = 30_000
    var topic = ProduceRequest.TopicProduceData()
    topic.name = "bench"
    var partition = ProduceRequest.PartitionProduceData()
    partition.index = 0
    partition.records = batch
    topic.partitionData = [partition]
    request.topicData = [topic]
    var encoded = ByteBuffer()
    try request.write(to: &encoded, version: 9)
    let encodeTime = try measure(iterations: 200) {
        var out = ByteBuffer()
        out.reserveCapacity(encoded.readableBytes)
        try request.write(to: &out, version: 9)
    }
    let decodeTime = try measure(iterations: 2000) {
        var input = encoded
        _ = try ProduceRequest(from: &input, version: 9)
    }
    print("ProduceRequest v9 with 1 MiB of records: encode \(rate(encoded.readableBytes, encodeTime, unit: 1e9)) GB/s (\(Int(1 / encodeTime)) req/s), decode \(rate(encoded.readableBytes, decodeTime, unit: 1e9)) GB/s (\(Int(1 / decodeTime)) req/s)")
}
