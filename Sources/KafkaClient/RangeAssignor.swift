/// Kafka's RangeAssignor ("range"), the classic consumer's default: for each topic, its partitions in order are
/// split into contiguous ranges over the members subscribed to it, sorted by member id; the first
/// `partitions % members` members get one extra partition.
public enum RangeAssignor {
    public static let name = "range"

    /// `subscriptions`: member id -> topics; `partitionCounts`: topic -> partitions.
    public static func assign(subscriptions: [String: [String]], partitionCounts: [String: Int32]) -> [String: [TopicPartition]] {
        var out: [String: [TopicPartition]] = [:]
        for member in subscriptions.keys { out[member] = [] }
        let topics = Set(subscriptions.values.flatMap { $0 })
        for topic in topics.sorted() {
            guard let count = partitionCounts[topic], count > 0 else { continue }
            let members = subscriptions.filter { $0.value.contains(topic) }.map(\.key).sorted()
            let per = Int(count) / members.count
            let extra = Int(count) % members.count
            for (i, member) in members.enumerated() {
                let start = per * i + min(i, extra)
                let length = per + (i < extra ? 1 : 0)
                for p in start..<(start + length) { out[member, default: []].append(TopicPartition(topic, Int32(p))) }
            }
        }
        return out
    }
}
