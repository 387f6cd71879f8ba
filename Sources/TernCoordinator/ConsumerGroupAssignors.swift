/// Server-side partition assignors for KIP-848 consumer groups (`group.consumer.assignors`: "uniform", "range").
/// Both are pure functions of the members' subscriptions, the topics' partition counts and the current target
/// assignment (for stickiness), and sort everything, so every run is deterministic.

/// Partitions per topic name.
public typealias TopicPartitions = [String: Set<Int32>]

public struct AssignmentMember: Sendable, Equatable {
    public var subscribedTopics: Set<String>
    /// The member's current target assignment; the uniform assignor keeps as much of it as balance allows.
    public var current: TopicPartitions
    public init(subscribedTopics: Set<String>, current: TopicPartitions = [:]) {
        self.subscribedTopics = subscribedTopics
        self.current = current
    }
}

public enum ConsumerGroupAssignor: String, Sendable, CaseIterable {
    case uniform
    case range

    /// - Parameter partitionCounts: partition count per existing topic; subscribed topics missing here are skipped.
    public func assign(members: [String: AssignmentMember], partitionCounts: [String: Int32]) -> [String: TopicPartitions] {
        switch self {
        case .uniform: return Self.uniform(members: members, partitionCounts: partitionCounts)
        case .range: return Self.range(members: members, partitionCounts: partitionCounts)
        }
    }

    /// Kafka's RangeAssignor per topic: subscribers sorted by member id each take a contiguous range; the first
    /// `count % subscribers` take one extra partition.
    static func range(members: [String: AssignmentMember], partitionCounts: [String: Int32]) -> [String: TopicPartitions] {
        var result: [String: TopicPartitions] = [:]
        for memberId in members.keys { result[memberId] = [:] }
        let topics = Set(members.values.flatMap(\.subscribedTopics)).sorted()
        for topic in topics {
            guard let count = partitionCounts[topic], count > 0 else { continue }
            let subscribers = members.filter { $0.value.subscribedTopics.contains(topic) }.keys.sorted()
            let perMember = Int(count) / subscribers.count
            let extra = Int(count) % subscribers.count
            var next: Int32 = 0
            for (index, memberId) in subscribers.enumerated() {
                let take = perMember + (index < extra ? 1 : 0)
                if take > 0 { result[memberId]![topic] = Set(next..<next + Int32(take)) }
                next += Int32(take)
            }
        }
        return result
    }

    /// Balanced and sticky: every member first keeps up to its quota of its current partitions, then the rest go,
    /// most constrained partition first, to the least loaded eligible member. Quotas are exact for homogeneous
    /// subscriptions (counts differ by at most one); with heterogeneous subscriptions the result is valid and
    /// greedy-balanced rather than optimal.
    static func uniform(members: [String: AssignmentMember], partitionCounts: [String: Int32]) -> [String: TopicPartitions] {
        var result: [String: TopicPartitions] = [:]
        var load: [String: Int] = [:]
        for memberId in members.keys {
            result[memberId] = [:]
            load[memberId] = 0
        }
        guard !members.isEmpty else { return result }
        let memberIds = members.keys.sorted()
        var unassigned: [TopicPartition] = []
        for topic in Set(members.values.flatMap(\.subscribedTopics)).sorted() {
            guard let count = partitionCounts[topic], count > 0 else { continue }
            unassigned += (0..<count).map { TopicPartition(topic: topic, partition: $0) }
        }
        let minQuota = unassigned.count / memberIds.count
        var extraSlots = unassigned.count % memberIds.count
        var taken: Set<TopicPartition> = []
        func give(_ tp: TopicPartition, to memberId: String) {
            result[memberId]![tp.topic, default: []].insert(tp.partition)
            load[memberId]! += 1
            taken.insert(tp)
        }
        // Sticky pass: up to the minimum quota, then one more while extra slots remain.
        var keepable: [String: [TopicPartition]] = [:]
        for memberId in memberIds {
            let member = members[memberId]!
            keepable[memberId] = member.current.flatMap { topic, partitions in
                partitions.map { TopicPartition(topic: topic, partition: $0) }
            }.filter { tp in
                member.subscribedTopics.contains(tp.topic) && tp.partition < (partitionCounts[tp.topic] ?? 0)
            }.sorted()
        }
        for memberId in memberIds {
            for tp in keepable[memberId]! where load[memberId]! < minQuota && !taken.contains(tp) { give(tp, to: memberId) }
        }
        for memberId in memberIds where extraSlots > 0 {
            if let tp = keepable[memberId]!.first(where: { !taken.contains($0) }) {
                give(tp, to: memberId)
                extraSlots -= 1
            }
        }
        // Fill pass.
        let eligible = Dictionary(grouping: memberIds, by: { _ in 0 })[0] ?? []
        var remaining = unassigned.filter { !taken.contains($0) }.map { tp in
            (tp, eligible.filter { members[$0]!.subscribedTopics.contains(tp.topic) })
        }
        remaining.sort { $0.1.count != $1.1.count ? $0.1.count < $1.1.count : $0.0 < $1.0 }
        for (tp, candidates) in remaining {
            guard let target = candidates.min(by: { load[$0]! != load[$1]! ? load[$0]! < load[$1]! : $0 < $1 }) else { continue }
            give(tp, to: target)
        }
        return result
    }
}
