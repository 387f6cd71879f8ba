/// Replica placement for new topics and partitions, after Kafka's `AdminUtils.assignReplicasToBrokers`.
///
/// Without racks: partition leaders go round-robin over the brokers from a random start (so many topics do not
/// all lead on the first broker), and each partition's followers are the next brokers after its leader.
/// With `broker.rack` on every broker: the brokers are first arranged alternating between racks (racks and the
/// brokers in each sorted), leaders go round-robin over that list, and each follower is the next broker (shifted
/// per round, as Kafka does) on a rack without a replica yet, while such racks remain, then on a broker without
/// one. Some brokers with a rack and others without is refused, as Kafka refuses it.
public enum ReplicaAssignment {
    public struct Failure: Error, Equatable {
        public var message: String
    }

    /// A live broker as placement sees it.
    public struct Broker: Equatable, Sendable {
        public var id: Int32
        public var rack: String?

        public init(id: Int32, rack: String?) {
            self.id = id
            self.rack = rack
        }
    }

    /// Kafka's choice between the two rules. `startIndex` fixes the random start (tests, new partitions);
    /// `firstPartition` is the index of the first partition placed (CreatePartitions continues a topic).
    public static func assign(
        partitions: Int, replicationFactor: Int, brokers: [Broker], startIndex: Int? = nil, firstPartition: Int = 0
    ) throws(Failure) -> [[Int32]] {
        let sorted = brokers.sorted { $0.id < $1.id }
        if sorted.allSatisfy({ $0.rack == nil }) {
            let start = startIndex.map { $0 + firstPartition }
            return roundRobin(partitions: partitions, replicationFactor: replicationFactor, brokers: sorted.map(\.id), startIndex: start)
        }
        guard sorted.allSatisfy({ $0.rack != nil }) else {
            throw Failure(message: "Not all brokers have rack information for replica rack aware assignment.")
        }
        return rackAware(
            partitions: partitions, replicationFactor: replicationFactor,
            racks: Dictionary(uniqueKeysWithValues: sorted.map { ($0.id, $0.rack!) }),
            startIndex: startIndex, firstPartition: firstPartition)
    }

    public static func roundRobin(
        partitions: Int, replicationFactor: Int, brokers: [Int32], startIndex: Int? = nil
    ) -> [[Int32]] {
        guard !brokers.isEmpty else { return [] }
        let n = brokers.count
        let start = startIndex ?? Int.random(in: 0..<n)
        return (0..<partitions).map { p in
            (0..<min(replicationFactor, n)).map { r in brokers[(start + p + r) % n] }
        }
    }

    /// Brokers taken one rack at a time: with racks a: [0, 5], b: [3, 4], c: [1, 2] the list is 0, 3, 1, 5, 4, 2,
    /// so consecutive brokers sit on different racks.
    static func rackAlternatedBrokers(_ racks: [Int32: String]) -> [Int32] {
        var byRack: [String: [Int32]] = [:]
        for (id, rack) in racks { byRack[rack, default: []].append(id) }
        let rackNames = byRack.keys.sorted()
        var queues = rackNames.map { byRack[$0]!.sorted() }
        var out: [Int32] = []
        var i = 0
        while out.count < racks.count {
            if !queues[i].isEmpty { out.append(queues[i].removeFirst()) }
            i = (i + 1) % queues.count
        }
        return out
    }

    static func rackAware(
        partitions: Int, replicationFactor: Int, racks: [Int32: String], startIndex: Int? = nil, firstPartition: Int = 0
    ) -> [[Int32]] {
        let arranged = rackAlternatedBrokers(racks)
        let n = arranged.count
        guard n > 0 else { return [] }
        let rackCount = Set(racks.values).count
        let start = startIndex ?? Int.random(in: 0..<n)
        var shift = startIndex ?? Int.random(in: 0..<n)
        let rf = min(replicationFactor, n)
        var out: [[Int32]] = []
        for p in firstPartition..<(firstPartition + partitions) {
            if p > 0 && p % n == 0 { shift += 1 }
            let first = (p + start) % n
            let leader = arranged[first]
            var replicas = [leader]
            var racksUsed: Set<String> = [racks[leader]!]
            var k = 0
            while replicas.count < rf {
                let broker = arranged[replicaIndex(first: first, shift: shift * rackCount, k: k, n: n)]
                let rack = racks[broker]!
                k += 1
                // A rack that already holds a replica is skipped while some rack holds none; a broker that holds
                // one is skipped while some broker holds none.
                if racksUsed.contains(rack) && racksUsed.count < rackCount { continue }
                if replicas.contains(broker) { continue }
                replicas.append(broker)
                racksUsed.insert(rack)
            }
            out.append(replicas)
        }
        return out
    }

    /// Kafka's `replicaIndex`: the k-th follower's offset from the leader, never the leader itself.
    private static func replicaIndex(first: Int, shift: Int, k: Int, n: Int) -> Int {
        guard n > 1 else { return first }
        return (first + 1 + (shift + k) % (n - 1)) % n
    }
}
