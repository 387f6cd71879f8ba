/// Replica placement for new topics, after Kafka's rack-unaware rule: partition leaders go round-robin over the
/// brokers from a random start (so many topics do not all lead on the first broker), and each partition's
/// followers are the next brokers after its leader. Rack awareness is not implemented yet.
enum ReplicaAssignment {
    static func roundRobin(
        partitions: Int, replicationFactor: Int, brokers: [Int32], startIndex: Int? = nil
    ) -> [[Int32]] {
        guard !brokers.isEmpty else { return [] }
        let n = brokers.count
        let start = startIndex ?? Int.random(in: 0..<n)
        return (0..<partitions).map { p in
            (0..<min(replicationFactor, n)).map { r in brokers[(start + p + r) % n] }
        }
    }
}
