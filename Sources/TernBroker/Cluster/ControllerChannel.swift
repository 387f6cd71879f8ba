import FoundationEssentials
import KafkaProtocol
import Logging
import NIOConcurrencyHelpers

/// A controller request on its way to one broker; `onAck` hears the broker's response.
enum ControllerRequest: Sendable {
    case leaderAndIsr(LeaderAndIsrRequest)
    case updateMetadata(UpdateMetadataRequest)
    case stopReplica(StopReplicaRequest, onAck: @Sendable (StopReplicaResponse) -> Void)

    var name: String {
        switch self {
        case .leaderAndIsr: "LeaderAndIsr"
        case .updateMetadata: "UpdateMetadata"
        case .stopReplica: "StopReplica"
        }
    }

    /// The request as sent to the registration with `brokerEpoch` (one UpdateMetadata goes to every broker).
    func stamped(brokerEpoch: Int64) -> ControllerRequest {
        switch self {
        case .leaderAndIsr(var r): r.brokerEpoch = brokerEpoch; return .leaderAndIsr(r)
        case .updateMetadata(var r): r.brokerEpoch = brokerEpoch; return .updateMetadata(r)
        case .stopReplica(var r, let onAck): r.brokerEpoch = brokerEpoch; return .stopReplica(r, onAck: onAck)
        }
    }

    fileprivate func send(on link: BrokerLink) async throws -> Int16 {
        switch self {
        case .leaderAndIsr(let r):
            return try await link.send(r, version: ControllerRequests.leaderAndIsrVersion, flexible: true).errorCode
        case .updateMetadata(let r):
            return try await link.send(r, version: ControllerRequests.updateMetadataVersion, flexible: true).errorCode
        case .stopReplica(let r, let onAck):
            let response = try await link.send(r, version: ControllerRequests.stopReplicaVersion, flexible: true)
            onAck(response)
            return response.errorCode
        }
    }
}

/// The controller's connection to one broker (Kafka's RequestSendThread): requests go out one at a time in the
/// order they were queued; a request that fails to get an answer (no connection, connection lost) is retried on a
/// new connection after a backoff until the broker answers or the channel is stopped (its registration went away).
/// An answer with an error code counts as delivered: the broker saw it and judged it (a stale epoch stays stale).
/// The queue is bounded: past `maxQueued` the oldest UpdateMetadata requests are dropped (a later one carries
/// newer states); role and stop requests are never dropped.
/// A channel serves one registration of the broker: every request carries its `brokerEpoch` (KIP-380), and a
/// broker that registers anew (a new epoch) gets a new channel.
final class ControllerChannel: Sendable {
    let brokerId: Int32
    let brokerEpoch: Int64
    static let maxQueued = 10_000
    private struct Pending: Sendable {
        var id: UInt64
        var request: ControllerRequest
    }
    private struct State {
        var queue: [Pending] = []
        var nextId: UInt64 = 0
        var running = false
        var stopped = false
        var link: BrokerLink?
    }
    private let state = NIOLockedValueBox(State())
    private let connect: @Sendable () async throws -> BrokerLink
    private let logger: Logger

    init(brokerId: Int32, brokerEpoch: Int64 = -1, logger: Logger, connect: @escaping @Sendable () async throws -> BrokerLink) {
        self.brokerId = brokerId
        self.brokerEpoch = brokerEpoch
        self.logger = logger
        self.connect = connect
    }

    func enqueue(_ request: ControllerRequest) {
        let start = state.withLockedValue { s -> Bool in
            guard !s.stopped else { return false }
            s.nextId += 1
            s.queue.append(Pending(id: s.nextId, request: request.stamped(brokerEpoch: brokerEpoch)))
            if s.queue.count > Self.maxQueued, let i = s.queue.firstIndex(where: { if case .updateMetadata = $0.request { true } else { false } }) {
                s.queue.remove(at: i)
            }
            defer { s.running = true }
            return !s.running
        }
        if start { Task.detached { await self.run() } }
    }

    /// The broker's registration is gone: pending requests are dropped and the connection closed.
    func stop() {
        let link = state.withLockedValue { s -> BrokerLink? in
            s.stopped = true
            s.queue = []
            defer { s.link = nil }
            return s.link
        }
        link?.close()
    }

    var pendingCount: Int { state.withLockedValue { $0.queue.count } }

    private func run() async {
        var backoffMs = 100
        while true {
            let next = state.withLockedValue { s -> (Pending, BrokerLink?)? in
                guard !s.stopped, let first = s.queue.first else {
                    s.running = false
                    return nil
                }
                return (first, s.link)
            }
            guard let (pending, existing) = next else { return }
            do {
                let link: BrokerLink
                if let existing {
                    link = existing
                } else {
                    link = try await connect()
                    let kept = state.withLockedValue { s -> Bool in
                        guard !s.stopped else { return false }
                        s.link = link
                        return true
                    }
                    if !kept { link.close(); continue }
                }
                let code = try await pending.request.send(on: link)
                if code != 0 {
                    logger.info("broker \(brokerId) answered \(pending.request.name) with error \(code)")
                }
                state.withLockedValue { s in
                    if s.queue.first?.id == pending.id { s.queue.removeFirst() }
                }
                backoffMs = 100
            } catch {
                let link = state.withLockedValue { s -> BrokerLink? in defer { s.link = nil }; return s.link }
                link?.close()
                logger.debug("controller channel to broker \(brokerId): \(pending.request.name) not delivered (\(error)); retrying in \(backoffMs) ms")
                try? await Task.sleep(for: .milliseconds(backoffMs))
                backoffMs = min(backoffMs * 2, 1000)
            }
        }
    }
}
