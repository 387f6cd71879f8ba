import NIOCore

/// A transaction marker: the single record of a control batch that ends a transaction.
///
/// ```
/// key:   version int16 (0), type int16 (0 = ABORT, 1 = COMMIT)
/// value: version int16 (0), coordinatorEpoch int32
/// ```
/// KRaft adds other control types (leader change, snapshot markers) with their own values; their
/// keys decode here with `type` as read so readers can skip them.
public struct ControlRecord: Sendable, Equatable {
    public struct ControlType: RawRepresentable, Sendable, Equatable, Hashable {
        public var rawValue: Int16
        public init(rawValue: Int16) { self.rawValue = rawValue }
        public static let abort = ControlType(rawValue: 0)
        public static let commit = ControlType(rawValue: 1)
    }

    public var version: Int16
    public var type: ControlType
    /// Carried in the value of commit and abort markers; nil when the value is not a marker's.
    public var coordinatorEpoch: Int32?

    public init(type: ControlType, coordinatorEpoch: Int32?, version: Int16 = 0) {
        self.version = version
        self.type = type
        self.coordinatorEpoch = coordinatorEpoch
    }

    /// Decodes a control record's key (and value, for commit and abort markers).
    public init(key: ByteBuffer?, value: ByteBuffer?) throws(RecordValidationError) {
        guard var key, let version = key.readInteger(as: Int16.self), let type = key.readInteger(as: Int16.self) else {
            throw .corrupt("control record key needs version and type")
        }
        self.version = version
        self.type = ControlType(rawValue: type)
        self.coordinatorEpoch = nil
        if self.type == .abort || self.type == .commit {
            guard var value, value.readInteger(as: Int16.self) != nil,
                  let epoch = value.readInteger(as: Int32.self)
            else { throw .corrupt("transaction marker value needs version and coordinatorEpoch") }
            self.coordinatorEpoch = epoch
        }
    }

    public var key: ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeInteger(version)
        buffer.writeInteger(type.rawValue)
        return buffer
    }

    public var value: ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeInteger(Int16(0))
        buffer.writeInteger(coordinatorEpoch ?? -1)
        return buffer
    }
}

extension RecordBatchBuilder {
    /// The control batch the transaction coordinator has written to each partition when a
    /// transaction ends: transactional, control, no sequence, one marker record.
    public static func transactionMarker(
        _ marker: ControlRecord, producerId: Int64, producerEpoch: Int16, timestamp: Int64,
        baseOffset: Int64 = 0, partitionLeaderEpoch: Int32 = -1
    ) -> ByteBuffer {
        var builder = RecordBatchBuilder(
            baseOffset: baseOffset, partitionLeaderEpoch: partitionLeaderEpoch, isTransactional: true,
            isControl: true, producerId: producerId, producerEpoch: producerEpoch, baseSequence: -1)
        builder.append(key: marker.key, value: marker.value, timestamp: timestamp)
        // Uncompressed: build cannot fail.
        return (try? builder.build()) ?? ByteBuffer()
    }
}

extension RecordBatch {
    /// The markers of a control batch (empty for a data batch).
    public func controlRecords() throws(RecordValidationError) -> [ControlRecord] {
        guard header.attributes.isControl else { return [] }
        var markers: [ControlRecord] = []
        for record in records {
            markers.append(try ControlRecord(key: record.key, value: record.value))
        }
        return markers
    }
}
