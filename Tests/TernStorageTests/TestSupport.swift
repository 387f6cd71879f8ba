import Foundation
import KafkaProtocol
import Logging
import NIOCore
import Synchronization
@testable import TernStorage

/// Builds valid uncompressed magic v2 record batches with a correct CRC32C, for tests only.
enum BatchBuilder {
    struct Record {
        var key: String?
        var value: String?
        var timestampDelta: Int64 = 0
    }

    static func batch(
        baseOffset: Int64 = 0, baseTimestamp: Int64 = 1_000, records: [Record], producerId: Int64 = -1
    ) -> ByteBuffer {
        var body = ByteBuffer()
        for (i, record) in records.enumerated() {
            var r = ByteBuffer()
            r.writeInteger(UInt8(0))  // attributes
            writeVarint(&r, record.timestampDelta)
            writeVarint(&r, Int64(i))
            if let key = record.key {
                writeVarint(&r, Int64(key.utf8.count)); r.writeString(key)
            } else {
                writeVarint(&r, -1)
            }
            if let value = record.value {
                writeVarint(&r, Int64(value.utf8.count)); r.writeString(value)
            } else {
                writeVarint(&r, -1)
            }
            writeVarint(&r, 0)  // headers
            writeVarint(&body, Int64(r.readableBytes))
            body.writeBuffer(&r)
        }
        let maxDelta = records.map(\.timestampDelta).max() ?? 0
        let header = RecordBatchHeader(
            baseOffset: baseOffset,
            batchLength: Int32(RecordBatchHeader.size - RecordBatchHeader.logOverhead + body.readableBytes),
            partitionLeaderEpoch: -1, magic: 2, crc: 0, attributes: .init(rawValue: 0),
            lastOffsetDelta: Int32(records.count - 1), baseTimestamp: baseTimestamp,
            maxTimestamp: baseTimestamp + maxDelta, producerId: producerId, producerEpoch: -1, baseSequence: -1,
            recordCount: Int32(records.count))
        var out = ByteBuffer()
        header.write(to: &out)
        out.writeBuffer(&body)
        let crc = RecordBatchHeader.computeCRC(of: out, batchAt: 0, totalSize: out.readableBytes)
        out.setInteger(crc, at: RecordBatchHeader.crcOffset)
        return out
    }

    /// A batch of `count` records with values of `valueSize` bytes.
    static func batch(count: Int, valueSize: Int = 10, baseTimestamp: Int64 = 1_000, keyPrefix: String = "k") -> ByteBuffer {
        let value = String(repeating: "v", count: valueSize)
        return batch(baseTimestamp: baseTimestamp, records: (0..<count).map { Record(key: "\(keyPrefix)\($0)", value: value) })
    }

    static func writeVarint(_ buffer: inout ByteBuffer, _ value: Int64) {
        var v = UInt64(bitPattern: (value << 1) ^ (value >> 63))
        while v >= 0x80 {
            buffer.writeInteger(UInt8(v & 0x7f | 0x80))
            v >>= 7
        }
        buffer.writeInteger(UInt8(v))
    }
}

/// Walks the batches of a fetch result.
func batchHeaders(_ buffer: ByteBuffer) -> [RecordBatchHeader] {
    var headers: [RecordBatchHeader] = []
    var index = buffer.readerIndex
    while let header = RecordBatchHeader(peekingAt: index, of: buffer), index + header.totalSize <= buffer.writerIndex {
        headers.append(header)
        index += header.totalSize
    }
    return headers
}

/// Every batch's stored CRC matches its bytes.
func allCRCsValid(_ buffer: ByteBuffer) -> Bool {
    var index = buffer.readerIndex
    while let header = RecordBatchHeader(peekingAt: index, of: buffer), index + header.totalSize <= buffer.writerIndex {
        if RecordBatchHeader.computeCRC(of: buffer, batchAt: index, totalSize: header.totalSize) != header.crc { return false }
        index += header.totalSize
    }
    return index == buffer.writerIndex
}

/// (offset, key, isTombstone) of every record in the fetched batches.
func records(_ buffer: ByteBuffer) -> [(offset: Int64, key: String?, tombstone: Bool)] {
    var result: [(Int64, String?, Bool)] = []
    var index = buffer.readerIndex
    while let header = RecordBatchHeader(peekingAt: index, of: buffer), index + header.totalSize <= buffer.writerIndex {
        var reader = RecordReader(batch: buffer.getSlice(at: index, length: header.totalSize)!)!
        while let record = reader.next() {
            result.append((header.baseOffset + Int64(record.offsetDelta), record.key.map { String(decoding: $0, as: UTF8.self) }, record.isTombstone))
        }
        index += header.totalSize
    }
    return result
}

/// A fresh temporary directory, removed when the test's `TempDir` goes away.
final class TempDir {
    let path: String
    init() {
        path = NSTemporaryDirectory() + "tern-storage-" + UUID().uuidString
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// A clock tests move by hand.
final class ManualClock: Sendable {
    let now: Mutex<Int64>
    init(_ start: Int64 = 1_000_000) { now = Mutex(start) }
    func advance(by ms: Int64) { now.withLock { $0 += ms } }
    var logClock: LogClock { LogClock { [self] in now.withLock { $0 } } }
}

let testLogger: Logger = {
    var logger = Logger(label: "tern.storage.test")
    logger.logLevel = .critical
    return logger
}()

/// A manager over a temp dir, with small segments by default.
func makeManager(_ dir: TempDir, config: LogConfig = LogConfig(), clock: ManualClock = ManualClock()) -> LogManager {
    LogManager(logDirs: [dir.path + "/data"], defaultConfig: config, clock: clock.logClock, logger: testLogger)
}

func fileSize(_ path: String) -> Int64 {
    (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int64) ?? -1
}

func appendBytes(_ bytes: [UInt8], to path: String) {
    let handle = FileHandle(forWritingAtPath: path)!
    handle.seekToEndOfFile()
    handle.write(Data(bytes))
    handle.closeFile()
}

func segmentPath(_ log: Log, _ base: Int64, _ ext: String = ".log") -> String {
    log.dir + "/" + LogSegment.fileName(base, ext)
}

/// Seeded xorshift, so corruption tests replay exactly.
struct SeededRandom: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed == 0 ? 0x9E37_79B9_7F4A_7C15 : seed }
    mutating func next() -> UInt64 {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return state
    }
}
