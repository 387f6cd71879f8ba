/// JoinGroup (API key 11), versions 0-9.
///
/// - A new dynamic member on v4+ gets MEMBER_ID_REQUIRED with a generated `clientId-UUID` id and must join
///   again with it within its session timeout; older versions are added at once.
/// - A static member (group.instance.id) joining with no member id replaces the old member id: a request still
///   parked for the old id is answered FENCED_INSTANCE_ID. In a Stable group whose selected protocol would not
///   change, it gets the current generation back without a rebalance (the leader with `skipAssignment`).
/// - Any other membership or metadata change moves the group to PreparingRebalance; join responses go out when
///   every known member has rejoined or the rebalance timeout passes (members that did not rejoin are removed).
///   The first rebalance of an empty group waits `group.initial.rebalance.delay.ms`, extended while new members
///   keep arriving, up to the rebalance timeout.
extension GroupCoordinator {
    public func joinGroup(_ input: JoinGroupInput, requestId: UInt64, now: Int64) -> (JoinGroupResult?, [CoordinatorAction]) {
        let result = join(input, requestId: requestId, now: now)
        return (result, drainActions())
    }

    private func join(_ input: JoinGroupInput, requestId: UInt64, now: Int64) -> JoinGroupResult? {
        if let error = coordinatorError(for: input.groupId) { return .error(error, memberId: input.memberId) }
        if input.groupId.isEmpty { return .error(CoordinatorErrorCode.invalidGroupId, memberId: input.memberId) }
        // Classic members cannot join a KIP-848 consumer group here.
        if consumerGroups[input.groupId] != nil { return .error(CoordinatorErrorCode.inconsistentGroupProtocol, memberId: input.memberId) }
        if input.sessionTimeoutMs < config.groupMinSessionTimeoutMs || input.sessionTimeoutMs > config.groupMaxSessionTimeoutMs {
            return .error(CoordinatorErrorCode.invalidSessionTimeout, memberId: input.memberId)
        }
        let isNewMember = input.memberId.isEmpty
        let group: ClassicGroup
        if let existing = groups[input.groupId] {
            group = existing
        } else if isNewMember {
            group = ClassicGroup(groupId: input.groupId)
            group.transition(to: .empty, now: now)
        } else {
            return .error(CoordinatorErrorCode.unknownMemberId, memberId: input.memberId)
        }
        if group.state == .dead { return .error(CoordinatorErrorCode.coordinatorNotAvailable, memberId: input.memberId) }
        if !acceptsJoiningMember(group, memberId: input.memberId) {
            return .error(CoordinatorErrorCode.groupMaxSizeReached, memberId: input.memberId)
        }
        if !group.supports(protocolType: input.protocolType, protocols: input.protocols) {
            return .error(CoordinatorErrorCode.inconsistentGroupProtocol, memberId: input.memberId)
        }
        groups[input.groupId] = group
        if isNewMember {
            return newMemberJoin(group, input, requestId: requestId, now: now)
        }
        return knownMemberJoin(group, input, requestId: requestId, now: now)
    }

    /// Kafka's acceptJoiningMember: while preparing, count members already waiting (so a shrunk limit can
    /// push out the last to rejoin); otherwise count members.
    private func acceptsJoiningMember(_ group: ClassicGroup, memberId: String) -> Bool {
        switch group.state {
        case .empty, .dead:
            return true
        case .preparingRebalance:
            if let member = group.members[memberId], member.awaitingJoin != nil { return true }
            return group.memberList.filter { $0.awaitingJoin != nil }.count < config.groupMaxSize
        case .completingRebalance, .stable:
            return group.members[memberId] != nil || group.members.count < config.groupMaxSize
        }
    }

    private func newMemberJoin(_ group: ClassicGroup, _ input: JoinGroupInput, requestId: UInt64, now: Int64) -> JoinGroupResult? {
        let memberId = newMemberId(prefix: input.groupInstanceId ?? input.clientId)
        if let instanceId = input.groupInstanceId {
            return staticMemberJoin(group, input, instanceId: instanceId, newMemberId: memberId, requestId: requestId, now: now)
        }
        if input.requireKnownMemberId {
            // The member is remembered only until its session timeout; it must rejoin with this id.
            let deadline = now + Int64(input.sessionTimeoutMs)
            group.pendingMembers[memberId] = deadline
            schedule(.memberSession(groupId: group.groupId, memberId: memberId), at: deadline)
            return .error(CoordinatorErrorCode.memberIdRequired, memberId: memberId)
        }
        addMemberAndRebalance(group, memberId: memberId, input, requestId: requestId, now: now)
        return nil
    }

