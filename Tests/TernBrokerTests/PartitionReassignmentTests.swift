import KafkaProtocol
import Testing

@testable import TernBroker

/// The controller's reassignment state (KIP-455's RS/AR/RR) and rules, and rack-aware replica placement,
/// without ZooKeeper.
struct PartitionReassignmentTests {
    func state(_ leader: Int32, _ isr: [Int32], epoch: Int32 = 5) -> PartitionLeadership {
        PartitionLeadership(leader: leader, leaderEpoch: epoch, isr: isr, controllerEpoch: 1, zkVersion: 9)
    }

    @Test func movingAddsTargetFirstAndRecordsAddingAndRemoving() {
        let moved = PartitionReplicaSet(replicas: [0]).reassigned(to: [1])
        #expect(moved == PartitionReplicaSet(replicas: [1, 0], addingReplicas: [1], removingReplicas: [0]))
        #expect(moved.originReplicas == [0])
        #expect(moved.targetReplicas == [1])
        #expect(moved.isBeingReassigned)
        // RF 1 -> 3: nothing removed.
        let grown = PartitionReplicaSet(replicas: [2]).reassigned(to: [2, 0, 1])
        #expect(grown == PartitionReplicaSet(replicas: [2, 0, 1], addingReplicas: [0, 1], removingReplicas: []))
        // A reorder of the same replicas is no reassignment at all.
        #expect(!PartitionReplicaSet(replicas: [0, 1]).reassigned(to: [1, 0]).isBeingReassigned)
    }

