import KafkaProtocol
import NIOCore
import TernCluster
import TernStorage
import Testing

@testable import TernBroker

/// The controller's requests as built, the epoch fences brokers apply to them, and the znode payloads of the
/// ZooKeeper-mode notifications, without ZooKeeper or sockets.
struct ControllerRequestsTests {
    let header = ControllerRequests.Header(controllerId: 2, controllerEpoch: 5)

    func partition(_ topic: String, _ p: Int32, leader: Int32, epoch: Int32, replicas: [Int32], isNew: Bool = false) -> ControlledPartition {
        ControlledPartition(
            tp: TopicPartition(topic: topic, partition: p), topicId: KafkaUUID(mostSignificantBits: 1, leastSignificantBits: UInt64(topic.count)),
            replicas: replicas,
            leadership: PartitionLeadership(leader: leader, leaderEpoch: epoch, isr: replicas, controllerEpoch: 4, zkVersion: 11),
            isNew: isNew)
    }

    func roundTrip<M: KafkaMessage & Equatable>(_ m: M, version: Int16) throws -> M {
        var buffer = ByteBuffer()
        try m.write(to: &buffer, version: version)
        let back = try M(from: &buffer, version: version)
        #expect(buffer.readableBytes == 0)
        return back
    }

    // MARK: Fences

    @Test func controllerEpochFence() {
        #expect(ControlFence.admits(requestEpoch: 5, highestSeen: 5))
        #expect(ControlFence.admits(requestEpoch: 6, highestSeen: 5))
        #expect(!ControlFence.admits(requestEpoch: 4, highestSeen: 5))
        let cache = MetadataCache()
        #expect(cache.admitController(1, epoch: 3))
        #expect(!cache.admitController(0, epoch: 2), "a deposed controller")
        #expect(cache.controllerId == 1 && cache.controllerEpoch == 3)
        #expect(cache.admitController(0, epoch: 4), "a newer controller takes over")
        #expect(cache.controllerId == 0)
    }

    @Test func leaderAndIsrAppliesOnlyNewerLeaderEpochs() {
        #expect(ControlFence.leaderAndIsrError(requestLeaderEpoch: 0, current: nil) == .none, "no role yet")
        #expect(ControlFence.leaderAndIsrError(requestLeaderEpoch: 0, current: -1) == .none, "restarted replica")
        #expect(ControlFence.leaderAndIsrError(requestLeaderEpoch: 4, current: 3) == .none)
        #expect(ControlFence.leaderAndIsrError(requestLeaderEpoch: 3, current: 3) == .staleControllerEpoch)
        #expect(ControlFence.leaderAndIsrError(requestLeaderEpoch: 2, current: 3) == .staleControllerEpoch)
    }

    /// KIP-380: a request meant for an earlier registration of the broker is stale; unknown (-1) and newer pass.
    @Test func brokerEpochFence() {
        #expect(!ControlFence.isBrokerEpochStale(requestEpoch: -1, current: 100), "a controller without broker epochs")
        #expect(!ControlFence.isBrokerEpochStale(requestEpoch: 100, current: 100))
        #expect(!ControlFence.isBrokerEpochStale(requestEpoch: 120, current: 100), "the controller saw the new registration first")
        #expect(ControlFence.isBrokerEpochStale(requestEpoch: 99, current: 100))
        let cache = MetadataCache()
        #expect(!cache.isStale(brokerEpoch: 5), "not registered yet")
        cache.brokerEpoch = 0x1_0000_0010
        #expect(cache.isStale(brokerEpoch: 0x1_0000_000F))
        #expect(!cache.isStale(brokerEpoch: 0x1_0000_0010))
    }

