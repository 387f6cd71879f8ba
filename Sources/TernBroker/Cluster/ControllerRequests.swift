import KafkaProtocol
import TernStorage

/// One partition as the controller tells it: the state znode's content plus the assignment.
struct ControlledPartition: Sendable, Equatable {
    var tp: TopicPartition
    var topicId: KafkaUUID
    var replicas: [Int32]
    var leadership: PartitionLeadership
    /// LeaderAndIsr's is_new: the replica is being created by this request (new topic or partition).
    var isNew = false
}

/// Builds the controller's requests (pure, for tests). Versions: the highest of each that the codegen has, which
/// are Kafka 3.x's inter-broker versions (LeaderAndIsr 7, StopReplica 4, UpdateMetadata 8).
enum ControllerRequests {
    static let leaderAndIsrVersion: Int16 = 7
    static let stopReplicaVersion: Int16 = 4
    static let updateMetadataVersion: Int16 = 8

    struct Header: Sendable {
        var controllerId: Int32
        var controllerEpoch: Int32
    }

    static func leaderAndIsr(_ h: Header, _ partitions: [ControlledPartition], liveLeaders: [ClusterBroker], listener: String) -> LeaderAndIsrRequest {
        var r = LeaderAndIsrRequest()
        r.controllerId = h.controllerId
        r.controllerEpoch = h.controllerEpoch
        r.topicStates = grouped(partitions).map { name, id, parts in
            var t = LeaderAndIsrRequest.LeaderAndIsrTopicState()
            t.topicName = name
            t.topicId = id
            t.partitionStates = parts.map { p in
                var s = LeaderAndIsrRequest.LeaderAndIsrPartitionState()
                s.topicName = name
                s.partitionIndex = p.tp.partition
                s.controllerEpoch = p.leadership.controllerEpoch
                s.leader = p.leadership.leader
                s.leaderEpoch = p.leadership.leaderEpoch
                s.isr = p.leadership.isr
                s.partitionEpoch = p.leadership.zkVersion
                s.replicas = p.replicas
                s.isNew = p.isNew
                return s
            }
            return t
        }
        let leaders = Set(partitions.map(\.leadership.leader))
        r.liveLeaders = liveLeaders.filter { leaders.contains($0.id) }.sorted { $0.id < $1.id }.compactMap { b in
            guard let e = b.endpoints[listener] ?? b.endpoints.values.first else { return nil }
            var l = LeaderAndIsrRequest.LeaderAndIsrLiveLeader()
            l.brokerId = b.id
            l.hostName = e.host
            l.port = Int32(e.port)
            return l
        }
        return r
    }

    /// `live` lists every live broker with all its endpoints; replicas not among them are offline.
    static func updateMetadata(_ h: Header, _ partitions: [ControlledPartition], live: [ClusterBroker]) -> UpdateMetadataRequest {
        var r = UpdateMetadataRequest()
        r.controllerId = h.controllerId
        r.controllerEpoch = h.controllerEpoch
        let liveIds = Set(live.map(\.id))
        r.topicStates = grouped(partitions).map { name, id, parts in
            var t = UpdateMetadataRequest.UpdateMetadataTopicState()
            t.topicName = name
            t.topicId = id
            t.partitionStates = parts.map { p in
                var s = UpdateMetadataRequest.UpdateMetadataPartitionState()
                s.topicName = name
                s.partitionIndex = p.tp.partition
                s.controllerEpoch = p.leadership.controllerEpoch
                s.leader = p.leadership.leader
                s.leaderEpoch = p.leadership.leaderEpoch
                s.isr = p.leadership.isr
                s.zkVersion = p.leadership.zkVersion
                s.replicas = p.replicas
                s.offlineReplicas = p.replicas.filter { !liveIds.contains($0) }
                return s
            }
            return t
        }
        r.liveBrokers = live.sorted { $0.id < $1.id }.map { b in
            var out = UpdateMetadataRequest.UpdateMetadataBroker()
            out.id = b.id
            out.rack = b.rack
            out.endpoints = b.endpoints.keys.sorted().map { name in
                var e = UpdateMetadataRequest.UpdateMetadataEndpoint()
                e.listener = name
                e.host = b.endpoints[name]!.host
                e.port = Int32(b.endpoints[name]!.port)
                e.securityProtocol = securityProtocolId(name)  // Tern names listeners after their protocol
                return e
            }
            return out
        }
        return r
    }

    static func stopReplica(_ h: Header, _ partitions: [(tp: TopicPartition, leaderEpoch: Int32)], delete: Bool) -> StopReplicaRequest {
        var r = StopReplicaRequest()
        r.controllerId = h.controllerId
        r.controllerEpoch = h.controllerEpoch
        r.deletePartitions = delete
        var order: [String] = []
        var byTopic: [String: [StopReplicaRequest.StopReplicaPartitionState]] = [:]
        for (tp, epoch) in partitions {
            if byTopic[tp.topic] == nil { order.append(tp.topic) }
            var s = StopReplicaRequest.StopReplicaPartitionState()
            s.partitionIndex = tp.partition
            s.leaderEpoch = epoch
            s.deletePartition = delete
            byTopic[tp.topic, default: []].append(s)
        }
        r.topicStates = order.map { name in
            var t = StopReplicaRequest.StopReplicaTopicState()
            t.topicName = name
            t.partitionStates = byTopic[name]!
            return t
        }
        return r
    }

    /// Kafka's SecurityProtocol ids.
    static let securityProtocols: [(id: Int16, name: String)] = [(0, "PLAINTEXT"), (1, "SSL"), (2, "SASL_PLAINTEXT"), (3, "SASL_SSL")]
    static func securityProtocolId(_ name: String) -> Int16 { securityProtocols.first { $0.name == name }?.id ?? 0 }
    static func securityProtocolName(_ id: Int16) -> String { securityProtocols.first { $0.id == id }?.name ?? "PLAINTEXT" }

    private static func grouped(_ partitions: [ControlledPartition]) -> [(String, KafkaUUID, [ControlledPartition])] {
        var order: [String] = []
        var byTopic: [String: [ControlledPartition]] = [:]
        for p in partitions {
            if byTopic[p.tp.topic] == nil { order.append(p.tp.topic) }
            byTopic[p.tp.topic, default: []].append(p)
        }
        return order.map { ($0, byTopic[$0]![0].topicId, byTopic[$0]!.sorted { $0.tp.partition < $1.tp.partition }) }
    }
}
