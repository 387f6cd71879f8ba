import FoundationEssentials
import KafkaProtocol
import NIOCore
import TernStorage

/// What the leader knows about one follower.
struct FollowerState {
    /// The follower's log end offset: the offset of its last fetch.
    var logEndOffset: Int64
    /// Last time the follower had fetched up to the leader's log end offset (Kafka's lastCaughtUpTimeMs).
    var lastCaughtUpMs: Int64
    /// The follower's log start offset as its fetches report it (-1 unknown).
    var logStartOffset: Int64 = -1
    /// The high watermark last sent to the follower: a parked follower fetch is answered when it moves, so
    /// followers serving consumers (KIP-392) learn new high watermarks without waiting out the long poll.
    var sentHighWatermark: Int64 = -1
}

/// Replication state of a partition in a cluster.
///
/// Leader: the high watermark is the minimum log end offset over the ISR (the leader's own included), so a
/// record is committed, and readable by consumers, once every in-sync replica has it; followers report their log
/// end offset as the offset of each fetch. A follower that has not caught up for `replica.lag.time.max.ms` drops
/// out of the ISR; one that reaches the high watermark comes back (both written to ZooKeeper by the broker,
/// conditionally on the state znode's version).
/// Follower: appends the leader's batches as they are (offsets and epochs kept) and takes the leader's high
/// watermark, capped at its own log end.
extension Partition {
    /// Applies a role decided by the controller (or a leader's own ISR change).
    /// A replica that becomes a follower (or sees a new leader epoch) first truncates its log where it diverges
    /// from the new leader's (KIP-101: OffsetForLeaderEpoch, done by the replica fetcher), then fetches.
    public func setRole(leader: Int32, leaderEpoch: Int32, isr: [Int32] = [], zkVersion: Int32 = 0, localBrokerId: Int32) {
        lock.withLock {
            let wasLeader = _isLeader && _clustered
            let becomesLeader = leader == localBrokerId
            let newEpoch = leaderEpoch != _leaderEpoch || !_clustered
            _clustered = true
            _localBrokerId = localBrokerId
            _leader = leader
            _isLeader = becomesLeader
            _leaderEpoch = leaderEpoch
            _isr = isr
            _isrZkVersion = zkVersion
            if becomesLeader && (newEpoch || !wasLeader) {
                // Followers start unknown: the high watermark waits for their first fetch.
                let now = Int64(Date().timeIntervalSince1970 * 1000)
                _followers = [:]
                for r in isr where r != localBrokerId { _followers[r] = FollowerState(logEndOffset: -1, lastCaughtUpMs: now) }
                _leaderEpochStartOffset = log.logEndOffset
            }
            if !becomesLeader && (wasLeader || newEpoch) {
                _followers = [:]
                _needsTruncation = true
            }
            advanceHighWatermarkLocked()
        }
    }

    public var inSyncReplicas: [Int32] { lock.withLock { _clustered ? _isr : [] } }
    /// The ISR size `min.insync.replicas` is compared with (1 on a broker alone).
    public var inSyncReplicaCount: Int { lock.withLock { _clustered ? _isr.count : 1 } }
    var isrZkVersion: Int32 { lock.withLock { _isrZkVersion } }

    /// Leader side of a follower fetch: records the follower's position; true when the high watermark moved or the
    /// follower's log start offset did (DeleteRecords waits on the low watermark).
    @discardableResult
    public func recordFollowerFetch(replicaId: Int32, fetchOffset: Int64, logStartOffset: Int64 = -1, nowMs: Int64) -> Bool {
        lock.withLock {
            guard _isLeader, _clustered else { return false }
            var f = _followers[replicaId] ?? FollowerState(logEndOffset: -1, lastCaughtUpMs: 0)
            f.logEndOffset = fetchOffset
            let logStartMoved = f.logStartOffset != logStartOffset
            f.logStartOffset = logStartOffset
            if fetchOffset >= log.logEndOffset { f.lastCaughtUpMs = nowMs }
            _followers[replicaId] = f
            let before = log.highWatermark
            advanceHighWatermarkLocked()
            return log.highWatermark != before || logStartMoved
        }
    }

    /// Leader side, answering a follower: the high watermark to send and whether the follower has not been told
    /// it yet (then a parked fetch answers at once instead of at the end of its long poll).
    func highWatermarkForFollower(_ replicaId: Int32) -> (highWatermark: Int64, isNews: Bool) {
        lock.withLock {
            let hw = log.highWatermark
            guard _isLeader, _clustered, var f = _followers[replicaId] else { return (hw, false) }
            let news = hw > f.sentHighWatermark
            f.sentHighWatermark = hw
            _followers[replicaId] = f
            return (hw, news)
        }
    }

    /// Leader: Kafka's `lowWatermarkIfLeader`, the smallest log start offset over this replica and the followers
    /// on live brokers (-1 while one has not reported it yet). DeleteRecords completes once it reaches the offset.
    func lowWatermark(isAlive: (Int32) -> Bool) -> Int64 {
        lock.withLock {
            var low = log.logStartOffset
            guard _isLeader, _clustered else { return low }
            for (id, f) in _followers where id != _localBrokerId && isAlive(id) && f.logStartOffset < low {
                low = f.logStartOffset
            }
            return low
        }
    }

