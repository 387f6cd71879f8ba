import KafkaProtocol
import TernStorage

/// Who may serve a consumer's fetch, and where to send the consumer otherwise.
///
/// - Fencing (KIP-320): the partition's `current_leader_epoch` (v9+) is checked first, on any replica
///   (Partition+Epochs.swift): FENCED_LEADER_EPOCH / UNKNOWN_LEADER_EPOCH.
/// - Fetch from follower (KIP-392): from v11 a consumer may read from any replica of the partition (Kafka's
///   `fetchOnlyFromLeader` is false once the request carries client metadata); before v11 only the leader serves,
///   others answer NOT_LEADER_OR_FOLLOWER. A follower reads up to its own high watermark, which it learns from the
///   leader's fetch responses; an offset past its log end is OFFSET_OUT_OF_RANGE, which sends the client back to
///   the leader. With `replica.selector.class` set, the leader answers a consumer that gives its `rack_id` with
///   `preferred_read_replica` and no records (ReplicaSelector.swift).
/// - KIP-951: from v16, NOT_LEADER_OR_FOLLOWER and FENCED_LEADER_EPOCH carry `current_leader` (this broker's view
///   of the leader and its epoch) and the response lists that leader's endpoint in `node_endpoints`, so the client
///   redirects without a metadata round trip. Produce does the same from v10 for NOT_LEADER_OR_FOLLOWER.
extension Broker {
    /// `.none` when this broker may serve the consumer fetch of `partition`.
    func consumerFetchAccess(_ partition: Partition, currentLeaderEpoch: Int32, version: Int16) -> ErrorCode {
        partition.checkAccess(currentLeaderEpoch: currentLeaderEpoch, requireLeader: version < 11)
    }

    /// The follower the consumer should read from instead of this leader, or nil (serve it here).
    func preferredReadReplica(_ partition: Partition, clientRack: String, fetchOffset: Int64, version: Int16) -> Int32? {
        guard version >= 11, let kind = config.replicaSelector, !clientRack.isEmpty,
              let live = metadataStore.liveBrokers(), partition.isLeader else { return nil }
        let offsets = partition.log.offsets
        let leader = ReplicaView(
            brokerId: brokerId, rack: config.brokerRack, logEndOffset: offsets.logEndOffset, timeSinceLastCaughtUpMs: 0)
        let followers = partition.readReplicaCandidates(fetchOffset: fetchOffset, nowMs: Broker.nowMs()).compactMap { v -> ReplicaView? in
            guard let b = live[v.brokerId] else { return nil }  // registered (alive) replicas only
            var v = v
            v.rack = b.rack
            return v
        }
        return ReplicaSelector.select(kind, clientRack: clientRack, leader: leader, followers: followers)
    }

    /// Kafka's `getCurrentLeader`: the local replica's view of the leader and epoch, else the metadata's; the
    /// leader's endpoint on `listenerName` when it is alive.
    func currentLeader(of tp: TopicPartition, listenerName: String) -> (leaderId: Int32, leaderEpoch: Int32, endpoint: FetchResponse.NodeEndpoint?) {
        var leaderId: Int32 = -1
        var leaderEpoch: Int32 = -1
        if let partition = replicaManager.partition(tp) {
            leaderId = zooKeeperStore == nil ? brokerId : partition.leaderId
            leaderEpoch = partition.leaderEpoch
        } else if let l = metadataCache.leadership(of: tp) ?? metadataStore.leadership(of: tp) {
            leaderId = l.leader
            leaderEpoch = l.leaderEpoch
        }
        guard leaderId >= 0 else { return (leaderId, leaderEpoch, nil) }
        var node = FetchResponse.NodeEndpoint()
        node.nodeId = leaderId
        if let live = metadataStore.liveBrokers() {
            guard let b = live[leaderId], let e = b.endpoints[listenerName] else { return (leaderId, leaderEpoch, nil) }
            node.host = e.host
            node.port = Int32(e.port)
            node.rack = b.rack
        } else {
            let e = advertisedEndpoint(listenerName: listenerName)
            node.host = e.host
            node.port = Int32(e.port)
            node.rack = config.brokerRack
        }
        return (leaderId, leaderEpoch, node)
    }

    /// KIP-951 for Fetch v16+: fills `current_leader` of partitions that failed with NOT_LEADER_OR_FOLLOWER or
    /// FENCED_LEADER_EPOCH and adds their leaders to `node_endpoints`.
    func addCurrentLeaders(_ response: inout FetchResponse, version: Int16, listenerName: String) {
        guard version >= 16 else { return }
        var endpoints: [Int32: FetchResponse.NodeEndpoint] = [:]
        for t in response.responses.indices {
            let name = response.responses[t].topic.isEmpty
                ? (metadataStore.topic(id: response.responses[t].topicId)?.name ?? "") : response.responses[t].topic
            for i in response.responses[t].partitions.indices {
                let code = response.responses[t].partitions[i].errorCode
                guard code == ErrorCode.notLeaderOrFollower.rawValue || code == ErrorCode.fencedLeaderEpoch.rawValue else { continue }
                let tp = TopicPartition(topic: name, partition: response.responses[t].partitions[i].partitionIndex)
                let leader = currentLeader(of: tp, listenerName: listenerName)
                response.responses[t].partitions[i].currentLeader.leaderId = leader.leaderId
                response.responses[t].partitions[i].currentLeader.leaderEpoch = leader.leaderEpoch
                if let e = leader.endpoint { endpoints[e.nodeId] = e }
            }
        }
        response.nodeEndpoints = endpoints.keys.sorted().map { endpoints[$0]! }
    }

    /// KIP-951 for Produce v10+: the same for partitions that failed with NOT_LEADER_OR_FOLLOWER.
    func addCurrentLeaders(_ response: inout ProduceResponse, version: Int16, listenerName: String) {
        guard version >= 10 else { return }
        var endpoints: [Int32: ProduceResponse.NodeEndpoint] = [:]
        for t in response.responses.indices {
            let name = response.responses[t].name
            for i in response.responses[t].partitionResponses.indices
            where response.responses[t].partitionResponses[i].errorCode == ErrorCode.notLeaderOrFollower.rawValue {
                let tp = TopicPartition(topic: name, partition: response.responses[t].partitionResponses[i].index)
                let leader = currentLeader(of: tp, listenerName: listenerName)
                response.responses[t].partitionResponses[i].currentLeader.leaderId = leader.leaderId
                response.responses[t].partitionResponses[i].currentLeader.leaderEpoch = leader.leaderEpoch
                if let e = leader.endpoint {
                    var n = ProduceResponse.NodeEndpoint()
                    n.nodeId = e.nodeId
                    n.host = e.host
                    n.port = e.port
                    n.rack = e.rack
                    endpoints[e.nodeId] = n
                }
            }
        }
        response.nodeEndpoints = endpoints.keys.sorted().map { endpoints[$0]! }
    }
}
