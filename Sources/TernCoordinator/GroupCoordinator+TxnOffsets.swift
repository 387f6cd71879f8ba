/// TxnOffsetCommit (API key 28): offsets committed inside a transaction (KIP-98 `sendOffsetsToTransaction`).
///
/// The offsets are written at once to `__consumer_offsets` as a transactional batch of the producer (the driver
/// does that with the returned records), but kept apart from the group's offsets: OffsetFetch does not see them
/// until the transaction's COMMIT marker reaches the group's partition (`completeTransaction`), and an ABORT
/// drops them. Replay needs no help: the broker's loader hands over the records of committed transactions only.
///
/// Member checks (v3+, KIP-447): a commit carrying a generation >= 0 must come from a current member of that
/// generation; generation -1 is accepted from anyone, as Kafka does for producers that do not pass group metadata.
extension GroupCoordinator {
    public struct TxnOffsetCommitInput: Sendable, Equatable {
        public var groupId: String
        public var producerId: Int64
        public var producerEpoch: Int16
        public var generationId: Int32
        public var memberId: String
        public var groupInstanceId: String?
        public var topics: [OffsetCommitTopic]
        public init(groupId: String, producerId: Int64, producerEpoch: Int16, generationId: Int32 = -1, memberId: String = "",
                    groupInstanceId: String? = nil, topics: [OffsetCommitTopic]) {
            self.groupId = groupId
            self.producerId = producerId
            self.producerEpoch = producerEpoch
            self.generationId = generationId
            self.memberId = memberId
            self.groupInstanceId = groupInstanceId
            self.topics = topics
        }
    }

    /// Validates and stages the offsets. Returns the per-partition answer and the records to append (as the
    /// producer's transactional batch) to partition `partition(for: groupId)`.
    public func commitTransactionalOffsets(_ input: TxnOffsetCommitInput, now: Int64) -> (OffsetCommitResult, [CoordinatorRecord]) {
        func all(_ code: Int16) -> (OffsetCommitResult, [CoordinatorRecord]) {
            (OffsetCommitResult(topics: input.topics.map { topic in
                TopicPartitionErrors(name: topic.name, partitions: topic.partitions.map { PartitionError(partitionIndex: $0.partitionIndex, errorCode: code) })
            }), [])
        }
        if let error = coordinatorError(for: input.groupId) { return all(error) }
        if input.generationId >= 0 {
            if let group = groups[input.groupId], group.state != .empty && group.state != .dead {
                if let error = validateMember(group, memberId: input.memberId, groupInstanceId: input.groupInstanceId) { return all(error) }
                if input.generationId != group.generationId { return all(CoordinatorErrorCode.illegalGeneration) }
            } else if let group = consumerGroups[input.groupId], !group.members.isEmpty {
                guard let member = group.members[input.memberId] else { return all(CoordinatorErrorCode.unknownMemberId) }
                if input.generationId != member.memberEpoch { return all(CoordinatorErrorCode.illegalGeneration) }
            }
        }
        var records: [CoordinatorRecord] = []
        var result = OffsetCommitResult(topics: [])
        var pending = pendingTransactionalOffsets[input.producerId]?[input.groupId] ?? [:]
        for topic in input.topics {
            var errors: [PartitionError] = []
            for p in topic.partitions {
                let metadata = p.committedMetadata ?? ""
                if metadata.utf16.count > config.offsetMetadataMaxBytes {
                    errors.append(PartitionError(partitionIndex: p.partitionIndex, errorCode: CoordinatorErrorCode.offsetMetadataTooLarge))
                    continue
                }
                let value = OffsetCommitRecordValue(
                    offset: p.committedOffset, leaderEpoch: p.committedLeaderEpoch, metadata: metadata,
                    commitTimestamp: now, expireTimestamp: nil)
                pending[TopicPartition(topic: topic.name, partition: p.partitionIndex)] = value
                records.append(.offsetCommit(
                    key: OffsetCommitRecordKey(groupId: input.groupId, topic: topic.name, partition: p.partitionIndex), value: value))
                errors.append(PartitionError(partitionIndex: p.partitionIndex, errorCode: CoordinatorErrorCode.none))
            }
            result.topics.append(TopicPartitionErrors(name: topic.name, partitions: errors))
        }
        pendingTransactionalOffsets[input.producerId, default: [:]][input.groupId] = pending
        return (result, records)
    }

    /// The transaction's marker reached `__consumer_offsets` partition `offsetsPartition`: its staged offsets of
    /// groups on that partition become committed (COMMIT) or are dropped (ABORT).
    public func completeTransaction(producerId: Int64, offsetsPartition: Int32, commit: Bool, now: Int64) {
        guard var byGroup = pendingTransactionalOffsets[producerId] else { return }
        for (groupId, offsets) in byGroup where partition(for: groupId) == offsetsPartition {
            byGroup[groupId] = nil
            guard commit else { continue }
            if let consumerGroup = consumerGroups[groupId] {
                consumerGroup.offsets.merge(offsets) { _, new in new }
            } else {
                let group = groups[groupId] ?? {
                    let created = ClassicGroup(groupId: groupId)
                    created.transition(to: .empty, now: now)
                    groups[groupId] = created
                    return created
                }()
                group.offsets.merge(offsets) { _, new in new }
            }
        }
        pendingTransactionalOffsets[producerId] = byGroup.isEmpty ? nil : byGroup
    }

    /// True when an open transaction holds offsets for the partition (OffsetFetch `require_stable` answers
    /// UNSTABLE_OFFSET_COMMIT then).
    public func hasPendingTransactionalOffset(groupId: String, topicPartition: TopicPartition) -> Bool {
        pendingTransactionalOffsets.values.contains { $0[groupId]?[topicPartition] != nil }
    }
}
