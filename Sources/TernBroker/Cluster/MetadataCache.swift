import KafkaProtocol
import NIOConcurrencyHelpers
import TernStorage

/// What a broker in a cluster knows of the cluster from its controller (Kafka's ZkMetadataCache): partition
/// states and live brokers from UpdateMetadata, and the highest controller epoch seen on any controller request,
/// which fences a deposed controller. The Metadata API answers from here; roles come from LeaderAndIsr.
final class MetadataCache: Sendable {
    struct State {
        var controllerId: Int32?
        /// Highest controller epoch of an accepted LeaderAndIsr / UpdateMetadata / StopReplica.
        var controllerEpoch: Int32 = -1
        var partitions: [TopicPartition: PartitionLeadership] = [:]
        var liveBrokers: [Int32: ClusterBroker] = [:]
        /// Whether an UpdateMetadata has arrived yet (before it the broker knows only itself).
        var initialized = false
        /// This broker's own epoch (KIP-380): the czxid of its current registration, -1 before it registers.
        var brokerEpoch: Int64 = -1
    }

    private let state = NIOLockedValueBox(State())

    /// Records `epoch` from `controllerId` if it is not older than the highest seen; false means the request must
    /// be refused with STALE_CONTROLLER_EPOCH (Kafka's check at the top of every controller request handler).
    func admitController(_ controllerId: Int32, epoch: Int32) -> Bool {
        state.withLockedValue { s in
            guard ControlFence.admits(requestEpoch: epoch, highestSeen: s.controllerEpoch) else { return false }
            s.controllerEpoch = epoch
            s.controllerId = controllerId
            return true
        }
    }

    var controllerEpoch: Int32 { state.withLockedValue { $0.controllerEpoch } }

    /// Set at each registration in `/brokers/ids` (start-up, and again after a session expiry).
    var brokerEpoch: Int64 {
        get { state.withLockedValue { $0.brokerEpoch } }
        set { state.withLockedValue { $0.brokerEpoch = newValue } }
    }

    /// Whether a controller request was meant for an earlier registration of this broker (STALE_BROKER_EPOCH).
    func isStale(brokerEpoch requestEpoch: Int64) -> Bool {
        ControlFence.isBrokerEpochStale(requestEpoch: requestEpoch, current: brokerEpoch)
    }
    var controllerId: Int32? { state.withLockedValue { $0.controllerId } }
    var isInitialized: Bool { state.withLockedValue { $0.initialized } }

    func leadership(of tp: TopicPartition) -> PartitionLeadership? { state.withLockedValue { $0.partitions[tp] } }

    func liveBrokers() -> [Int32: ClusterBroker] { state.withLockedValue { $0.liveBrokers } }

    /// UpdateMetadata: the states it carries replace ours (a leader of -2, Kafka's LeaderDuringDelete, removes the
    /// partition); the live broker list is replaced whole.
    func update(partitions: [(TopicPartition, PartitionLeadership)], liveBrokers: [Int32: ClusterBroker]) {
        state.withLockedValue { s in
            for (tp, l) in partitions {
                s.partitions[tp] = l.leader == ControlFence.leaderDuringDelete ? nil : l
            }
            s.liveBrokers = liveBrokers
            s.initialized = true
        }
    }

    /// A leader's own ISR change is known here before the controller's UpdateMetadata echoes it.
    func updateIsr(_ tp: TopicPartition, _ l: PartitionLeadership) {
        state.withLockedValue { s in
            if let old = s.partitions[tp], old.leaderEpoch > l.leaderEpoch { return }
            s.partitions[tp] = l
        }
    }

    func remove(_ tp: TopicPartition) { _ = state.withLockedValue { $0.partitions.removeValue(forKey: tp) } }
}

/// The epoch rules of the controller requests, as Kafka's ReplicaManager applies them.
enum ControlFence {
    /// Kafka's LeaderAndIsr.LeaderDuringDelete: UpdateMetadata marks the partitions of a topic being deleted.
    static let leaderDuringDelete: Int32 = -2

    /// Kafka's AbstractControlRequest.UNKNOWN_BROKER_EPOCH: a controller that does not send broker epochs.
    static let unknownBrokerEpoch: Int64 = -1

    /// KIP-380 (KafkaApis.isBrokerEpochStale): a LeaderAndIsr / UpdateMetadata / StopReplica, or a ControlledShutdown
    /// at the controller, whose broker epoch is older than the broker's current one was meant for an earlier
    /// incarnation of it (before a session expiry or a restart). An unknown epoch (-1) always passes, and so does
    /// a newer one: the controller may learn a new registration before the broker itself does.
    static func isBrokerEpochStale(requestEpoch: Int64, current: Int64) -> Bool {
        requestEpoch != unknownBrokerEpoch && requestEpoch < current
    }

    /// A request from a controller epoch below the highest seen comes from a deposed controller.
    static func admits(requestEpoch: Int32, highestSeen: Int32) -> Bool { requestEpoch >= highestSeen }

    /// LeaderAndIsr per partition (ReplicaManager.becomeLeaderOrFollower): a state is applied only with a leader
    /// epoch newer than the one the replica holds; an equal or older one is answered STALE_CONTROLLER_EPOCH for
    /// that partition and ignored. A replica that has had no role yet takes any epoch.
    static func leaderAndIsrError(requestLeaderEpoch: Int32, current: Int32?) -> ErrorCode {
        guard let current else { return .none }
        return requestLeaderEpoch > current ? .none : .staleControllerEpoch
    }
}