    private func staticMemberJoin(
        _ group: ClassicGroup, _ input: JoinGroupInput, instanceId: String, newMemberId: String, requestId: UInt64, now: Int64
    ) -> JoinGroupResult? {
        guard let oldMemberId = group.staticMembers[instanceId], let old = group.members[oldMemberId] else {
            addMemberAndRebalance(group, memberId: newMemberId, input, requestId: requestId, now: now)
            return nil
        }
        // The old instance is fenced: whatever it has parked is answered now.
        if let parked = old.awaitingJoin {
            emit(.completeJoin(requestId: parked, .error(CoordinatorErrorCode.fencedInstanceId, memberId: oldMemberId)))
        }
        if let parked = old.awaitingSync {
            emit(.completeSync(requestId: parked, SyncGroupResult(errorCode: CoordinatorErrorCode.fencedInstanceId)))
        }
        cancel(.memberSession(groupId: group.groupId, memberId: oldMemberId))
        let member = makeMember(memberId: newMemberId, input)
        group.replaceStaticMember(instanceId: instanceId, oldMemberId: oldMemberId, with: member)
        scheduleSession(member, in: group, now: now)

        switch group.state {
        case .stable where group.protocolName == group.selectProtocol():
            // Same protocol next generation: persist the new member id and hand back the current generation.
            storeGroup(group)
            let isLeader = group.leaderId == newMemberId
            return JoinGroupResult(
                errorCode: CoordinatorErrorCode.none, generationId: group.generationId, protocolType: group.protocolType,
                protocolName: group.protocolName, leader: group.leaderId ?? "", skipAssignment: isLeader,
                memberId: newMemberId, members: isLeader ? group.currentMemberMetadata() : [])
        case .stable, .completingRebalance:
            // In CompletingRebalance the leader may already have assigned to the old id: rebalance again.
            member.awaitingJoin = requestId
            prepareRebalance(group, now: now)
        case .preparingRebalance:
            member.awaitingJoin = requestId
            checkJoinCompletion(group, now: now)
        case .empty, .dead:
            // Static members only exist in non-empty groups.
            return .error(CoordinatorErrorCode.unknownMemberId, memberId: newMemberId)
        }
        return nil
    }

    private func knownMemberJoin(_ group: ClassicGroup, _ input: JoinGroupInput, requestId: UInt64, now: Int64) -> JoinGroupResult? {
        if group.pendingMembers[input.memberId] != nil {
            cancel(.memberSession(groupId: group.groupId, memberId: input.memberId))
            addMemberAndRebalance(group, memberId: input.memberId, input, requestId: requestId, now: now)
            return nil
        }
        if let error = validateMember(group, memberId: input.memberId, groupInstanceId: input.groupInstanceId) {
            return .error(error, memberId: input.memberId)
        }
        let member = group.members[input.memberId]!
        switch group.state {
        case .preparingRebalance:
            updateMemberAndRebalance(group, member, input, requestId: requestId, now: now)
        case .completingRebalance:
            // A repeated JoinGroup with the same metadata gets this generation's answer again.
            if member.matches(input.protocols) { return currentGenerationResult(group, member) }
            updateMemberAndRebalance(group, member, input, requestId: requestId, now: now)
        case .stable:
            // The leader rejoining always rebalances (it may know of new topics); followers only on change.
            if member.memberId == group.leaderId || !member.matches(input.protocols) {
                updateMemberAndRebalance(group, member, input, requestId: requestId, now: now)
            } else {
                return currentGenerationResult(group, member)
            }
        case .empty, .dead:
            return .error(CoordinatorErrorCode.unknownMemberId, memberId: input.memberId)
        }
        return nil
    }

    private func currentGenerationResult(_ group: ClassicGroup, _ member: ClassicMember) -> JoinGroupResult {
        let isLeader = member.memberId == group.leaderId
        return JoinGroupResult(
            errorCode: CoordinatorErrorCode.none, generationId: group.generationId, protocolType: group.protocolType,
            protocolName: group.protocolName, leader: group.leaderId ?? "", memberId: member.memberId,
            members: isLeader ? group.currentMemberMetadata() : [])
    }

    private func makeMember(memberId: String, _ input: JoinGroupInput) -> ClassicMember {
        ClassicMember(
            memberId: memberId, groupInstanceId: input.groupInstanceId, clientId: input.clientId,
            clientHost: input.clientHost, rebalanceTimeoutMs: input.rebalanceTimeoutMs,
            sessionTimeoutMs: input.sessionTimeoutMs, protocolType: input.protocolType, protocols: input.protocols)
    }

    private func addMemberAndRebalance(_ group: ClassicGroup, memberId: String, _ input: JoinGroupInput, requestId: UInt64, now: Int64) {
        let member = makeMember(memberId: memberId, input)
        member.isNew = true
        member.awaitingJoin = requestId
        group.add(member)
        if group.state == .preparingRebalance && group.generationId == 0 { group.newMemberAdded = true }
        // A new member cannot heartbeat while its JoinGroup is parked; bound how long it may stay parked.
        member.sessionDeadlineMs = now + config.newMemberJoinTimeoutMs
        schedule(.memberSession(groupId: group.groupId, memberId: memberId), at: member.sessionDeadlineMs)
        maybePrepareRebalance(group, now: now)
        checkJoinCompletion(group, now: now)
    }

    private func updateMemberAndRebalance(_ group: ClassicGroup, _ member: ClassicMember, _ input: JoinGroupInput, requestId: UInt64, now: Int64) {
        member.protocols = input.protocols
        member.rebalanceTimeoutMs = input.rebalanceTimeoutMs
        member.sessionTimeoutMs = input.sessionTimeoutMs
        member.clientId = input.clientId
        member.clientHost = input.clientHost
        if let superseded = member.awaitingJoin, superseded != requestId {
            // The client gave up on its earlier JoinGroup; answer it so the broker does not hold it forever.
            emit(.completeJoin(requestId: superseded, .error(CoordinatorErrorCode.rebalanceInProgress, memberId: member.memberId)))
        }
        member.awaitingJoin = requestId
        maybePrepareRebalance(group, now: now)
        checkJoinCompletion(group, now: now)
    }
}