    /// A channel stamps its registration's epoch on each request; the field survives the versions sent.
    @Test func brokerEpochIsStampedAndEncoded() throws {
        let epoch: Int64 = 0x2_0000_0007
        let tp = TopicPartition(topic: "t", partition: 0)
        let requests: [ControllerRequest] = [
            .leaderAndIsr(ControllerRequests.leaderAndIsr(header, [partition("t", 0, leader: 1, epoch: 3, replicas: [1])], liveLeaders: [], listener: "PLAINTEXT")),
            .updateMetadata(ControllerRequests.updateMetadata(header, [], live: [])),
            .stopReplica(ControllerRequests.stopReplica(header, [(tp, 3)], delete: false), onAck: { _ in }),
        ]
        for request in requests {
            switch request.stamped(brokerEpoch: epoch) {
            case .leaderAndIsr(let r):
                #expect(r.brokerEpoch == epoch)
                #expect(try roundTrip(r, version: ControllerRequests.leaderAndIsrVersion).brokerEpoch == epoch)
            case .updateMetadata(let r):
                #expect(r.brokerEpoch == epoch)
                #expect(try roundTrip(r, version: ControllerRequests.updateMetadataVersion).brokerEpoch == epoch)
            case .stopReplica(let r, _):
                #expect(r.brokerEpoch == epoch)
                #expect(try roundTrip(r, version: ControllerRequests.stopReplicaVersion).brokerEpoch == epoch)
            }
        }
        // Built requests carry none until a channel stamps them.
        #expect(ControllerRequests.updateMetadata(header, [], live: []).brokerEpoch == -1)
    }

    @Test func stopReplicaFence() {
        #expect(ControlFence.stopReplicaAdmits(requestLeaderEpoch: ControlFence.epochDuringDelete, current: 9))
        #expect(ControlFence.stopReplicaAdmits(requestLeaderEpoch: ControlFence.noEpoch, current: 9))
        #expect(ControlFence.stopReplicaAdmits(requestLeaderEpoch: 9, current: 9))
        #expect(!ControlFence.stopReplicaAdmits(requestLeaderEpoch: 8, current: 9))
    }

    // MARK: Request building

    @Test func leaderAndIsrGroupsByTopicWithEveryField() throws {
        let live = [ClusterBroker(id: 1, rack: nil, endpoints: ["PLAINTEXT": ("h1", 9001)]),
                    ClusterBroker(id: 3, rack: nil, endpoints: ["PLAINTEXT": ("h3", 9003)])]
        let r = ControllerRequests.leaderAndIsr(header, [
            partition("b", 1, leader: 1, epoch: 7, replicas: [1, 2], isNew: true),
            partition("a", 0, leader: 1, epoch: 2, replicas: [1, 3]),
            partition("b", 0, leader: 1, epoch: 6, replicas: [2, 1]),
        ], liveLeaders: live, listener: "PLAINTEXT")
        let back = try roundTrip(r, version: ControllerRequests.leaderAndIsrVersion)
        #expect(back.controllerId == 2 && back.controllerEpoch == 5)
        #expect(back.topicStates.map(\.topicName) == ["b", "a"])
        let b = back.topicStates[0]
        #expect(b.partitionStates.map(\.partitionIndex) == [0, 1])
        let b1 = b.partitionStates[1]
        #expect(b1.leader == 1 && b1.leaderEpoch == 7 && b1.isr == [1, 2] && b1.replicas == [1, 2])
        #expect(b1.partitionEpoch == 11 && b1.controllerEpoch == 4 && b1.isNew)
        #expect(b.topicId == KafkaUUID(mostSignificantBits: 1, leastSignificantBits: 1))
        #expect(back.liveLeaders.map(\.brokerId) == [1], "only brokers that lead one of the partitions")
        #expect(back.liveLeaders.first?.hostName == "h1" && back.liveLeaders.first?.port == 9001)
    }

