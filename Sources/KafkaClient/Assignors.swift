/// The client-side assignors of the classic protocol, chosen by `partition.assignment.strategy`. Each member
/// lists the ones it supports in JoinGroup in preference order; the coordinator picks the first that every member
/// supports and the leader runs it.
public enum PartitionAssignor: String, Sendable, CaseIterable {
    case range = "range"
    case roundRobin = "roundrobin"
    case cooperativeSticky = "cooperative-sticky"

    /// Eager assignors revoke everything before a rebalance; cooperative ones (KIP-429) only what moves.
    public var isCooperative: Bool { self == .cooperativeSticky }

    /// Accepts Kafka's protocol names and Java's class names (as `partition.assignment.strategy` may hold either).
    public init?(configValue: String) {
        let v = configValue.trimmingWhitespaces()
        switch v.split(separator: ".").last.map(String.init) ?? v {
        case "range", "RangeAssignor": self = .range
        case "roundrobin", "RoundRobinAssignor": self = .roundRobin
        case "cooperative-sticky", "CooperativeStickyAssignor": self = .cooperativeSticky
        default: return nil
        }
    }

    /// A member's view for the leader: subscribed topics and the partitions it owned in the last generation.
    public struct Member: Sendable {
        public var topics: [String]
        public var owned: [TopicPartition]
        public init(topics: [String], owned: [TopicPartition] = []) {
            self.topics = topics
            self.owned = owned
        }
    }

    public func assign(_ members: [String: Member], partitionCounts: [String: Int32]) -> [String: [TopicPartition]] {
        switch self {
        case .range: RangeAssignor.assign(subscriptions: members.mapValues(\.topics), partitionCounts: partitionCounts)
        case .roundRobin: RoundRobinAssignor.assign(subscriptions: members.mapValues(\.topics), partitionCounts: partitionCounts)
        case .cooperativeSticky: CooperativeStickyAssignor.assign(members, partitionCounts: partitionCounts)
        }
    }
}

/// Kafka's RoundRobinAssignor: every partition of every subscribed topic, sorted by topic then partition, dealt
/// in turn to the members sorted by id, skipping a member that is not subscribed to the partition's topic.
public enum RoundRobinAssignor {
    public static func assign(subscriptions: [String: [String]], partitionCounts: [String: Int32]) -> [String: [TopicPartition]] {
        var out: [String: [TopicPartition]] = [:]
        let members = subscriptions.keys.sorted()
        for m in members { out[m] = [] }
        guard !members.isEmpty else { return out }
        var next = 0
        for topic in Set(subscriptions.values.flatMap { $0 }).sorted() {
            for p in 0..<(partitionCounts[topic] ?? 0) {
                // Someone is subscribed to `topic`, so this finds a member within one turn.
                for _ in 0..<members.count {
                    let m = members[next % members.count]
                    next += 1
                    if subscriptions[m]?.contains(topic) == true {
                        out[m]!.append(TopicPartition(topic, p))
                        break
                    }
                }
            }
        }
        return out
    }
}

/// Kafka's CooperativeStickyAssignor (KIP-429), simplified to its contract: balanced (counts differ by at most
/// one among members with the same subscription), sticky (a member keeps what it owned while that stays
/// balanced), and cooperative: a partition that moves from one live member to another is left unassigned in this
/// generation. Its owner sees it missing, revokes it and rejoins; the second rebalance hands it to the new owner.
public enum CooperativeStickyAssignor {
    public static func assign(_ members: [String: PartitionAssignor.Member], partitionCounts: [String: Int32]) -> [String: [TopicPartition]] {
        let ids = members.keys.sorted()
        var out: [String: [TopicPartition]] = [:]
        for m in ids { out[m] = [] }
        guard !ids.isEmpty else { return out }
        var all: [TopicPartition] = []
        for topic in Set(members.values.flatMap(\.topics)).sorted() {
            for p in 0..<(partitionCounts[topic] ?? 0) { all.append(TopicPartition(topic, p)) }
        }
        let maxQuota = (all.count + ids.count - 1) / ids.count
        var previousOwner: [TopicPartition: String] = [:]
        var taken = Set<TopicPartition>()
        let exists = Set(all)
        // Sticky: keep owned partitions still subscribed and existing, up to the quota, first claim wins.
        for m in ids {
            let member = members[m]!
            for tp in member.owned.sorted() where exists.contains(tp) && member.topics.contains(tp.topic) {
                guard previousOwner[tp] == nil else { continue }
                previousOwner[tp] = m
                if out[m]!.count < maxQuota {
                    out[m]!.append(tp)
                    taken.insert(tp)
                }
            }
        }
        func eligible(_ m: String, _ tp: TopicPartition) -> Bool { members[m]!.topics.contains(tp.topic) }
        func leastLoaded(_ tp: TopicPartition) -> String? {
            ids.filter { eligible($0, tp) }.min { (out[$0]!.count, $0) < (out[$1]!.count, $1) }
        }
        // Free partitions go to the least loaded eligible member.
        for tp in all where !taken.contains(tp) {
            if let m = leastLoaded(tp) { out[m]!.append(tp) }
        }
        // Balance: move a partition from a member holding two more than an eligible one; each move lowers the
        // sum of squared counts, so this ends.
        var moved = true
        while moved {
            moved = false
            search: for rich in ids.sorted(by: { out[$0]!.count > out[$1]!.count }) {
                for tp in out[rich]!.reversed() {
                    guard let poor = leastLoaded(tp), out[rich]!.count - out[poor]!.count >= 2 else { continue }
                    out[rich]!.removeAll { $0 == tp }
                    out[poor]!.append(tp)
                    moved = true
                    break search
                }
            }
        }
        // Cooperative: withhold partitions still owned by another live member until that member revokes them.
        for m in ids {
            out[m] = out[m]!.filter { tp in
                guard let owner = previousOwner[tp], owner != m else { return true }
                return false
            }.sorted()
        }
        return out
    }
}
