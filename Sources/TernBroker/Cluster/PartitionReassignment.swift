import KafkaProtocol

/// A partition's replica set while it may be moving, as Kafka's controller models it (KIP-455): the full set RS
/// (origin ORS plus target TRS, target first), with the replicas being added (TRS - ORS) and removed (ORS - TRS).
/// RS is what `/brokers/topics/<t>` and Metadata list while a reassignment runs; `adding_replicas` and
/// `removing_replicas` sit next to it in the topic znode, so ORS survives a controller failover.
struct PartitionReplicaSet: Equatable, Sendable {
    var replicas: [Int32]
    var addingReplicas: [Int32] = []
    var removingReplicas: [Int32] = []

    var isBeingReassigned: Bool { !addingReplicas.isEmpty || !removingReplicas.isEmpty }
    var originReplicas: [Int32] { replicas.filter { !addingReplicas.contains($0) } }
    var targetReplicas: [Int32] { replicas.filter { !removingReplicas.contains($0) } }

    /// Kafka's `reassignTo`: RS = (TRS ++ ORS) without duplicates, so the target's first replica is preferred.
    func reassigned(to target: [Int32]) -> PartitionReplicaSet {
        let origin = originReplicas
        var full: [Int32] = []
        for r in target + origin where !full.contains(r) { full.append(r) }
        return PartitionReplicaSet(
            replicas: full, addingReplicas: full.filter { !origin.contains($0) }, removingReplicas: full.filter { !target.contains($0) })
    }

    /// The reassignment an AlterPartitionReassignments entry asks for: `target` nil cancels (back to ORS).
    /// nil when there is nothing to cancel (NO_REASSIGNMENT_IN_PROGRESS).
    func reassignment(to target: [Int32]?) -> PartitionReplicaSet? {
        if let target { return reassigned(to: target) }
        return isBeingReassigned ? reassigned(to: originReplicas) : nil
    }

    /// Done once every target replica is in the ISR (a cancellation, with nothing being added, at once).
    func isComplete(isr: [Int32]) -> Bool {
        !isBeingReassigned || targetReplicas.allSatisfy(isr.contains)
    }
}

/// The controller's reassignment rules (pure, for tests).
enum ReassignmentRules {
    struct Rejection: Equatable, Sendable {
        var code: ErrorCode
        var message: String
    }

    /// Kafka's `validateReplicas`: a target list must be non-empty, without duplicates or negative ids, and the
    /// replicas it adds must be live brokers.
    static func validate(target: [Int32], current: PartitionReplicaSet, live: Set<Int32>) -> Rejection? {
        if target.isEmpty {
            return Rejection(code: .invalidReplicaAssignment, message: "Empty replica list specified in partition reassignment.")
        }
        if Set(target).count != target.count {
            return Rejection(code: .invalidReplicaAssignment, message: "Duplicate replica ids in partition reassignment replica list: \(target)")
        }
        if target.contains(where: { $0 < 0 }) {
            return Rejection(code: .invalidReplicaAssignment, message: "Invalid broker id in replica list: \(target)")
        }
        let adding = current.reassigned(to: target).addingReplicas
        if !adding.allSatisfy(live.contains) {
            return Rejection(
                code: .invalidReplicaAssignment,
                message: "Replica assignment has brokers that are not alive. Replica list: \(adding), live broker list: \(live.sorted())")
        }
        return nil
    }

    enum LeadershipChange: Equatable {
        case unchanged
        case changed(PartitionLeadership)
        /// The leader must move but no live ISR member of `replicas` can take over: wait for the next ISR change.
        case noEligibleLeader
    }

    /// Fits a partition's leadership to a new replica list: ISR members outside it leave the ISR, and a leader
    /// outside it (or dead) hands over to the first live ISR member of the list (Kafka's reassignment election).
    /// Used with the full RS when a reassignment starts (replicas a cancelled reassignment was adding go) and with
    /// TRS when it completes (the removed replicas go, the leader moves into the target).
    static func leadership(
        _ current: PartitionLeadership, within replicas: [Int32], live: Set<Int32>, controllerEpoch: Int32
    ) -> LeadershipChange {
        var next = current
        if current.leader >= 0 && (!replicas.contains(current.leader) || !live.contains(current.leader)) {
            guard let leader = replicas.first(where: { live.contains($0) && current.isr.contains($0) }) else { return .noEligibleLeader }
            next.leader = leader
        }
        next.isr = current.isr.filter(replicas.contains)
        if next.leader >= 0 && !next.isr.contains(next.leader) { next.isr.insert(next.leader, at: 0) }
        guard next.leader != current.leader || next.isr != current.isr else { return .unchanged }
        next.leaderEpoch = current.leaderEpoch + 1
        next.controllerEpoch = controllerEpoch
        return .changed(next)
    }
}
