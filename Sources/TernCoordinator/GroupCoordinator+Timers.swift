/// Timer expiry. The driver calls `timerExpired` at (or after) the deadline it was given; a timer whose
/// deadline has since moved (a heartbeat arrived) is re-armed rather than acted on, so a late or stale
/// firing is harmless.
extension GroupCoordinator {
    public func timerExpired(_ key: CoordinatorTimerKey, now: Int64) -> [CoordinatorAction] {
        switch key {
        case .memberSession(let groupId, let memberId):
            if let group = groups[groupId] { sessionExpired(group, memberId: memberId, now: now) }
        case .rebalance(let groupId):
            if let group = groups[groupId] { rebalanceTimerExpired(group, now: now) }
        case .pendingSync(let groupId):
            if let group = groups[groupId] { pendingSyncExpired(group, now: now) }
        case .consumerSession(let groupId, let memberId), .consumerRebalance(let groupId, let memberId):
            consumerMemberExpired(groupId: groupId, memberId: memberId, now: now)
        case .offsetsRetention:
            expireOffsets(now: now)
            schedule(.offsetsRetention, at: now + config.offsetsRetentionCheckIntervalMs)
        }
        return drainActions()
    }

    /// The first offsets retention check; the broker calls this once at startup.
    public func start(now: Int64) -> [CoordinatorAction] {
        schedule(.offsetsRetention, at: now + config.offsetsRetentionCheckIntervalMs)
        return drainActions()
    }

    private func sessionExpired(_ group: ClassicGroup, memberId: String, now: Int64) {
        if let deadline = group.pendingMembers[memberId] {
            if now >= deadline { removePendingMember(group, memberId: memberId, now: now) }
            return
        }
        guard let member = group.members[memberId] else { return }
        if now < member.sessionDeadlineMs {
            schedule(.memberSession(groupId: group.groupId, memberId: memberId), at: member.sessionDeadlineMs)
            return
        }
        // Kafka keeps alive a member whose JoinGroup or SyncGroup is parked: its socket is muted, so it cannot
        // heartbeat. A new member's first join is bounded by the new-member join timeout instead.
        let parkedInJoin = member.awaitingJoin != nil && !member.isNew
        if parkedInJoin || member.awaitingSync != nil {
            scheduleSession(member, in: group, now: now)
            return
        }
        removeMemberAndUpdateGroup(group, member, now: now)
    }

    /// Members that got a JoinGroup response but never sent SyncGroup are removed and the group rebalances.
    private func pendingSyncExpired(_ group: ClassicGroup, now: Int64) {
        guard group.state == .completingRebalance || group.state == .stable, !group.pendingSyncMembers.isEmpty else { return }
        for memberId in group.memberList.map(\.memberId) where group.pendingSyncMembers.contains(memberId) {
            cancel(.memberSession(groupId: group.groupId, memberId: memberId))
            group.remove(memberId)
        }
        prepareRebalance(group, now: now)
    }
}
