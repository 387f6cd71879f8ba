/// Fetch from follower (KIP-392): which replica a consumer should read a partition from, decided by the leader
/// when `replica.selector.class` is set and answered as `preferred_read_replica` (Fetch v11+).
///
/// Kafka's two selectors: `LeaderSelector` (always the leader, i.e. never redirect) and `RackAwareReplicaSelector`
/// (a replica in the consumer's `client.rack`: the leader itself when it is in that rack, otherwise the most
/// caught-up one there). Candidates are the leader plus followers in the ISR whose log covers the fetch offset,
/// exactly the set Kafka's `ReplicaManager.findPreferredReadReplica` offers its selector; a follower out of sync is
/// never proposed, so a consumer is never sent to a replica that lags.
public enum ReplicaSelectorKind: String, Sendable, Equatable {
    case leader
    case rackAware

    public static let leaderClassName = "org.apache.kafka.common.replica.LeaderSelector"
    public static let rackAwareClassName = "org.apache.kafka.common.replica.RackAwareReplicaSelector"

    public init?(className: String) {
        switch className {
        case Self.leaderClassName: self = .leader
        case Self.rackAwareClassName: self = .rackAware
        default: return nil
        }
    }
}

/// What the leader knows about one replica when choosing (Kafka's `ReplicaView`).
public struct ReplicaView: Sendable, Equatable {
    public var brokerId: Int32
    public var rack: String?
    public var logEndOffset: Int64
    public var timeSinceLastCaughtUpMs: Int64

    public init(brokerId: Int32, rack: String?, logEndOffset: Int64, timeSinceLastCaughtUpMs: Int64) {
        self.brokerId = brokerId
        self.rack = rack
        self.logEndOffset = logEndOffset
        self.timeSinceLastCaughtUpMs = timeSinceLastCaughtUpMs
    }
}

public enum ReplicaSelector {
    /// The replica to read from, or nil for the leader (the leader is never sent back as a preferred replica).
    /// `followers` are the eligible ones only (in sync, covering the fetch offset).
    public static func select(
        _ kind: ReplicaSelectorKind, clientRack: String, leader: ReplicaView, followers: [ReplicaView]
    ) -> Int32? {
        guard kind == .rackAware, !clientRack.isEmpty else { return nil }
        if leader.rack == clientRack { return nil }
        let sameRack = followers.filter { $0.rack == clientRack }
        // Most caught up first, then the one that caught up most recently; the lowest id breaks a tie so the
        // choice is stable across fetches.
        let best = sameRack.min { a, b in
            if a.logEndOffset != b.logEndOffset { return a.logEndOffset > b.logEndOffset }
            if a.timeSinceLastCaughtUpMs != b.timeSinceLastCaughtUpMs { return a.timeSinceLastCaughtUpMs < b.timeSinceLastCaughtUpMs }
            return a.brokerId < b.brokerId
        }
        return best?.brokerId
    }
}
