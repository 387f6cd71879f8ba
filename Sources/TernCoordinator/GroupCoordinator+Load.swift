/// Rebuilding state from `__consumer_offsets` when this broker becomes coordinator for a partition, and
/// dropping it on resignation.
///
/// Replay applies records in log order, the last value per key winning and tombstones deleting: a group with
/// members comes back Stable (members must heartbeat within their session timeout, which restarts now), a
/// group without members Empty, and offsets without group metadata make an Empty group that only stores
/// offsets. While a partition loads, its groups get COORDINATOR_LOAD_IN_PROGRESS.
extension GroupCoordinator {
    /// Marks a partition as loading; requests for its groups answer COORDINATOR_LOAD_IN_PROGRESS until `load`.
    public func beginLoading(partition: Int32) {
        loadingPartitions.insert(partition)
    }

    /// - Parameter openTransactions: offsets of transactions still open at the end of the partition, by producer
    ///   id: they stay pending until the transaction's marker commits or drops them.
    public func load(
        partition: Int32, records: [CoordinatorRecord], openTransactions: [Int64: [CoordinatorRecord]] = [:], now: Int64
    ) -> [CoordinatorAction] {
        for (producerId, staged) in openTransactions {
            for case .offsetCommit(let key, let value?) in staged where self.partition(for: key.groupId) == partition {
                pendingTransactionalOffsets[producerId, default: [:]][key.groupId, default: [:]][
                    TopicPartition(topic: key.topic, partition: key.partition)] = value
            }
        }
        var metadata: [String: GroupMetadataRecordValue?] = [:]
        var offsets: [String: [TopicPartition: OffsetCommitRecordValue]] = [:]
        var consumer: [String: ConsumerGroupReplay] = [:]
        for record in records {
            switch record {
            case .groupMetadata(let groupId, let value):
                metadata[groupId] = .some(value)
            case .offsetCommit(let key, let value):
                let tp = TopicPartition(topic: key.topic, partition: key.partition)
                offsets[key.groupId, default: [:]][tp] = value
            case .consumerGroupMetadata(let groupId, let epoch):
                if let epoch { consumer[groupId, default: ConsumerGroupReplay()].epoch = epoch } else { consumer[groupId] = nil }
            case .consumerGroupMemberMetadata(let groupId, let memberId, let value):
                consumer[groupId, default: ConsumerGroupReplay()].members[memberId] = value
            case .consumerGroupTargetAssignmentMetadata(let groupId, let epoch):
                consumer[groupId, default: ConsumerGroupReplay()].assignmentEpoch = epoch ?? 0
            case .consumerGroupTargetAssignmentMember(let groupId, let memberId, let partitions):
                consumer[groupId, default: ConsumerGroupReplay()].target[memberId] = partitions
            case .consumerGroupCurrentMemberAssignment(let groupId, let memberId, let value):
                consumer[groupId, default: ConsumerGroupReplay()].current[memberId] = value
            }
        }
        for (groupId, replay) in consumer.sorted(by: { $0.key < $1.key }) where self.partition(for: groupId) == partition {
            guard let epoch = replay.epoch else { continue }
            let group = ConsumerGroup(groupId: groupId)
            group.groupEpoch = epoch
            group.assignmentEpoch = replay.assignmentEpoch
            group.offsets = offsets.removeValue(forKey: groupId) ?? [:]
            for (memberId, partitions) in replay.target { group.targetAssignment[memberId] = partitions.toSets }
            for (memberId, value) in replay.members.sorted(by: { $0.key < $1.key }) {
                let member = ConsumerMember(memberId: memberId, clientId: value.clientId, clientHost: value.clientHost, rebalanceTimeoutMs: value.rebalanceTimeoutMs)
                member.instanceId = value.instanceId
                member.rackId = value.rackId
                member.subscribedTopicNames = value.subscribedTopicNames
                member.serverAssignor = value.serverAssignor
                if let current = replay.current[memberId] {
                    member.memberEpoch = current.memberEpoch
                    member.previousMemberEpoch = current.previousMemberEpoch
                    member.state = ConsumerMemberState(rawValue: current.state) ?? .stable
                    member.assigned = current.assignedPartitions.toSets
                    member.pendingRevocation = current.partitionsPendingRevocation.toSets
                }
                group.members[memberId] = member
                member.sessionDeadlineMs = now + Int64(config.consumerGroupSessionTimeoutMs)
                schedule(.consumerSession(groupId: groupId, memberId: memberId), at: member.sessionDeadlineMs)
            }
            group.lastPartitionCounts = Dictionary(uniqueKeysWithValues: group.subscribedTopics.compactMap { topic in
                partitionCount(topic).map { (topic, $0) }
            })
            consumerGroups[groupId] = group
        }
        let groupIds = Set(metadata.keys).union(offsets.keys).sorted()
        for groupId in groupIds where self.partition(for: groupId) == partition {
            let groupOffsets = offsets[groupId] ?? [:]
            let value = metadata[groupId] ?? nil
            if value == nil && groupOffsets.isEmpty { continue }
            let group = ClassicGroup(groupId: groupId)
            group.offsets = groupOffsets
            if let value { restore(group, from: value, now: now) } else { group.restore(state: .empty, timestamp: nil) }
            groups[groupId] = group
        }
        loadingPartitions.remove(partition)
        if ownedPartitions != nil { ownedPartitions!.insert(partition) }
        return drainActions()
    }