    /// Leader side of fetch from follower (KIP-392): the followers a consumer fetching at `fetchOffset` may be sent
    /// to — in the ISR, holding the offset — with Kafka's `ReplicaView` facts. Racks are filled in by the caller.
    func readReplicaCandidates(fetchOffset: Int64, nowMs: Int64) -> [ReplicaView] {
        lock.withLock {
            guard _isLeader, _clustered else { return [] }
            return _isr.compactMap { r -> ReplicaView? in
                guard r != _localBrokerId, let f = _followers[r], f.logEndOffset >= fetchOffset,
                      f.logStartOffset <= fetchOffset else { return nil }
                return ReplicaView(brokerId: r, rack: nil, logEndOffset: f.logEndOffset, timeSinceLastCaughtUpMs: nowMs - f.lastCaughtUpMs)
            }
        }
    }

    /// Must hold `lock`. Alone: the log end. Cluster leader: the ISR minimum. Follower: unchanged here.
    func advanceHighWatermarkLocked() {
        guard _clustered else {
            _ = log.updateHighWatermark(log.logEndOffset)
            return
        }
        guard _isLeader else { return }
        var hw = log.logEndOffset
        for r in _isr where r != _localBrokerId {
            hw = min(hw, max(_followers[r]?.logEndOffset ?? -1, 0))
        }
        // Never moves back (a follower that re-joins behind cannot un-commit records).
        if hw > log.highWatermark { _ = log.updateHighWatermark(hw) }
    }

    /// The ISR the leader wants now: laggards out (not caught up for `lagMaxMs`) and replicas reassigned away,
    /// followers of `replicas` at or past the high watermark back in. nil when it equals `committed` (the ISR in
    /// ZooKeeper; the local one by default).
    /// A follower being added counts for the high watermark at once, before the write is confirmed (Kafka's
    /// "maximal ISR"): otherwise records acknowledged meanwhile with the smaller ISR could be missing on a
    /// replica the controller already sees in the ISR, and may make leader (a reassignment completes right then).
    /// `joinable` (default: `replicas`) limits who may join: a reassignment's removed replicas stay in the ISR
    /// while they are there but never rejoin it (the controller is taking them out).
    func proposedIsr(
        nowMs: Int64, lagMaxMs: Int64, replicas: [Int32], joinable: [Int32]? = nil, committed: [Int32]? = nil
    ) -> [Int32]? {
        lock.withLock {
            guard _isLeader, _clustered else { return nil }
            let hw = log.highWatermark
            var next = _isr.filter { r in
                r == _localBrokerId || (replicas.contains(r) && nowMs - (_followers[r]?.lastCaughtUpMs ?? 0) <= lagMaxMs)
            }
            for r in joinable ?? replicas where !next.contains(r) && r != _localBrokerId && replicas.contains(r) {
                if let f = _followers[r], f.logEndOffset >= hw, nowMs - f.lastCaughtUpMs <= lagMaxMs { next.append(r) }
            }
            if !next.contains(_localBrokerId) { next.insert(_localBrokerId, at: 0) }
            let before = _isr
            // An expansion counts at once; a shrink waits for the confirmed ISR.
            _isr += next.filter { !before.contains($0) }
            return Set(next) == Set(committed ?? before) ? nil : next
        }
    }

    /// Follower: whether the log must be reconciled with the leader's before fetching, and from which epoch.
    var truncationRequest: (currentLeaderEpoch: Int32, latestEpoch: Int32)? {
        lock.withLock {
            guard _needsTruncation, !_isLeader else { return nil }
            guard let latest = log.latestEpoch else {
                _needsTruncation = false  // empty log: nothing can diverge
                return nil
            }
            return (_leaderEpoch, latest)
        }
    }

    /// Follower: the leader's end offset for our latest epoch; everything from there on is not on the leader.
    /// `endOffset` < 0 (the leader knows no epoch that old) falls back to the high watermark.
    func truncateForLeader(endOffset: Int64, expectedLeaderEpoch: Int32) throws {
        try lock.withLock {
            guard _needsTruncation, !_isLeader, _leaderEpoch == expectedLeaderEpoch else { return }
            let target = endOffset >= 0 ? min(endOffset, log.logEndOffset) : log.highWatermark
            if target < log.logEndOffset { try log.truncate(to: target) }
            _needsTruncation = false
        }
    }

    /// Follower append: the leader's batches with their offsets and epochs; producer state follows along so
    /// that this replica can lead with the right sequence numbers. The high watermark is the leader's, capped.
    /// Transaction state follows too, so that a follower serving read_committed consumers (KIP-392) stops at its
    /// own last stable offset. The leader's log start offset moves this replica's up (DeleteRecords, retention on
    /// the leader), as Kafka's followers do.
    public func appendAsFollower(_ records: ByteBuffer, leaderHighWatermark: Int64, leaderLogStartOffset: Int64 = -1) throws {
        try lock.withLock {
            guard !_isLeader else { return }
            if records.readableBytes > 0 {
                _ = try log.append(batches: records, leaderEpoch: _leaderEpoch, assignOffsets: false)
                producers.replay(batchesIn: records)
                transactions.replay(batchesIn: records)
            }
            _ = log.updateHighWatermark(min(leaderHighWatermark, log.logEndOffset))
            if leaderLogStartOffset > log.logStartOffset {
                _ = try log.deleteRecordsBefore(min(leaderLogStartOffset, log.highWatermark))
            }
        }
    }
}
