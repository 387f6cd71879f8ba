/// OffsetCommit (API key 8), OffsetFetch (API key 9), OffsetDelete (API key 47) and offsets retention.
///
/// - Commits from group members are checked against the generation and member id (ILLEGAL_GENERATION,
///   UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID; REBALANCE_IN_PROGRESS while CompletingRebalance). Generation -1 with
///   an empty member id is a simple consumer or admin commit, accepted while the group is Empty; it creates the
///   group if needed. Each committed partition is one OffsetCommit record.
/// - Fetch answers -1 for partitions with no commit, every committed partition when topics is nil, and
///   several groups at once (v8+).
/// - Topic existence (UNKNOWN_TOPIC_OR_PARTITION) is checked by the broker before calling in, as in Kafka.
/// - Retention (KIP-211): offsets of an Empty group expire `offsets.retention.minutes` after it became Empty;
///   of a group with no protocol (offset storage only) after their commit; of a consumer group, offsets of
///   topics no member subscribes to after their commit. An Empty group with no offsets left is removed.
extension GroupCoordinator {
    public func commitOffsets(_ input: OffsetCommitInput, now: Int64) -> (OffsetCommitResult, [CoordinatorAction]) {
        let result = commit(input, now: now)
        return (result, drainActions())
    }

    private func commit(_ input: OffsetCommitInput, now: Int64) -> OffsetCommitResult {
        func all(_ code: Int16) -> OffsetCommitResult {
            OffsetCommitResult(topics: input.topics.map { topic in
                TopicPartitionErrors(name: topic.name, partitions: topic.partitions.map { PartitionError(partitionIndex: $0.partitionIndex, errorCode: code) })
            })
        }
        if let error = coordinatorError(for: input.groupId) { return all(error) }
        if let consumerGroup = consumerGroups[input.groupId] {
            // KIP-848 groups: the generation field carries the member epoch.
            if !(input.generationId < 0 && input.memberId.isEmpty && consumerGroup.members.isEmpty) {
                guard let member = consumerGroup.members[input.memberId] else { return all(CoordinatorErrorCode.unknownMemberId) }
                if input.generationId > member.memberEpoch { return all(CoordinatorErrorCode.fencedMemberEpoch) }
                if input.generationId < member.memberEpoch { return all(CoordinatorErrorCode.staleMemberEpoch) }
            }
            return writeOffsets(groupId: input.groupId, offsets: &consumerGroup.offsets, input, now: now)
        }
        let group: ClassicGroup
        if let existing = groups[input.groupId] {
            group = existing
        } else if input.generationId < 0 {
            // The group does not use Kafka for membership; it only stores offsets here.
            group = ClassicGroup(groupId: input.groupId)
            group.transition(to: .empty, now: now)
            groups[input.groupId] = group
        } else {
            return all(CoordinatorErrorCode.illegalGeneration)
        }
        if group.state == .dead { return all(CoordinatorErrorCode.coordinatorNotAvailable) }
        if !(input.generationId < 0 && group.state == .empty) {
            if let error = validateMember(group, memberId: input.memberId, groupInstanceId: input.groupInstanceId) { return all(error) }
            if input.generationId != group.generationId { return all(CoordinatorErrorCode.illegalGeneration) }
            switch group.state {
            case .completingRebalance:
                // The member has this generation's JoinGroup response but not its assignment yet.
                return all(CoordinatorErrorCode.rebalanceInProgress)
            case .stable, .preparingRebalance:
                // Commits during PreparingRebalance are allowed; the heartbeat tells the member to rejoin.
                scheduleSession(group.members[input.memberId]!, in: group, now: now)
            case .empty, .dead:
                return all(CoordinatorErrorCode.unknownMemberId)
            }
        }
        return writeOffsets(groupId: group.groupId, offsets: &group.offsets, input, now: now)
    }

