import KafkaProtocol
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Testing
import TernNetwork

@testable import TernBroker

/// A peer that reads requests and never answers them.
private struct SilentBroker: KafkaRequestHandler {
    func handle(_ request: KafkaRequestFrame, context: ConnectionContext) async throws -> ByteBuffer? { nil }
}

/// `BrokerLink.send` must always end. Its owners (the replica fetcher, the controller channel) keep a link between
/// requests and only replace it after a call fails: a call that never returns stops that follower's replication
/// (or that broker's controller requests) for good.
struct BrokerLinkTests {
    private func server(_ handler: some KafkaRequestHandler) async throws -> (KafkaServer, Int) {
        let server = KafkaServer(
            configuration: .init(listeners: [KafkaListener(name: "PLAINTEXT", host: "127.0.0.1", port: 0, securityProtocol: .plaintext)]),
            requestHandler: handler, logger: Logger(label: "test"))
        let port = try #require(try await server.start().first?.port)
        return (server, port)
    }

    private var request: LeaderAndIsrRequest {
        ControllerRequests.leaderAndIsr(.init(controllerId: 1, controllerEpoch: 1), [], liveLeaders: [], listener: "PLAINTEXT")
    }

    /// Runs one send without awaiting it (a hung send cannot be cancelled) and waits up to `within` for it to end.
    private func outcome(of link: BrokerLink, within: Duration) async throws -> String? {
        let result = NIOLockedValueBox<String?>(nil)
        let request = self.request
        Task.detached {
            do {
                _ = try await link.send(request, version: ControllerRequests.leaderAndIsrVersion, flexible: true)
                result.withLockedValue { $0 = "answered" }
            } catch {
                result.withLockedValue { $0 = "failed: \(error)" }
            }
        }
        let deadline = ContinuousClock.now + within
        while result.withLockedValue({ $0 }) == nil && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        return result.withLockedValue { $0 }
    }

    @Test func aSendOnALinkWhosePeerClosedBetweenRequestsFailsRatherThanWaitingForever() async throws {
        let broker = RecordingBroker(failFirst: 100)  // drops the connection on every request
        let (server, port) = try await server(broker)
        let link = try await BrokerLink.connect(host: "127.0.0.1", port: port, clientId: "test", group: MultiThreadedEventLoopGroup.singleton)
        #expect(try await outcome(of: link, within: .seconds(10))?.hasPrefix("failed") == true, "the peer closed while it was pending")
        for _ in 0..<250 where link.channel.isActive { try await Task.sleep(for: .milliseconds(20)) }
        #expect(!link.channel.isActive)

        // The owner still holds this link (a fetcher whose partitions moved to another leader meanwhile, say).
        let second = try await outcome(of: link, within: .seconds(10))
        #expect(second?.hasPrefix("failed") == true, "a send on a closed link fails at once (got \(second ?? "no answer"))")
        #expect(broker.seen.withLockedValue { $0.count } == 1, "nothing went out on the closed link")
        await server.shutdown(gracePeriod: .seconds(2))
    }

    @Test func aRequestTheLeaderNeverAnswersTimesOutAndClosesTheLink() async throws {
        let (server, port) = try await server(SilentBroker())
        let link = try await BrokerLink.connect(
            host: "127.0.0.1", port: port, clientId: "test", group: MultiThreadedEventLoopGroup.singleton, requestTimeout: .milliseconds(200))
        let got = try await outcome(of: link, within: .seconds(10))
        #expect(got?.contains("no response within 200 ms") == true, "got \(got ?? "no answer")")
        for _ in 0..<250 where link.channel.isActive { try await Task.sleep(for: .milliseconds(20)) }
        #expect(!link.channel.isActive, "a late reply would be out of step: the connection is closed")
        await server.shutdown(gracePeriod: .seconds(2))
    }
}
