import KafkaProtocol

/// Java's ConsumerRebalanceListener. With the eager assignors ("range", "roundrobin") every owned partition is
/// revoked before each rebalance; with "cooperative-sticky" only the partitions that move to another member.
/// `onPartitionsLost` is called instead of revoked when the member was already fenced out of the group (its
/// partitions may already belong to someone else, so committing them would be wrong).
public protocol ConsumerRebalanceListener: Sendable {
    func onPartitionsRevoked(_ consumer: KafkaConsumer, _ partitions: [TopicPartition]) async
    func onPartitionsAssigned(_ consumer: KafkaConsumer, _ partitions: [TopicPartition]) async
    func onPartitionsLost(_ consumer: KafkaConsumer, _ partitions: [TopicPartition]) async
}

extension ConsumerRebalanceListener {
    /// Java's default: lost partitions are handled like revoked ones.
    public func onPartitionsLost(_ consumer: KafkaConsumer, _ partitions: [TopicPartition]) async {
        await onPartitionsRevoked(consumer, partitions)
    }
}

/// Pause/resume, offsetsForTimes and commitAsync.
extension KafkaConsumer {
    /// Stops fetching from `tps` without giving them up. Records already fetched for them but not yet returned are
    /// dropped and the position rewound to the first of them, so `resume` sees them again.
    public func pause(_ tps: [TopicPartition]) {
        for tp in tps where positions[tp] != nil {
            paused.insert(tp)
            if let first = buffered.first(where: { $0.topic == tp.topic && $0.partition == tp.partition })?.firstOffset {
                seek(tp, to: first)
            }
        }
    }

    public func resume(_ tps: [TopicPartition]) { paused.subtract(tps) }

    public var pausedPartitions: [TopicPartition] { paused.sorted() }

    /// For each partition, the earliest offset whose timestamp is at or after the given one (ListOffsets by
    /// timestamp); nil when no such record exists, as Java's offsetsForTimes returns null.
    public func offsetsForTimes(_ timestamps: [TopicPartition: Int64]) async throws -> [TopicPartition: OffsetAndTimestamp?] {
        if let bad = timestamps.first(where: { $0.value < 0 }) {
            throw KafkaClientError(.invalidArgument, "The target time for partition \(bad.key) is \(bad.value). The target time cannot be negative.")
        }
        let listed = try await KafkaAdmin.listOffsets(cluster: cluster, timestamps.map { ($0.key, $0.value) }, readCommitted: config.readCommitted)
        var out: [TopicPartition: OffsetAndTimestamp?] = [:]
        for tp in timestamps.keys {
            if let l = listed[tp], l.offset >= 0 {
                out[tp] = OffsetAndTimestamp(offset: l.offset, timestamp: l.timestamp, leaderEpoch: l.leaderEpoch >= 0 ? l.leaderEpoch : nil)
            } else {
                out.updateValue(nil, forKey: tp)
            }
        }
        return out
    }

    /// Commits the current positions without waiting; `completion` gets the offsets and the error, if any.
    /// Commits complete in the order they were made.
    public func commitAsync(_ completion: (@Sendable ([TopicPartition: Int64], (any Error)?) -> Void)? = nil) {
        commitAsync(consumedPositions(), completion)
    }

    /// Commits `offsets` (the next offset to read per partition) without waiting.
    public func commitAsync(_ offsets: [TopicPartition: Int64], _ completion: (@Sendable ([TopicPartition: Int64], (any Error)?) -> Void)? = nil) {
        let previous = commitChain
        commitChain = Task {
            await previous?.value
            do {
                try await self.commit(offsets)
                completion?(offsets, nil)
            } catch {
                completion?(offsets, error)
            }
        }
    }
}

/// Java's OffsetAndTimestamp.
public struct OffsetAndTimestamp: Sendable, Hashable {
    public var offset: Int64
    public var timestamp: Int64
    public var leaderEpoch: Int32?
}