    private func writeOffsets(groupId: String, offsets: inout [TopicPartition: OffsetCommitRecordValue], _ input: OffsetCommitInput, now: Int64) -> OffsetCommitResult {
        let expireTimestamp: Int64? = input.retentionTimeMs == -1 ? nil : now + input.retentionTimeMs
        var records: [CoordinatorRecord] = []
        var result = OffsetCommitResult(topics: [])
        for topic in input.topics {
            var errors: [PartitionError] = []
            for partition in topic.partitions {
                let metadata = partition.committedMetadata ?? ""
                if metadata.utf16.count > config.offsetMetadataMaxBytes {
                    errors.append(PartitionError(partitionIndex: partition.partitionIndex, errorCode: CoordinatorErrorCode.offsetMetadataTooLarge))
                    continue
                }
                let key = OffsetCommitRecordKey(groupId: groupId, topic: topic.name, partition: partition.partitionIndex)
                let value = OffsetCommitRecordValue(
                    offset: partition.committedOffset, leaderEpoch: partition.committedLeaderEpoch, metadata: metadata,
                    commitTimestamp: now, expireTimestamp: expireTimestamp)
                let tp = TopicPartition(topic: topic.name, partition: partition.partitionIndex)
                beginOffsetWrite(groupId: groupId, tp, durable: offsets[tp])
                offsets[tp] = value
                records.append(.offsetCommit(key: key, value: value))
                errors.append(PartitionError(partitionIndex: partition.partitionIndex, errorCode: CoordinatorErrorCode.none))
            }
            result.topics.append(TopicPartitionErrors(name: topic.name, partitions: errors))
        }
        append(groupId: groupId, records)
        return result
    }

    public func fetchOffsets(_ input: OffsetFetchInput, now: Int64) -> OffsetFetchResult {
        OffsetFetchResult(groups: input.groups.map { fetch($0, requireStable: input.requireStable) })
    }

    private func fetch(_ request: OffsetFetchGroup, requireStable: Bool) -> OffsetFetchGroupResult {
        if let error = coordinatorError(for: request.groupId) {
            return OffsetFetchGroupResult(groupId: request.groupId, errorCode: error, topics: [])
        }
        let offsets = groups[request.groupId]?.offsets ?? consumerGroups[request.groupId]?.offsets ?? [:]
        func answer(_ tp: TopicPartition) -> OffsetFetchPartition {
            // KIP-447: an offset an open transaction is changing is not answered to `require_stable` fetches.
            if requireStable && hasPendingTransactionalOffset(groupId: request.groupId, topicPartition: tp) {
                return OffsetFetchPartition(partitionIndex: tp.partition, committedOffset: -1, committedLeaderEpoch: -1, metadata: "", errorCode: CoordinatorErrorCode.unstableOffsetCommit)
            }
            // A commit still being written is not answered yet: the last durable offset is (Kafka's
            // pendingOffsetCommits), or UNSTABLE_OFFSET_COMMIT to `require_stable` fetches.
            let pending = pendingOffsetWrites[request.groupId]?[tp]
            if pending != nil && requireStable {
                return OffsetFetchPartition(partitionIndex: tp.partition, committedOffset: -1, committedLeaderEpoch: -1, metadata: "", errorCode: CoordinatorErrorCode.unstableOffsetCommit)
            }
            let visible: OffsetCommitRecordValue? = if let pending { pending.durable } else { offsets[tp] }
            guard let value = visible else {
                return OffsetFetchPartition(partitionIndex: tp.partition, committedOffset: -1, committedLeaderEpoch: -1, metadata: "", errorCode: CoordinatorErrorCode.none)
            }
            return OffsetFetchPartition(
                partitionIndex: tp.partition, committedOffset: value.offset, committedLeaderEpoch: value.leaderEpoch,
                metadata: value.metadata, errorCode: CoordinatorErrorCode.none)
        }
        let topics: [OffsetFetchTopicResult]
        if let requested = request.topics {
            topics = requested.map { topic in
                OffsetFetchTopicResult(name: topic.name, partitions: topic.partitionIndexes.map { answer(TopicPartition(topic: topic.name, partition: $0)) })
            }
        } else {
            var byTopic: [String: [OffsetFetchPartition]] = [:]
            for tp in offsets.keys.sorted() { byTopic[tp.topic, default: []].append(answer(tp)) }
            topics = byTopic.keys.sorted().map { OffsetFetchTopicResult(name: $0, partitions: byTopic[$0]!) }
        }
        return OffsetFetchGroupResult(groupId: request.groupId, errorCode: CoordinatorErrorCode.none, topics: topics)
    }

    public func deleteOffsets(_ input: OffsetDeleteInput, now: Int64) -> (OffsetDeleteResult, [CoordinatorAction]) {
        let result = deleteOffsetsOfGroup(input)
        return (result, drainActions())
    }

    private func deleteOffsetsOfGroup(_ input: OffsetDeleteInput) -> OffsetDeleteResult {
        if let error = coordinatorError(for: input.groupId) { return OffsetDeleteResult(errorCode: error, topics: []) }
        if let consumerGroup = consumerGroups[input.groupId] {
            return deleteOffsets(groupId: input.groupId, offsets: &consumerGroup.offsets, subscribed: consumerGroup.subscribedTopics, input)
        }
        guard let group = groups[input.groupId], group.state != .dead else {
            return OffsetDeleteResult(errorCode: CoordinatorErrorCode.groupIdNotFound, topics: [])
        }
        var subscribed: Set<String> = []
        if group.state != .empty {
            guard group.protocolType == "consumer" else {
                return OffsetDeleteResult(errorCode: CoordinatorErrorCode.nonEmptyGroup, topics: [])
            }
            // Unreadable subscriptions count as subscribed to nothing, as in Kafka.
            subscribed = group.subscribedTopics() ?? []
        }
        return deleteOffsets(groupId: group.groupId, offsets: &group.offsets, subscribed: subscribed, input)
    }

