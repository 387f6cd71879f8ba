/// The rebalance machinery shared by the group APIs and the timers: entering PreparingRebalance, completing
/// the join phase, and removing members (leave, session expiry, missed sync).
extension GroupCoordinator {
    func maybePrepareRebalance(_ group: ClassicGroup, now: Int64) {
        if group.canRebalance() { prepareRebalance(group, now: now) }
    }

    func prepareRebalance(_ group: ClassicGroup, now: Int64) {
        if group.state == .completingRebalance {
            // Assignments of the generation being abandoned are void; followers parked in SyncGroup must rejoin.
            resetAndPropagateAssignmentError(group, CoordinatorErrorCode.rebalanceInProgress)
        }
        if !group.pendingSyncMembers.isEmpty {
            group.pendingSyncMembers.removeAll()
            cancel(.pendingSync(groupId: group.groupId))
        }
        let wasEmpty = group.state == .empty
        group.transition(to: .preparingRebalance, now: now)
        if wasEmpty {
            // InitialDelayedJoin: give other members of a starting application time to arrive.
            let delay = Int64(config.groupInitialRebalanceDelayMs)
            group.newMemberAdded = false
            group.initialRebalanceRemainingMs = max(group.rebalanceTimeoutMs - delay, 0)
            schedule(.rebalance(groupId: group.groupId), at: now + delay)
        } else {
            group.initialRebalanceRemainingMs = nil
            schedule(.rebalance(groupId: group.groupId), at: now + group.rebalanceTimeoutMs)
            checkJoinCompletion(group, now: now)
        }
    }

    func resetAndPropagateAssignmentError(_ group: ClassicGroup, _ errorCode: Int16) {
        for member in group.memberList {
            member.assignment = []
            if let parked = member.awaitingSync {
                member.awaitingSync = nil
                emit(.completeSync(requestId: parked, SyncGroupResult(errorCode: errorCode)))
            }
        }
    }

    /// Kafka's DelayedJoin.tryComplete: the join phase ends early once every known member has rejoined.
    /// The initial delay never ends early; that is its point.
    func checkJoinCompletion(_ group: ClassicGroup, now: Int64) {
        guard group.state == .preparingRebalance, group.initialRebalanceRemainingMs == nil, group.allMembersJoined else { return }
        completeJoin(group, now: now)
    }

    func rebalanceTimerExpired(_ group: ClassicGroup, now: Int64) {
        guard group.state == .preparingRebalance else { return }
        if let remaining = group.initialRebalanceRemainingMs, group.newMemberAdded, remaining > 0 {
            // Someone joined during the delay: wait one more step, never past the rebalance timeout.
            group.newMemberAdded = false
            let delay = min(Int64(config.groupInitialRebalanceDelayMs), remaining)
            group.initialRebalanceRemainingMs = remaining - delay
            schedule(.rebalance(groupId: group.groupId), at: now + delay)
            return
        }
        completeJoin(group, now: now)
    }

    /// Kafka's onCompleteJoin: drop dynamic members that did not rejoin, start the next generation and answer
    /// every parked JoinGroup (the leader gets the members' metadata).
    func completeJoin(_ group: ClassicGroup, now: Int64) {
        cancel(.rebalance(groupId: group.groupId))
        group.initialRebalanceRemainingMs = nil
        for member in group.memberList where member.awaitingJoin == nil && member.groupInstanceId == nil {
            cancel(.memberSession(groupId: group.groupId, memberId: member.memberId))
            group.remove(member.memberId)
        }
        if !group.isEmpty && !electJoinedLeader(group) {
            // Only static members that have not rejoined are left: wait for them or their sessions to end.
            schedule(.rebalance(groupId: group.groupId), at: now + group.rebalanceTimeoutMs)
            return
        }
        group.generationId += 1
        if group.isEmpty {
            group.protocolName = nil
            group.leaderId = nil
            group.transition(to: .empty, now: now)
            storeGroup(group)
            return
        }
        group.protocolName = group.selectProtocol()
        group.transition(to: .completingRebalance, now: now)
        for member in group.memberList {
            let isLeader = member.memberId == group.leaderId
            if let parked = member.awaitingJoin {
                member.awaitingJoin = nil
                emit(.completeJoin(requestId: parked, JoinGroupResult(
                    errorCode: CoordinatorErrorCode.none, generationId: group.generationId,
                    protocolType: group.protocolType, protocolName: group.protocolName, leader: group.leaderId ?? "",
                    memberId: member.memberId, members: isLeader ? group.currentMemberMetadata() : [])))
            }
            member.isNew = false
            scheduleSession(member, in: group, now: now)
            group.pendingSyncMembers.insert(member.memberId)
        }
        schedule(.pendingSync(groupId: group.groupId), at: now + group.rebalanceTimeoutMs)
    }

    /// Keeps the leader if it rejoined, else picks the first member that did. False when nobody rejoined.
    private func electJoinedLeader(_ group: ClassicGroup) -> Bool {
        if let leader = group.leaderId, group.members[leader]?.awaitingJoin != nil { return true }
        guard let joined = group.memberList.first(where: { $0.awaitingJoin != nil }) else { return false }
        group.leaderId = joined.memberId
        return true
    }

    /// Removes a member and lets the group react: a rebalance, or an earlier end of the join phase.
    func removeMemberAndUpdateGroup(_ group: ClassicGroup, _ member: ClassicMember, now: Int64) {
        if let parked = member.awaitingJoin {
            member.awaitingJoin = nil
            emit(.completeJoin(requestId: parked, .error(CoordinatorErrorCode.unknownMemberId, memberId: member.memberId)))
        }
        if let parked = member.awaitingSync {
            member.awaitingSync = nil
            emit(.completeSync(requestId: parked, SyncGroupResult(errorCode: CoordinatorErrorCode.unknownMemberId)))
        }
        cancel(.memberSession(groupId: group.groupId, memberId: member.memberId))
        group.remove(member.memberId)
        switch group.state {
        case .dead, .empty: break
        case .stable, .completingRebalance: prepareRebalance(group, now: now)
        case .preparingRebalance: checkJoinCompletion(group, now: now)
        }
    }

    func removePendingMember(_ group: ClassicGroup, memberId: String, now: Int64) {
        group.pendingMembers[memberId] = nil
        cancel(.memberSession(groupId: group.groupId, memberId: memberId))
        checkJoinCompletion(group, now: now)
    }
}
