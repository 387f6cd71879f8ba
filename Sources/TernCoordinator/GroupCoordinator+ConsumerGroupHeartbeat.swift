/// ConsumerGroupHeartbeat (API key 68, v0-1): the KIP-848 protocol, where the coordinator assigns partitions.
///
/// - Epoch 0 joins (creating the group), -1 leaves, -2 is a static member's temporary leave (treated as a
///   leave here: its partitions are released at once rather than held for the session timeout). Any other
///   epoch must be the member's current one, or its previous one when the partitions it reports are a subset
///   of its assignment (a lost response); otherwise FENCED_MEMBER_EPOCH.
/// - A new member, a subscription change or a partition count change bumps the group epoch; the target
///   assignment is recomputed lazily on the next heartbeat by the chosen assignor (uniform or range).
/// - Reconciliation: a member first revokes what it must give up (it stays at its epoch until its heartbeat
///   shows it no longer owns them), then moves to the assignment epoch and receives the partitions that no
///   other member still holds.
/// - Sessions last `group.consumer.session.timeout.ms`; a member that does not revoke within its rebalance
///   timeout is fenced.
extension GroupCoordinator {
    public func consumerGroupHeartbeat(_ input: ConsumerGroupHeartbeatInput, now: Int64) -> (ConsumerGroupHeartbeatResult, [CoordinatorAction]) {
        let result = consumerHeartbeat(input, now: now)
        return (result, drainActions())
    }

