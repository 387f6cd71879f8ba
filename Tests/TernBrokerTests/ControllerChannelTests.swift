import KafkaProtocol
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Testing
import TernNetwork
import TernStorage

@testable import TernBroker

/// A broker stand-in that records the controller requests it receives (api key, controller epoch) and drops the
/// connection on the first `failFirst` of them without answering, as a broker that dies mid-request would.
final class RecordingBroker: KafkaRequestHandler {
    let seen = NIOLockedValueBox<[(key: Int16, epoch: Int32, answered: Bool)]>([])
    /// The broker epoch (KIP-380) of every request received.
    let brokerEpochs = NIOLockedValueBox<[Int64]>([])
    let failFirst: Int

    init(failFirst: Int) { self.failFirst = failFirst }

    var answered: [(key: Int16, epoch: Int32)] { seen.withLockedValue { $0.filter(\.answered).map { ($0.key, $0.epoch) } } }

    func handle(_ request: KafkaRequestFrame, context: ConnectionContext) async throws -> ByteBuffer? {
        var body = request.frame
        _ = try RequestHeader(from: &body, version: 2)
        let version = request.apiVersion
        var out = ByteBuffer()
        var header = ResponseHeader()
        header.correlationId = request.correlationId
        try header.write(to: &out, version: 1)
        let epoch: Int32
        let brokerEpoch: Int64
        switch request.apiKey {
        case ApiKey.leaderAndIsr.rawValue:
            let r = try LeaderAndIsrRequest(from: &body, version: version)
            (epoch, brokerEpoch) = (r.controllerEpoch, r.brokerEpoch)
            try LeaderAndIsrResponse().write(to: &out, version: version)
        case ApiKey.updateMetadata.rawValue:
            let r = try UpdateMetadataRequest(from: &body, version: version)
            (epoch, brokerEpoch) = (r.controllerEpoch, r.brokerEpoch)
            try UpdateMetadataResponse().write(to: &out, version: version)
        default:
            let stop = try StopReplicaRequest(from: &body, version: version)
            (epoch, brokerEpoch) = (stop.controllerEpoch, stop.brokerEpoch)
            var r = StopReplicaResponse()
            var e = StopReplicaResponse.StopReplicaPartitionError()
            e.topicName = "t"
            r.partitionErrors = [e]
            try r.write(to: &out, version: version)
        }
        brokerEpochs.withLockedValue { $0.append(brokerEpoch) }
        let fail = seen.withLockedValue { s -> Bool in
            let fail = s.count < failFirst
            s.append((request.apiKey, epoch, !fail))
            return fail
        }
        if fail { throw ChannelError.ioOnClosedChannel }  // closes the connection unanswered
        return out
    }
}

struct ControllerChannelTests {
    func header(_ epoch: Int32) -> ControllerRequests.Header { .init(controllerId: 1, controllerEpoch: epoch) }

    @Test func requestsArriveInOrderAndAFailedOneIsRetried() async throws {
        let broker = RecordingBroker(failFirst: 1)
        let server = KafkaServer(
            configuration: .init(listeners: [KafkaListener(name: "PLAINTEXT", host: "127.0.0.1", port: 0, securityProtocol: .plaintext)]),
            requestHandler: broker, logger: Logger(label: "test"))
        let port = try #require(try await server.start().first?.port)
        let acks = NIOLockedValueBox(0)
        let channel = ControllerChannel(brokerId: 7, brokerEpoch: 4242, logger: Logger(label: "test")) {
            try await BrokerLink.connect(host: "127.0.0.1", port: port, clientId: "controller", group: MultiThreadedEventLoopGroup.singleton)
        }
        channel.enqueue(.leaderAndIsr(ControllerRequests.leaderAndIsr(header(1), [], liveLeaders: [], listener: "PLAINTEXT")))
        channel.enqueue(.updateMetadata(ControllerRequests.updateMetadata(header(2), [], live: [])))
        channel.enqueue(.stopReplica(
            ControllerRequests.stopReplica(header(3), [(TopicPartition(topic: "t", partition: 0), -2)], delete: true),
            onAck: { response in if response.partitionErrors.count == 1 { acks.withLockedValue { $0 += 1 } } }))
        // The broker records an answer before the channel reads it: wait for both.
        for _ in 0..<200 where broker.answered.count < 3 || channel.pendingCount > 0 { try await Task.sleep(for: .milliseconds(20)) }
        let answered = broker.answered
        #expect(answered.map(\.key) == [ApiKey.leaderAndIsr.rawValue, ApiKey.updateMetadata.rawValue, ApiKey.stopReplica.rawValue])
        #expect(answered.map(\.epoch) == [1, 2, 3], "in the order queued")
        #expect(broker.seen.withLockedValue { $0.count } == 4, "the unanswered LeaderAndIsr was sent again")
        #expect(acks.withLockedValue { $0 } == 1)
        #expect(broker.brokerEpochs.withLockedValue { $0 } == [4242, 4242, 4242, 4242], "every request carries the registration's epoch")
        #expect(channel.pendingCount == 0)

        // A stopped channel (the broker's registration is gone) sends nothing more.
        channel.stop()
        channel.enqueue(.updateMetadata(ControllerRequests.updateMetadata(header(4), [], live: [])))
        try await Task.sleep(for: .milliseconds(100))
        #expect(broker.seen.withLockedValue { $0.count } == 4)
        await server.shutdown(gracePeriod: .seconds(2))
    }
}
