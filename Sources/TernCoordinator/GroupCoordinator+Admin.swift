/// DescribeGroups (API key 15), ListGroups (API key 16) and DeleteGroups (API key 42) for classic groups.
///
/// - DescribeGroups of an unknown group answers state "Dead" with no error, as Kafka's classic coordinator.
///   Member metadata and assignments are shown only for Stable groups.
/// - ListGroups filters by state names (case-insensitive) and group type ("classic").
/// - DeleteGroups removes Empty groups with their offsets (tombstones); others get NON_EMPTY_GROUP.
extension GroupCoordinator {
    public func describeGroups(_ groupIds: [String], now: Int64) -> [DescribedGroup] {
        groupIds.map { groupId in
            if let error = coordinatorError(for: groupId) {
                return DescribedGroup(errorCode: error, groupId: groupId, groupState: "", protocolType: "", protocolData: "", members: [])
            }
            guard let group = groups[groupId] else {
                return DescribedGroup(
                    errorCode: CoordinatorErrorCode.none, groupId: groupId, groupState: ClassicGroupState.dead.rawValue,
                    protocolType: "", protocolData: "", members: [])
            }
            let stable = group.state == .stable
            return DescribedGroup(
                errorCode: CoordinatorErrorCode.none, groupId: groupId, groupState: group.state.rawValue,
                protocolType: group.protocolType ?? "", protocolData: stable ? (group.protocolName ?? "") : "",
                members: group.memberList.map {
                    DescribedGroupMember(
                        memberId: $0.memberId, groupInstanceId: $0.groupInstanceId, clientId: $0.clientId,
                        clientHost: $0.clientHost, memberMetadata: stable ? $0.metadata(for: group.protocolName) : [],
                        memberAssignment: stable ? $0.assignment : [])
                })
        }
    }

    public func listGroups(_ input: ListGroupsInput, now: Int64) -> ListGroupsResult {
        let errorCode = loadingPartitions.isEmpty ? CoordinatorErrorCode.none : CoordinatorErrorCode.coordinatorLoadInProgress
        let states = Set(input.statesFilter.map { $0.lowercased() })
        let types = Set(input.typesFilter.map { $0.lowercased() })
        var listed = groupIds.compactMap { groupId -> ListedGroup? in
            guard let group = groups[groupId], coordinatorError(for: groupId) == nil else { return nil }
            if !states.isEmpty && !states.contains(group.state.rawValue.lowercased()) { return nil }
            if !types.isEmpty && !types.contains("classic") { return nil }
            return ListedGroup(groupId: groupId, protocolType: group.protocolType ?? "", groupState: group.state.rawValue, groupType: "classic")
        }
        for groupId in consumerGroupIds where coordinatorError(for: groupId) == nil {
            let state = consumerGroups[groupId]!.state.rawValue
            if !states.isEmpty && !states.contains(state.lowercased()) { continue }
            if !types.isEmpty && !types.contains("consumer") { continue }
            listed.append(ListedGroup(groupId: groupId, protocolType: "consumer", groupState: state, groupType: "consumer"))
        }
        listed.sort { $0.groupId < $1.groupId }
        return ListGroupsResult(errorCode: errorCode, groups: listed)
    }

    public func deleteGroups(_ groupIds: [String], now: Int64) -> ([DeleteGroupResult], [CoordinatorAction]) {
        let results = groupIds.map { DeleteGroupResult(groupId: $0, errorCode: deleteGroup($0, now: now)) }
        return (results, drainActions())
    }

    private func deleteGroup(_ groupId: String, now: Int64) -> Int16 {
        if let error = coordinatorError(for: groupId) { return error }
        if let consumerGroup = consumerGroups[groupId] {
            guard consumerGroup.members.isEmpty else { return CoordinatorErrorCode.nonEmptyGroup }
            let records: [CoordinatorRecord] = consumerGroup.offsets.keys.sorted().map {
                .offsetCommit(key: OffsetCommitRecordKey(groupId: groupId, topic: $0.topic, partition: $0.partition), value: nil)
            } + consumerGroupTombstones(groupId)
            consumerGroups[groupId] = nil
            append(groupId: groupId, records)
            return CoordinatorErrorCode.none
        }
        guard let group = groups[groupId], group.state != .dead else { return CoordinatorErrorCode.groupIdNotFound }
        guard group.state == .empty else { return CoordinatorErrorCode.nonEmptyGroup }
        var records: [CoordinatorRecord] = group.offsets.keys.sorted().map {
            .offsetCommit(key: OffsetCommitRecordKey(groupId: groupId, topic: $0.topic, partition: $0.partition), value: nil)
        }
        if group.generationId > 0 { records.append(.groupMetadata(groupId: groupId, value: nil)) }
        for memberId in group.pendingMembers.keys.sorted() { cancel(.memberSession(groupId: groupId, memberId: memberId)) }
        group.offsets.removeAll()
        group.transition(to: .dead, now: now)
        groups[groupId] = nil
        append(groupId: groupId, records)
        return CoordinatorErrorCode.none
    }
}