    private func consumerHeartbeat(_ input: ConsumerGroupHeartbeatInput, now: Int64) -> ConsumerGroupHeartbeatResult {
        func fail(_ code: Int16, _ message: String? = nil) -> ConsumerGroupHeartbeatResult {
            ConsumerGroupHeartbeatResult(errorCode: code, errorMessage: message, memberId: input.memberId, memberEpoch: input.memberEpoch)
        }
        if let error = coordinatorError(for: input.groupId) { return fail(error) }
        if input.groupId.isEmpty { return fail(CoordinatorErrorCode.invalidRequest, "GroupId can't be empty.") }
        if input.memberEpoch == 0 && (input.subscribedTopicNames == nil || input.rebalanceTimeoutMs < 0) {
            return fail(CoordinatorErrorCode.invalidRequest, "SubscribedTopicNames and RebalanceTimeoutMs must be set when joining.")
        }
        if let assignor = input.serverAssignor, !config.consumerGroupAssignors.contains(where: { $0.rawValue == assignor }) {
            return fail(CoordinatorErrorCode.unsupportedAssignor, "Assignor \(assignor) is not supported.")
        }
        if input.memberEpoch == -1 || input.memberEpoch == -2 {
            guard let group = consumerGroups[input.groupId], let member = group.members[input.memberId] else {
                return fail(CoordinatorErrorCode.unknownMemberId)
            }
            removeConsumerMember(group, member)
            return ConsumerGroupHeartbeatResult(errorCode: CoordinatorErrorCode.none, memberId: member.memberId, memberEpoch: input.memberEpoch)
        }
        if let classic = groups[input.groupId] {
            // An empty classic group (offsets only) becomes a consumer group; an active one cannot.
            guard input.memberEpoch == 0, classic.state == .empty, classic.pendingMembers.isEmpty else {
                return fail(CoordinatorErrorCode.groupIdNotFound, "Group \(input.groupId) is not a consumer group.")
            }
            let converted = ConsumerGroup(groupId: input.groupId)
            converted.offsets = classic.offsets
            groups[input.groupId] = nil
            if classic.generationId > 0 { append(groupId: input.groupId, [.groupMetadata(groupId: input.groupId, value: nil)]) }
            consumerGroups[input.groupId] = converted
        }
        let group: ConsumerGroup
        if let existing = consumerGroups[input.groupId] {
            group = existing
        } else if input.memberEpoch == 0 {
            group = ConsumerGroup(groupId: input.groupId)
            consumerGroups[input.groupId] = group
        } else {
            return fail(CoordinatorErrorCode.unknownMemberId)
        }

        let member: ConsumerMember
        var isNewMember = false
        if input.memberEpoch == 0 {
            let memberId = input.memberId.isEmpty ? newUUID() : input.memberId
            if let instanceId = input.instanceId,
               let holder = group.members.values.first(where: { $0.instanceId == instanceId }), holder.memberId != memberId {
                return fail(CoordinatorErrorCode.unreleasedInstanceId, "Static member \(instanceId) is still in use.")
            }
            if let previous = group.members[memberId] {
                // A rejoin with epoch 0 starts over: the old incarnation's partitions are released first.
                removeConsumerMember(group, previous)
            }
            if group.members.count >= config.consumerGroupMaxSize {
                return fail(CoordinatorErrorCode.groupMaxSizeReached)
            }
            member = ConsumerMember(memberId: memberId, clientId: input.clientId, clientHost: input.clientHost, rebalanceTimeoutMs: input.rebalanceTimeoutMs)
            group.members[memberId] = member
            isNewMember = true
        } else {
            guard let existing = group.members[input.memberId] else { return fail(CoordinatorErrorCode.unknownMemberId) }
            if input.memberEpoch > existing.memberEpoch {
                return fail(CoordinatorErrorCode.fencedMemberEpoch, "The consumer group member has a greater member epoch than the coordinator.")
            }
            if input.memberEpoch < existing.memberEpoch {
                let lostResponse = input.memberEpoch == existing.previousMemberEpoch
                    && (input.topicPartitions.map { $0.isSubset(of: existing.assigned) } ?? false)
                if !lostResponse {
                    return fail(CoordinatorErrorCode.fencedMemberEpoch, "The consumer group member has a smaller member epoch than the coordinator.")
                }
            }
            member = existing
        }

        var bumpEpoch = isNewMember
        let before = member.metadataRecordValue
        if let topics = input.subscribedTopicNames {
            let sorted = Array(Set(topics)).sorted()
            if sorted != member.subscribedTopicNames { bumpEpoch = true }
            member.subscribedTopicNames = sorted
        }
        if input.serverAssignor != member.serverAssignor, input.serverAssignor != nil || input.memberEpoch == 0 {
            member.serverAssignor = input.serverAssignor
            bumpEpoch = true
        }
        if input.rebalanceTimeoutMs >= 0 { member.rebalanceTimeoutMs = input.rebalanceTimeoutMs }
        if input.instanceId != nil || isNewMember { member.instanceId = input.instanceId }
        if input.rackId != nil || isNewMember { member.rackId = input.rackId }
        member.clientId = input.clientId
        member.clientHost = input.clientHost
        if member.metadataRecordValue != before || isNewMember {
            append(groupId: group.groupId, [.consumerGroupMemberMetadata(groupId: group.groupId, memberId: member.memberId, value: member.metadataRecordValue)])
        }
        // Topics created or grown since the last assignment also need a new one.
        if subscribedPartitionCounts(group) != group.lastPartitionCounts { bumpEpoch = true }
        if bumpEpoch {
            group.groupEpoch = max(group.groupEpoch, group.assignmentEpoch) + 1
            append(groupId: group.groupId, [.consumerGroupMetadata(groupId: group.groupId, epoch: group.groupEpoch)])
        }
        if group.groupEpoch > group.assignmentEpoch { computeTargetAssignment(group) }

        let assignedBefore = member.assigned
        reconcile(group, member, owned: input.topicPartitions)
        scheduleConsumerTimers(group, member, now: now)
        // As in Kafka, the assignment goes out on a full request (join, or every field set after an error) or
        // when the assigned partitions changed.
        let isFullRequest = input.memberEpoch == 0
            || (input.rebalanceTimeoutMs != -1 && input.subscribedTopicNames != nil && input.topicPartitions != nil)
        let changed = isFullRequest || member.assigned != assignedBefore
        return ConsumerGroupHeartbeatResult(
            errorCode: CoordinatorErrorCode.none, memberId: member.memberId, memberEpoch: member.memberEpoch,
            heartbeatIntervalMs: config.consumerGroupHeartbeatIntervalMs,
            assignment: changed ? member.assigned.sortedLists : nil)
    }