    private func deleteOffsets(groupId: String, offsets: inout [TopicPartition: OffsetCommitRecordValue], subscribed: Set<String>,
                               _ input: OffsetDeleteInput) -> OffsetDeleteResult {
        var records: [CoordinatorRecord] = []
        var topics: [TopicPartitionErrors] = []
        for topic in input.topics {
            let inUse = subscribed.contains(topic.name)
            topics.append(TopicPartitionErrors(name: topic.name, partitions: topic.partitionIndexes.map { index in
                if inUse { return PartitionError(partitionIndex: index, errorCode: CoordinatorErrorCode.groupSubscribedToTopic) }
                let tp = TopicPartition(topic: topic.name, partition: index)
                if offsets.removeValue(forKey: tp) != nil {
                    records.append(.offsetCommit(key: OffsetCommitRecordKey(groupId: groupId, topic: tp.topic, partition: index), value: nil))
                }
                return PartitionError(partitionIndex: index, errorCode: CoordinatorErrorCode.none)
            }))
        }
        append(groupId: groupId, records)
        return OffsetDeleteResult(errorCode: CoordinatorErrorCode.none, topics: topics)
    }

    /// Expires offsets per the retention rules above and removes Empty groups left with no offsets.
    func expireOffsets(now: Int64) {
        let retention = config.offsetsRetentionMs
        for groupId in groups.keys.sorted() {
            guard let group = groups[groupId], coordinatorError(for: groupId) == nil else { continue }
            let unsubscribedOnly = group.state != .empty && group.protocolType == "consumer"
            let subscribed = unsubscribedOnly ? group.subscribedTopics() : nil
            var records: [CoordinatorRecord] = []
            for (tp, value) in group.offsets.sorted(by: { $0.key < $1.key }) {
                let expired: Bool
                if let expireAt = value.expireTimestamp {
                    expired = now >= expireAt
                } else if group.protocolType == nil || group.protocolType == "" {
                    expired = value.commitTimestamp + retention <= now
                } else if group.state == .empty {
                    expired = (group.currentStateTimestamp ?? value.commitTimestamp) + retention <= now
                } else if let subscribed, !subscribed.contains(tp.topic) {
                    expired = value.commitTimestamp + retention <= now
                } else {
                    expired = false
                }
                guard expired else { continue }
                group.offsets[tp] = nil
                records.append(.offsetCommit(key: OffsetCommitRecordKey(groupId: groupId, topic: tp.topic, partition: tp.partition), value: nil))
            }
            if group.state == .empty && group.offsets.isEmpty && group.pendingMembers.isEmpty {
                group.transition(to: .dead, now: now)
                groups[groupId] = nil
                // Generation 0 means the group only stored offsets: it never wrote metadata to delete.
                if group.generationId > 0 { records.append(.groupMetadata(groupId: groupId, value: nil)) }
            }
            append(groupId: groupId, records)
        }
        for groupId in consumerGroupIds {
            guard let group = consumerGroups[groupId], coordinatorError(for: groupId) == nil else { continue }
            let subscribed = group.subscribedTopics
            var records: [CoordinatorRecord] = []
            for (tp, value) in group.offsets.sorted(by: { $0.key < $1.key }) {
                let expired = value.expireTimestamp.map { now >= $0 }
                    ?? ((group.members.isEmpty || !subscribed.contains(tp.topic)) && value.commitTimestamp + retention <= now)
                guard expired else { continue }
                group.offsets[tp] = nil
                records.append(.offsetCommit(key: OffsetCommitRecordKey(groupId: groupId, topic: tp.topic, partition: tp.partition), value: nil))
            }
            if group.members.isEmpty && group.offsets.isEmpty {
                consumerGroups[groupId] = nil
                records += consumerGroupTombstones(groupId)
            }
            append(groupId: groupId, records)
        }
    }

    func consumerGroupTombstones(_ groupId: String) -> [CoordinatorRecord] {
        [.consumerGroupTargetAssignmentMetadata(groupId: groupId, assignmentEpoch: nil), .consumerGroupMetadata(groupId: groupId, epoch: nil)]
    }
}
