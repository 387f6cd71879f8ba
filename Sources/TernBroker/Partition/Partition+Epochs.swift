import KafkaProtocol

/// Leader-epoch fencing of client requests (KIP-320), as Kafka's `Partition.getLocalLog` does it.
///
/// A request that names the partition's current leader epoch (Fetch v9+, ListOffsets v4+, OffsetForLeaderEpoch
/// v2+) is checked against this replica's epoch before anything else: older answers FENCED_LEADER_EPOCH (the
/// client's metadata is stale: refresh it), newer UNKNOWN_LEADER_EPOCH (this broker has not heard of the new epoch
/// yet: retry), -1 skips the check. Then a request that only the leader may serve answers NOT_LEADER_OR_FOLLOWER on
/// any other replica. The epoch check comes first, so a follower that knows the current epoch still fences a stale
/// client, as Kafka's does.
extension Partition {
    /// The wire outcome of the checks: `.none` when the request may be served here.
    public func checkAccess(currentLeaderEpoch: Int32, requireLeader: Bool) -> ErrorCode {
        lock.withLock {
            let code = Self.compareLeaderEpoch(requested: currentLeaderEpoch, current: _leaderEpoch)
            if code != .none { return code }
            if requireLeader && !_isLeader { return .notLeaderOrFollower }
            return .none
        }
    }

    /// Kafka's `checkCurrentLeaderEpoch`: -1 (no epoch given) always passes.
    static func compareLeaderEpoch(requested: Int32, current: Int32) -> ErrorCode {
        if requested < 0 { return .none }
        if requested < current { return .fencedLeaderEpoch }
        if requested > current { return .unknownLeaderEpoch }
        return .none
    }

    /// The log end offset when this replica became leader of its current epoch (nil: not leader in a cluster).
    /// Until the high watermark reaches it the leader does not know its true high watermark (KIP-207), so offset
    /// lookups by clients answer OFFSET_NOT_AVAILABLE and the client retries.
    public var leaderEpochStartOffset: Int64? {
        lock.withLock { _isLeader && _clustered ? _leaderEpochStartOffset : nil }
    }

    /// OFFSET_NOT_AVAILABLE while a new leader's high watermark lags the start of its epoch, else `.none`.
    public var offsetLookupError: ErrorCode {
        guard let start = leaderEpochStartOffset else { return .none }
        return log.highWatermark < start ? .offsetNotAvailable : .none
    }
}