    private func restore(_ group: ClassicGroup, from value: GroupMetadataRecordValue, now: Int64) {
        group.protocolType = value.protocolType.isEmpty ? nil : value.protocolType
        group.generationId = value.generation
        group.protocolName = value.protocolName
        for record in value.members {
            let member = ClassicMember(
                memberId: record.memberId, groupInstanceId: record.groupInstanceId, clientId: record.clientId,
                clientHost: record.clientHost, rebalanceTimeoutMs: record.rebalanceTimeoutMs,
                sessionTimeoutMs: record.sessionTimeoutMs, protocolType: value.protocolType,
                protocols: [GroupProtocol(name: value.protocolName ?? "", metadata: record.subscription)])
            member.assignment = record.assignment
            group.add(member)
            scheduleSession(member, in: group, now: now)
        }
        group.protocolType = value.protocolType.isEmpty ? nil : value.protocolType
        group.leaderId = value.leader ?? group.memberOrder.first
        let timestamp = value.currentStateTimestamp >= 0 ? value.currentStateTimestamp : nil
        group.restore(state: value.members.isEmpty ? .empty : .stable, timestamp: timestamp)
    }

    /// This broker is no longer coordinator for `partition`: forget its groups and answer their parked
    /// requests with NOT_COORDINATOR so clients look up the new coordinator.
    public func unload(partition: Int32) -> [CoordinatorAction] {
        for groupId in groupIds where self.partition(for: groupId) == partition {
            guard let group = groups.removeValue(forKey: groupId) else { continue }
            for member in group.memberList {
                if let parked = member.awaitingJoin {
                    emit(.completeJoin(requestId: parked, .error(CoordinatorErrorCode.notCoordinator, memberId: member.memberId)))
                }
                if let parked = member.awaitingSync {
                    emit(.completeSync(requestId: parked, SyncGroupResult(errorCode: CoordinatorErrorCode.notCoordinator)))
                }
                cancel(.memberSession(groupId: groupId, memberId: member.memberId))
            }
            for memberId in group.pendingMembers.keys.sorted() { cancel(.memberSession(groupId: groupId, memberId: memberId)) }
            cancel(.rebalance(groupId: groupId))
            cancel(.pendingSync(groupId: groupId))
        }
        for groupId in consumerGroupIds where self.partition(for: groupId) == partition {
            guard let group = consumerGroups.removeValue(forKey: groupId) else { continue }
            for memberId in group.members.keys.sorted() {
                cancel(.consumerSession(groupId: groupId, memberId: memberId))
                cancel(.consumerRebalance(groupId: groupId, memberId: memberId))
            }
        }
        for groupId in pendingOffsetWrites.keys where self.partition(for: groupId) == partition { pendingOffsetWrites[groupId] = nil }
        for (producerId, byGroup) in pendingTransactionalOffsets {
            let kept = byGroup.filter { self.partition(for: $0.key) != partition }
            pendingTransactionalOffsets[producerId] = kept.isEmpty ? nil : kept
        }
        loadingPartitions.remove(partition)
        if ownedPartitions != nil { ownedPartitions!.remove(partition) }
        return drainActions()
    }
}

/// Last value per key of one consumer group's records during replay.
struct ConsumerGroupReplay {
    var epoch: Int32?
    var assignmentEpoch: Int32 = 0
    // Assigning nil (a tombstone) removes the key, so the last value per key wins.
    var members: [String: ConsumerMemberRecordValue] = [:]
    var target: [String: [String: [Int32]]] = [:]
    var current: [String: ConsumerCurrentAssignmentRecordValue] = [:]
}

extension Dictionary where Key == String, Value == [Int32] {
    var toSets: TopicPartitions { mapValues { Set($0) } }
}
