#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

import NIOCore

/// Milliseconds since the epoch, injectable so tests drive time (retention, segment.ms, LogAppendTime).
public struct LogClock: Sendable {
    public var nowMs: @Sendable () -> Int64

    public init(nowMs: @escaping @Sendable () -> Int64) { self.nowMs = nowMs }

    public static let system = LogClock {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }
}

/// What an append did, for the produce response.
public struct LogAppendInfo: Sendable, Equatable {
    /// Base offset of the first appended batch.
    public var firstOffset: Int64
    /// Last offset of the last appended batch.
    public var lastOffset: Int64
    /// The broker time stamped into the batches, or -1 under CreateTime.
    public var logAppendTime: Int64
    /// Largest batch max timestamp of this append, and the last offset of the batch carrying it.
    public var maxTimestamp: Int64
    public var offsetOfMaxTimestamp: Int64
    public var logStartOffset: Int64
    public var batchCount: Int
    public var validBytes: Int
}

/// The answer to a read: whole batches, both as bytes and as a file range for sendfile/FileRegion.
public struct FetchData: Sendable {
    /// Whole batches, starting with the batch that holds the fetch offset (the client skips records before it).
    public var records: ByteBuffer
    /// The segment file the bytes come from; it stays open while this value lives. nil when empty.
    public var file: SegmentFile?
    /// Byte range within `file`: that of `records`, or of the unread range when not materialized.
    public var position: Int64
    public var length: Int
    /// Base offset of the first batch returned, nil when empty.
    public var firstBatchOffset: Int64?
    public var highWatermark: Int64
    public var logStartOffset: Int64
    public var logEndOffset: Int64

    public var isEmpty: Bool { length == 0 }
}

/// Offsets of the log at one instant.
public struct LogOffsets: Sendable, Equatable {
    public var logStartOffset: Int64
    public var logEndOffset: Int64
    public var highWatermark: Int64
    public var recoveryPoint: Int64
}