    @Test func updateMetadataListsLiveBrokersAndOfflineReplicas() throws {
        let live = [ClusterBroker(id: 2, rack: "r2", endpoints: ["PLAINTEXT": ("h2", 9002), "INTERNAL": ("i2", 19002)])]
        let r = ControllerRequests.updateMetadata(header, [partition("t", 0, leader: 2, epoch: 1, replicas: [2, 4])], live: live)
        let back = try roundTrip(r, version: ControllerRequests.updateMetadataVersion)
        #expect(back.topicStates.first?.partitionStates.first?.offlineReplicas == [4])
        #expect(back.topicStates.first?.partitionStates.first?.zkVersion == 11)
        let broker = try #require(back.liveBrokers.first)
        #expect(broker.id == 2 && broker.rack == "r2")
        #expect(broker.endpoints.map(\.listener) == ["INTERNAL", "PLAINTEXT"])
        #expect(broker.endpoints.map(\.host) == ["i2", "h2"])
    }

    @Test func stopReplicaCarriesDeleteAndEpochPerPartition() throws {
        let r = ControllerRequests.stopReplica(header, [
            (TopicPartition(topic: "t", partition: 1), ControlFence.epochDuringDelete),
            (TopicPartition(topic: "t", partition: 0), ControlFence.epochDuringDelete),
        ], delete: true)
        let back = try roundTrip(r, version: ControllerRequests.stopReplicaVersion)
        #expect(back.topicStates.count == 1)
        #expect(back.topicStates[0].partitionStates.map(\.partitionIndex) == [1, 0])
        #expect(back.topicStates[0].partitionStates.allSatisfy { $0.deletePartition && $0.leaderEpoch == -2 })
    }

    // MARK: Broker-side cache

    @Test func metadataCacheDropsPartitionsOfDeletedTopics() {
        let cache = MetadataCache()
        let tp = TopicPartition(topic: "t", partition: 0)
        let l = PartitionLeadership(leader: 1, leaderEpoch: 3, isr: [1], controllerEpoch: 1, zkVersion: 2)
        cache.update(partitions: [(tp, l)], liveBrokers: [1: ClusterBroker(id: 1, rack: nil, endpoints: [:])])
        #expect(cache.leadership(of: tp) == l && cache.isInitialized)
        var older = l
        older.leaderEpoch = 2
        older.isr = [1, 2]
        cache.updateIsr(tp, older)
        #expect(cache.leadership(of: tp)?.isr == [1], "an older leader epoch never overwrites a newer one")
        var deleting = l
        deleting.leader = ControlFence.leaderDuringDelete
        cache.update(partitions: [(tp, deleting)], liveBrokers: [:])
        #expect(cache.leadership(of: tp) == nil)
        #expect(cache.liveBrokers().isEmpty)
    }

    // MARK: Znode payloads

    @Test func isrChangeNotificationJson() throws {
        let n = IsrChangeNotification([TopicPartition(topic: "t", partition: 3)])
        #expect(String(decoding: ZNodeJSON.encode(n), as: UTF8.self) == #"{"partitions":[{"partition":3,"topic":"t"}],"version":1}"#)
        let parsed = try #require(ZNodeJSON.decode(IsrChangeNotification.self, Array(#"{"version":1,"partitions":[{"topic":"x","partition":0}]}"#.utf8)))
        #expect(parsed.topicPartitions == [TopicPartition(topic: "x", partition: 0)])
    }

    @Test func dynamicBrokerConfigPrecedenceAndPayloads() {
        let s = DynamicBrokerConfigs.State(
            broker: ["log.retention.ms": "1"], clusterDefault: ["log.retention.ms": "2", "log.segment.bytes": "3"])
        let raw = DynamicBrokerConfigs.effectiveRaw(static: ["log.retention.ms": "9", "log.segment.bytes": "9", "broker.id": "0"], s)
        #expect(raw == ["log.retention.ms": "1", "log.segment.bytes": "3", "broker.id": "0"])
        #expect(DynamicBrokerConfigs.reconfigurable.contains("log.retention.ms"))
        #expect(!DynamicBrokerConfigs.reconfigurable.contains("broker.id"))
        #expect(String(decoding: ZNodeJSON.encode(ConfigChangeNotification(entityPath: "brokers/<default>")), as: UTF8.self)
            == #"{"entity_path":"brokers/<default>","version":2}"#)
        #expect(Broker.brokerConfigEntity("") == "<default>" && Broker.brokerConfigEntity("3") == "3")
    }
}
