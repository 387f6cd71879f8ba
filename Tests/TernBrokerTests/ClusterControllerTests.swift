import Testing

@testable import TernBroker

/// The controller's election rule and the replica placement, without ZooKeeper.
struct ClusterControllerTests {
    func state(_ leader: Int32, _ isr: [Int32], epoch: Int32 = 3) -> PartitionLeadership {
        PartitionLeadership(leader: leader, leaderEpoch: epoch, isr: isr, controllerEpoch: 1, zkVersion: 7)
    }

    @Test func deadLeaderIsReplacedFromTheIsrInAssignmentOrder() throws {
        let next = try #require(ClusterController.nextLeadership(
            state(0, [0, 2, 1]), replicas: [0, 1, 2], live: [1, 2], controllerEpoch: 4))
        #expect(next.leader == 1)
        #expect(next.isr == [2, 1])
        #expect(next.leaderEpoch == 4)
        #expect(next.controllerEpoch == 4)
        #expect(next.zkVersion == 7, "the conditional write compares with the version read")
    }

    @Test func noLiveIsrMemberMeansOfflineWithTheLastIsrKept() throws {
        let next = try #require(ClusterController.nextLeadership(
            state(0, [0]), replicas: [0, 1, 2], live: [1, 2], controllerEpoch: 1))
        #expect(next.leader == -1)
        #expect(next.isr == [0])
        // The ISR member returns: it leads again.
        let back = try #require(ClusterController.nextLeadership(next, replicas: [0, 1, 2], live: [0, 1, 2], controllerEpoch: 1))
        #expect(back.leader == 0)
        #expect(back.leaderEpoch == next.leaderEpoch + 1)
    }

    @Test func uncleanElectionPicksTheFirstLiveReplicaAsSoleIsr() throws {
        let next = try #require(ClusterController.nextLeadership(
            state(0, [0]), replicas: [0, 1, 2], live: [2, 1], controllerEpoch: 2, unclean: true))
        #expect(next.leader == 1)
        #expect(next.isr == [1])
        #expect(next.leaderEpoch == 4)
        // A live ISR member is still preferred over an out-of-ISR replica.
        let clean = try #require(ClusterController.nextLeadership(
            state(0, [0, 2]), replicas: [0, 1, 2], live: [1, 2], controllerEpoch: 2, unclean: true))
        #expect(clean.leader == 2)
        #expect(clean.isr == [2])
    }

    @Test func controllerSettingsReadKafkaNamesAndDefaults() {
        let d = ControllerSettings(raw: [:])
        #expect(!d.uncleanLeaderElection && d.autoLeaderRebalance)
        #expect(d.imbalanceCheckIntervalSeconds == 300 && d.imbalancePerBrokerPercentage == 10)
        let s = ControllerSettings(raw: [
            "unclean.leader.election.enable": "true", "auto.leader.rebalance.enable": "false",
            "leader.imbalance.check.interval.seconds": "5", "leader.imbalance.per.broker.percentage": "0",
        ])
        #expect(s.uncleanLeaderElection && !s.autoLeaderRebalance)
        #expect(s.imbalanceCheckIntervalSeconds == 5 && s.imbalancePerBrokerPercentage == 0)
    }

    @Test func deadFollowerLeavesTheIsrAndNothingElseChanges() throws {
        let next = try #require(ClusterController.nextLeadership(
            state(1, [1, 2, 0]), replicas: [1, 2, 0], live: [0, 1], controllerEpoch: 1))
        #expect(next.leader == 1)
        #expect(next.isr == [1, 0])
        #expect(ClusterController.nextLeadership(state(1, [1, 2]), replicas: [1, 2, 0], live: [0, 1, 2], controllerEpoch: 1) == nil)
    }

    @Test func roundRobinSpreadsLeadersAndReplicas() {
        let a = ReplicaAssignment.roundRobin(partitions: 4, replicationFactor: 3, brokers: [0, 1, 2], startIndex: 1)
        #expect(a == [[1, 2, 0], [2, 0, 1], [0, 1, 2], [1, 2, 0]])
        #expect(ReplicaAssignment.roundRobin(partitions: 2, replicationFactor: 1, brokers: [5], startIndex: 0) == [[5], [5]])
    }
}