    private func subscribedPartitionCounts(_ group: ConsumerGroup) -> [String: Int32] {
        var counts: [String: Int32] = [:]
        for topic in group.subscribedTopics { if let count = partitionCount(topic) { counts[topic] = count } }
        return counts
    }

    /// The assignor most members asked for, else the broker's first configured one.
    private func chooseAssignor(_ group: ConsumerGroup) -> ConsumerGroupAssignor {
        var votes: [String: Int] = [:]
        for member in group.members.values { if let name = member.serverAssignor { votes[name, default: 0] += 1 } }
        let preferred = votes.max { $0.value != $1.value ? $0.value < $1.value : $0.key > $1.key }?.key
        return preferred.flatMap(ConsumerGroupAssignor.init(rawValue:)) ?? config.consumerGroupAssignors.first ?? .uniform
    }

    func computeTargetAssignment(_ group: ConsumerGroup) {
        let counts = subscribedPartitionCounts(group)
        group.lastPartitionCounts = counts
        let members = group.members.mapValues {
            AssignmentMember(subscribedTopics: Set($0.subscribedTopicNames), current: group.targetAssignment[$0.memberId] ?? [:])
        }
        let target = chooseAssignor(group).assign(members: members, partitionCounts: counts)
        var records: [CoordinatorRecord] = []
        for memberId in target.keys.sorted() where target[memberId]!.sortedLists != (group.targetAssignment[memberId] ?? [:]).sortedLists {
            records.append(.consumerGroupTargetAssignmentMember(groupId: group.groupId, memberId: memberId, partitions: target[memberId]!.sortedLists))
        }
        group.targetAssignment = target
        group.assignmentEpoch = group.groupEpoch
        records.append(.consumerGroupTargetAssignmentMetadata(groupId: group.groupId, assignmentEpoch: group.assignmentEpoch))
        append(groupId: group.groupId, records)
    }

    /// Kafka's CurrentAssignmentBuilder: move the member one step towards its target.
    private func reconcile(_ group: ConsumerGroup, _ member: ConsumerMember, owned: TopicPartitions?) {
        let before = member.assignmentRecordValue
        switch member.state {
        case .stable:
            if member.memberEpoch != group.assignmentEpoch { nextAssignment(group, member) }
        case .unrevokedPartitions:
            // Wait until the member's heartbeat shows it no longer owns what it had to give up.
            guard let owned else { break }
            let stillOwned = member.pendingRevocation.contains { topic, partitions in !partitions.isDisjoint(with: owned[topic] ?? []) }
            if !stillOwned {
                member.pendingRevocation = [:]
                nextAssignment(group, member)
            }
        case .unreleasedPartitions:
            nextAssignment(group, member)
        }
        if member.assignmentRecordValue != before {
            append(groupId: group.groupId, [.consumerGroupCurrentMemberAssignment(groupId: group.groupId, memberId: member.memberId, value: member.assignmentRecordValue)])
        }
    }

    private func nextAssignment(_ group: ConsumerGroup, _ member: ConsumerMember) {
        let target = group.targetAssignment[member.memberId] ?? [:]
        var kept: TopicPartitions = [:], revoke: TopicPartitions = [:], add: TopicPartitions = [:]
        for topic in Set(member.assigned.keys).union(target.keys) {
            let current = member.assigned[topic] ?? [], wanted = target[topic] ?? []
            kept[topic] = current.intersection(wanted)
            revoke[topic] = current.subtracting(wanted)
            add[topic] = wanted.subtracting(current)
        }
        kept = kept.filter { !$0.value.isEmpty }
        revoke = revoke.filter { !$0.value.isEmpty }
        if !revoke.isEmpty {
            member.state = .unrevokedPartitions
            member.assigned = kept
            member.pendingRevocation = revoke
            return
        }
        var unreleased = false
        for (topic, partitions) in add {
            for partition in partitions {
                if group.isOwnedByOther(topic, partition, except: member.memberId) {
                    unreleased = true
                } else {
                    kept[topic, default: []].insert(partition)
                }
            }
        }
        if member.memberEpoch != group.assignmentEpoch {
            member.previousMemberEpoch = member.memberEpoch
            member.memberEpoch = group.assignmentEpoch
        }
        member.assigned = kept
        member.pendingRevocation = [:]
        member.state = unreleased ? .unreleasedPartitions : .stable
    }

