/// SyncGroup (API key 14, v0-5), Heartbeat (API key 12, v0-4) and LeaveGroup (API key 13, v0-5).
///
/// - SyncGroup: followers park until the leader's SyncGroup arrives with the assignment; it is persisted with
///   the group's metadata, the group becomes Stable and everyone parked gets its own assignment. In Stable a
///   SyncGroup answers at once. v5 protocol type/name must match the group's (INCONSISTENT_GROUP_PROTOCOL).
/// - Heartbeat: REBALANCE_IN_PROGRESS during PreparingRebalance tells members to rejoin.
/// - LeaveGroup v3+ removes a batch of members, each by member id or by group.instance.id; one unknown member
///   does not fail the others.
extension GroupCoordinator {
    public func syncGroup(_ input: SyncGroupInput, requestId: UInt64, now: Int64) -> (SyncGroupResult?, [CoordinatorAction]) {
        let result = sync(input, requestId: requestId, now: now)
        return (result, drainActions())
    }

    private func sync(_ input: SyncGroupInput, requestId: UInt64, now: Int64) -> SyncGroupResult? {
        func fail(_ code: Int16) -> SyncGroupResult { SyncGroupResult(errorCode: code) }
        if let error = coordinatorError(for: input.groupId) { return fail(error) }
        guard let group = groups[input.groupId] else { return fail(CoordinatorErrorCode.unknownMemberId) }
        if group.state == .dead { return fail(CoordinatorErrorCode.coordinatorNotAvailable) }
        if let type = input.protocolType, type != group.protocolType { return fail(CoordinatorErrorCode.inconsistentGroupProtocol) }
        if let name = input.protocolName, name != group.protocolName { return fail(CoordinatorErrorCode.inconsistentGroupProtocol) }
        if let error = validateMember(group, memberId: input.memberId, groupInstanceId: input.groupInstanceId) { return fail(error) }
        if input.generationId != group.generationId { return fail(CoordinatorErrorCode.illegalGeneration) }
        let member = group.members[input.memberId]!

        switch group.state {
        case .empty, .dead:
            return fail(CoordinatorErrorCode.unknownMemberId)
        case .preparingRebalance:
            return fail(CoordinatorErrorCode.rebalanceInProgress)
        case .completingRebalance:
            if let superseded = member.awaitingSync, superseded != requestId {
                emit(.completeSync(requestId: superseded, fail(CoordinatorErrorCode.rebalanceInProgress)))
            }
            member.awaitingSync = requestId
            markSynced(group, member, now: now)
            if member.memberId == group.leaderId {
                var assigned: [String: [UInt8]] = [:]
                for entry in input.assignments { assigned[entry.memberId] = entry.assignment }
                // Members the leader left out get an empty assignment, as in Kafka.
                for each in group.memberList { each.assignment = assigned[each.memberId] ?? [] }
                group.transition(to: .stable, now: now)
                storeGroup(group)
                for each in group.memberList {
                    guard let parked = each.awaitingSync else { continue }
                    each.awaitingSync = nil
                    emit(.completeSync(requestId: parked, SyncGroupResult(
                        errorCode: CoordinatorErrorCode.none, protocolType: group.protocolType,
                        protocolName: group.protocolName, assignment: each.assignment)))
                }
            }
            return nil
        case .stable:
            markSynced(group, member, now: now)
            return SyncGroupResult(
                errorCode: CoordinatorErrorCode.none, protocolType: group.protocolType,
                protocolName: group.protocolName, assignment: member.assignment)
        }
    }

    private func markSynced(_ group: ClassicGroup, _ member: ClassicMember, now: Int64) {
        scheduleSession(member, in: group, now: now)
        if group.pendingSyncMembers.remove(member.memberId) != nil, group.pendingSyncMembers.isEmpty {
            cancel(.pendingSync(groupId: group.groupId))
        }
    }

    public func heartbeat(_ input: HeartbeatInput, now: Int64) -> (HeartbeatResult, [CoordinatorAction]) {
        let code = beat(input, now: now)
        return (HeartbeatResult(errorCode: code), drainActions())
    }

    private func beat(_ input: HeartbeatInput, now: Int64) -> Int16 {
        if let error = coordinatorError(for: input.groupId) { return error }
        guard let group = groups[input.groupId] else { return CoordinatorErrorCode.unknownMemberId }
        if group.state == .dead { return CoordinatorErrorCode.coordinatorNotAvailable }
        if let error = validateMember(group, memberId: input.memberId, groupInstanceId: input.groupInstanceId) { return error }
        if input.generationId != group.generationId { return CoordinatorErrorCode.illegalGeneration }
        let member = group.members[input.memberId]!
        switch group.state {
        case .empty, .dead:
            return CoordinatorErrorCode.unknownMemberId
        case .preparingRebalance:
            scheduleSession(member, in: group, now: now)
            return CoordinatorErrorCode.rebalanceInProgress
        case .completingRebalance, .stable:
            // Clients may heartbeat between their JoinGroup response and SyncGroup; that keeps them alive.
            scheduleSession(member, in: group, now: now)
            return CoordinatorErrorCode.none
        }
    }

    public func leaveGroup(_ input: LeaveGroupInput, now: Int64) -> (LeaveGroupResult, [CoordinatorAction]) {
        let result = leave(input, now: now)
        return (result, drainActions())
    }

    private func leave(_ input: LeaveGroupInput, now: Int64) -> LeaveGroupResult {
        if let error = coordinatorError(for: input.groupId) { return LeaveGroupResult(errorCode: error) }
        guard let group = groups[input.groupId] else {
            return LeaveGroupResult(errorCode: CoordinatorErrorCode.none, members: input.members.map {
                LeaveGroupMemberResult(memberId: $0.memberId, groupInstanceId: $0.groupInstanceId, errorCode: CoordinatorErrorCode.unknownMemberId)
            })
        }
        if group.state == .dead { return LeaveGroupResult(errorCode: CoordinatorErrorCode.coordinatorNotAvailable) }
        var results: [LeaveGroupMemberResult] = []
        for identity in input.members {
            let code = leaveOne(group, identity, now: now)
            results.append(LeaveGroupMemberResult(memberId: identity.memberId, groupInstanceId: identity.groupInstanceId, errorCode: code))
        }
        return LeaveGroupResult(errorCode: CoordinatorErrorCode.none, members: results)
    }

    private func leaveOne(_ group: ClassicGroup, _ identity: LeaveGroupMember, now: Int64) -> Int16 {
        if identity.memberId.isEmpty {
            guard let instance = identity.groupInstanceId, let memberId = group.staticMembers[instance],
                  let member = group.members[memberId] else { return CoordinatorErrorCode.unknownMemberId }
            removeMemberAndUpdateGroup(group, member, now: now)
            return CoordinatorErrorCode.none
        }
        if group.pendingMembers[identity.memberId] != nil {
            removePendingMember(group, memberId: identity.memberId, now: now)
            return CoordinatorErrorCode.none
        }
        if let error = validateMember(group, memberId: identity.memberId, groupInstanceId: identity.groupInstanceId) { return error }
        removeMemberAndUpdateGroup(group, group.members[identity.memberId]!, now: now)
        return CoordinatorErrorCode.none
    }
}