    @Test func aNewTargetReplacesTheRunningOneFromTheOriginalReplicas() {
        let running = PartitionReplicaSet(replicas: [0]).reassigned(to: [1])
        let changed = running.reassigned(to: [2])
        #expect(changed == PartitionReplicaSet(replicas: [2, 0], addingReplicas: [2], removingReplicas: [0]),
                "1 was only being added: it is simply dropped")
    }

    @Test func cancellingGoesBackToTheOriginalReplicasAndNeedsAMoveInProgress() throws {
        let running = PartitionReplicaSet(replicas: [0, 1]).reassigned(to: [1, 2])
        let cancelled = try #require(running.reassignment(to: nil))
        // ORS in RS order (the target came first), as Kafka's `originReplicas` gives it.
        #expect(cancelled == PartitionReplicaSet(replicas: [1, 0]))
        let simple = try #require(PartitionReplicaSet(replicas: [0, 1]).reassigned(to: [2, 3]).reassignment(to: nil))
        #expect(simple == PartitionReplicaSet(replicas: [0, 1]))
        #expect(PartitionReplicaSet(replicas: [0, 1]).reassignment(to: nil) == nil, "NO_REASSIGNMENT_IN_PROGRESS")
    }

    @Test func completeOnceEveryTargetReplicaIsInTheIsr() {
        let moving = PartitionReplicaSet(replicas: [0]).reassigned(to: [1, 2])
        #expect(!moving.isComplete(isr: [0]))
        #expect(!moving.isComplete(isr: [0, 1]))
        #expect(moving.isComplete(isr: [0, 2, 1]))
        #expect(PartitionReplicaSet(replicas: [3]).isComplete(isr: []), "nothing moving is complete")
    }

    @Test func validationFollowsKafkasChecksAndMessages() {
        let current = PartitionReplicaSet(replicas: [0])
        let live: Set<Int32> = [0, 1, 2]
        #expect(ReassignmentRules.validate(target: [], current: current, live: live)?.message
                == "Empty replica list specified in partition reassignment.")
        #expect(ReassignmentRules.validate(target: [1, 1], current: current, live: live)?.code == .invalidReplicaAssignment)
        #expect(ReassignmentRules.validate(target: [1, -1], current: current, live: live)?.code == .invalidReplicaAssignment)
        let dead = ReassignmentRules.validate(target: [0, 7], current: current, live: live)
        #expect(dead?.code == .invalidReplicaAssignment)
        #expect(dead?.message.contains("not alive") == true)
        // Only replicas being added must be alive: a dead current replica may stay in the target.
        #expect(ReassignmentRules.validate(target: [5, 1], current: PartitionReplicaSet(replicas: [5]), live: live) == nil)
    }

    @Test func completionMovesTheLeaderToTheFirstInSyncTargetAndDropsRemovedReplicas() throws {
        // RF 1 move 0 -> 1: both in the ISR, the leader 0 is not a target.
        guard case .changed(let next) = ReassignmentRules.leadership(state(0, [0, 1]), within: [1], live: [0, 1, 2], controllerEpoch: 3)
        else { Issue.record("expected a change"); return }
        #expect(next.leader == 1)
        #expect(next.isr == [1])
        #expect(next.leaderEpoch == 6)
        #expect(next.controllerEpoch == 3)
        #expect(next.zkVersion == 9, "conditional on the version read")
        // The leader is a target: it stays, only the removed replica leaves the ISR.
        guard case .changed(let kept) = ReassignmentRules.leadership(state(2, [2, 0, 1]), within: [2, 1], live: [0, 1, 2], controllerEpoch: 3)
        else { Issue.record("expected a change"); return }
        #expect(kept.leader == 2)
        #expect(kept.isr == [2, 1])
        #expect(ReassignmentRules.leadership(state(1, [1, 2]), within: [1, 2], live: [1, 2], controllerEpoch: 3) == .unchanged)
    }

    @Test func completionWaitsWhenNoLiveInSyncTargetCanLead() {
        #expect(ReassignmentRules.leadership(state(0, [0, 1]), within: [1], live: [0, 2], controllerEpoch: 3) == .noEligibleLeader)
        #expect(ReassignmentRules.leadership(state(0, [0]), within: [1], live: [0, 1], controllerEpoch: 3) == .noEligibleLeader)
    }

    // MARK: Rack-aware placement (Kafka's AdminUtils)

    @Test func rackAlternatedListTakesOneBrokerPerRackInTurn() {
        // KIP-36's example: racks 1: [0, 5], 2: [3, 4], 3: [1, 2].
        let racks: [Int32: String] = [0: "rack1", 1: "rack3", 2: "rack3", 3: "rack2", 4: "rack2", 5: "rack1"]
        #expect(ReplicaAssignment.rackAlternatedBrokers(racks) == [0, 3, 1, 5, 4, 2])
    }

    @Test func rackAwareMatchesKafkasAssignment() throws {
        // The assignment Kafka's AdminUtils gives for these brokers with fixed start index 0.
        let brokers: [ReplicaAssignment.Broker] = [
            .init(id: 0, rack: "rack1"), .init(id: 1, rack: "rack3"), .init(id: 2, rack: "rack3"),
            .init(id: 3, rack: "rack2"), .init(id: 4, rack: "rack2"), .init(id: 5, rack: "rack1"),
        ]
        let a = try ReplicaAssignment.assign(partitions: 6, replicationFactor: 3, brokers: brokers, startIndex: 0)
        #expect(a == [[0, 3, 1], [3, 1, 5], [1, 5, 4], [5, 4, 2], [4, 2, 0], [2, 0, 3]])
    }

    @Test func rackAwareSpreadsEveryPartitionOverDistinctRacks() throws {
        let racks = ["a", "a", "b", "b", "c", "c"]
        let brokers = racks.enumerated().map { ReplicaAssignment.Broker(id: Int32($0.offset), rack: $0.element) }
        for start in 0..<6 {
            let a = try ReplicaAssignment.assign(partitions: 12, replicationFactor: 3, brokers: brokers, startIndex: start)
            for replicas in a {
                #expect(Set(replicas.map { racks[Int($0)] }).count == 3, "\(replicas) with start \(start)")
                #expect(Set(replicas).count == 3)
            }
            // Leaders spread evenly over the brokers.
            #expect(Set(a.map(\.[0])).count == 6)
        }
        // Two racks, RF 2: each partition on both racks, even where round-robin would put both on one.
        let two = [ReplicaAssignment.Broker(id: 0, rack: "a"), .init(id: 1, rack: "a"), .init(id: 2, rack: "b")]
        for start in 0..<3 {
            for replicas in try ReplicaAssignment.assign(partitions: 6, replicationFactor: 2, brokers: two, startIndex: start) {
                #expect(Set(replicas.map { $0 == 2 ? "b" : "a" }).count == 2, "\(replicas)")
            }
        }
        // More replicas than racks: every rack first, then distinct brokers.
        let many = try ReplicaAssignment.assign(partitions: 4, replicationFactor: 3, brokers: two, startIndex: 1)
        for replicas in many { #expect(Set(replicas) == [0, 1, 2]) }
    }

    @Test func someBrokersWithoutARackIsRefused() throws {
        let mixed = [ReplicaAssignment.Broker(id: 0, rack: "a"), .init(id: 1, rack: nil)]
        #expect(throws: ReplicaAssignment.Failure(message: "Not all brokers have rack information for replica rack aware assignment.")) {
            try ReplicaAssignment.assign(partitions: 1, replicationFactor: 2, brokers: mixed)
        }
        // No racks at all: the rack-unaware rule.
        let plain = [ReplicaAssignment.Broker(id: 0, rack: nil), .init(id: 1, rack: nil), .init(id: 2, rack: nil)]
        #expect(try ReplicaAssignment.assign(partitions: 2, replicationFactor: 2, brokers: plain, startIndex: 1) == [[1, 2], [2, 0]])
    }
}