    private func scheduleConsumerTimers(_ group: ConsumerGroup, _ member: ConsumerMember, now: Int64) {
        member.sessionDeadlineMs = now + Int64(config.consumerGroupSessionTimeoutMs)
        schedule(.consumerSession(groupId: group.groupId, memberId: member.memberId), at: member.sessionDeadlineMs)
        let rebalanceKey = CoordinatorTimerKey.consumerRebalance(groupId: group.groupId, memberId: member.memberId)
        if member.state == .unrevokedPartitions {
            if member.revocationDeadlineMs == nil {
                member.revocationDeadlineMs = now + Int64(member.rebalanceTimeoutMs)
                schedule(rebalanceKey, at: member.revocationDeadlineMs!)
            }
        } else if member.revocationDeadlineMs != nil {
            member.revocationDeadlineMs = nil
            cancel(rebalanceKey)
        }
    }

    func consumerMemberExpired(groupId: String, memberId: String, now: Int64) {
        guard let group = consumerGroups[groupId], let member = group.members[memberId] else { return }
        let sessionOver = now >= member.sessionDeadlineMs
        let revocationOver = member.revocationDeadlineMs.map { now >= $0 } ?? false
        guard sessionOver || revocationOver else { return }
        removeConsumerMember(group, member)
    }

    /// Fences a member: its partitions are released and the group epoch moves so the others rebalance.
    func removeConsumerMember(_ group: ConsumerGroup, _ member: ConsumerMember) {
        group.members[member.memberId] = nil
        group.targetAssignment[member.memberId] = nil
        cancel(.consumerSession(groupId: group.groupId, memberId: member.memberId))
        cancel(.consumerRebalance(groupId: group.groupId, memberId: member.memberId))
        group.groupEpoch = max(group.groupEpoch, group.assignmentEpoch) + 1
        append(groupId: group.groupId, [
            .consumerGroupCurrentMemberAssignment(groupId: group.groupId, memberId: member.memberId, value: nil),
            .consumerGroupTargetAssignmentMember(groupId: group.groupId, memberId: member.memberId, partitions: nil),
            .consumerGroupMemberMetadata(groupId: group.groupId, memberId: member.memberId, value: nil),
            .consumerGroupMetadata(groupId: group.groupId, epoch: group.groupEpoch),
        ])
    }

    public func describeConsumerGroups(_ groupIds: [String], now: Int64) -> [DescribedConsumerGroup] {
        groupIds.map { groupId in
            if let error = coordinatorError(for: groupId) {
                return DescribedConsumerGroup(errorCode: error, groupId: groupId, groupState: "", groupEpoch: -1, assignmentEpoch: -1, assignorName: "", members: [])
            }
            guard let group = consumerGroups[groupId] else {
                return DescribedConsumerGroup(
                    errorCode: CoordinatorErrorCode.groupIdNotFound, errorMessage: "Group \(groupId) not found.", groupId: groupId,
                    groupState: "", groupEpoch: -1, assignmentEpoch: -1, assignorName: "", members: [])
            }
            return DescribedConsumerGroup(
                errorCode: CoordinatorErrorCode.none, groupId: groupId, groupState: group.state.rawValue, groupEpoch: group.groupEpoch,
                assignmentEpoch: group.assignmentEpoch, assignorName: chooseAssignor(group).rawValue,
                members: group.members.keys.sorted().map { id in
                    let m = group.members[id]!
                    return DescribedConsumerGroupMember(
                        memberId: id, instanceId: m.instanceId, rackId: m.rackId, memberEpoch: m.memberEpoch, clientId: m.clientId,
                        clientHost: m.clientHost, subscribedTopicNames: m.subscribedTopicNames, assignment: m.assigned.sortedLists,
                        targetAssignment: (group.targetAssignment[id] ?? [:]).sortedLists)
                })
        }
    }
}
