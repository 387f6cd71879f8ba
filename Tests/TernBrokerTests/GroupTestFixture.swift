import Foundation
import KafkaProtocol
import NIOCore
import NIOPosix
import Testing
import TernNetwork

@testable import TernBroker

/// A started broker (coordinator loaded) on a fresh log dir, driven through the real dispatcher: requests are
/// encoded at a version, framed with a request header and answered through `Broker.handle`, so what is tested is
/// what a client on the wire gets, including `SupportedApis`.
final class GroupFixture: @unchecked Sendable {
    let dir: String
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    let configure: @Sendable (inout BrokerConfig) -> Void
    private(set) var broker: Broker
    private let lock = NSLock()
    private var lastCorrelationId: Int32 = 0

    init(_ configure: @escaping @Sendable (inout BrokerConfig) -> Void = { _ in }) async throws {
        dir = NSTemporaryDirectory() + "tern-group-\(UUID().uuidString)"
        self.configure = configure
        broker = try Self.open(dir: dir, group: group, configure)
        try await startBroker()
    }

    private static func open(dir: String, group: any EventLoopGroup, _ configure: (inout BrokerConfig) -> Void) throws -> Broker {
        var config = BrokerConfig()
        config.logDirs = [dir]
        config.raw["log.dirs"] = dir
        // Few partitions keep each test's topic creation cheap; no initial delay so a lone member joins at once.
        config.offsetsTopicNumPartitions = 4
        config.groupInitialRebalanceDelayMs = 0
        config.groupMinSessionTimeoutMs = 100
        configure(&config)
        return try Broker(config: config, eventLoopGroup: group)
    }

    private func startBroker() async throws {
        try broker.start()
        try await waitUntilLoaded()
    }

    func waitUntilLoaded() async throws {
        for _ in 0..<2000 {
            if case .ready = broker.coordinator.availability() { return }
            try await Task.sleep(for: .milliseconds(5))
        }
        Issue.record("the group coordinator did not finish loading")
    }

    /// Clean shutdown and a new broker on the same directory, started.
    func restart() async throws {
        broker.shutdown()
        try await reopen(start: true)
    }

    /// A new broker on the same directory (the old one must be shut down), optionally started.
    func reopen(start: Bool) async throws {
        broker = try Self.open(dir: dir, group: group, configure)
        if start { try await startBroker() }
    }

    /// Sends `request` at `version` through the dispatcher and decodes the answer at the same version.
    /// Group requests of one connection are served one after the other, as in Kafka: members that wait on each
    /// other need their own `connection`.
    func send<Req: KafkaRequestMessage>(_ request: Req, _ version: Int16, connection: UInt64 = 1) async throws -> Req.Response {
        try await dispatch(request, version, connection: connection).get()
    }

    /// Hands the request to the dispatcher at once (pipelining); the returned value decodes the answer.
    func dispatch<Req: KafkaRequestMessage>(_ request: Req, _ version: Int16, connection: UInt64 = 1) throws -> PendingResponse<Req> {
        let correlationId = lock.withLock {
            lastCorrelationId += 1
            return lastCorrelationId
        }
        let key = Req.apiKey
        var header = RequestHeader()
        header.requestApiKey = key.rawValue
        header.requestApiVersion = version
        header.correlationId = correlationId
        header.clientId = "group-tests"
        var frame = ByteBuffer()
        try header.write(to: &frame, version: key.requestHeaderVersion(version))
        try request.write(to: &frame, version: version)
        let context = ConnectionContext(
            connectionId: connection, remoteAddress: "127.0.0.1:50000", listenerName: "PLAINTEXT", securityProtocol: .plaintext,
            principal: "User:ANONYMOUS", allocator: ByteBufferAllocator())
        let future = broker.handle(
            KafkaRequestFrame(apiKey: key.rawValue, apiVersion: version, correlationId: correlationId, frame: frame),
            context: context, eventLoop: group.next())
        return PendingResponse(future: future, version: version, correlationId: correlationId)
    }

    @discardableResult
    func createTopic(_ name: String, partitions: Int32 = 1) throws -> TopicMetadata {
        try broker.createTopic(name: name, partitions: partitions, replicationFactor: 1)
    }

    deinit {
        broker.shutdown()
        try? group.syncShutdownGracefully()
        try? FileManager.default.removeItem(atPath: dir)
    }
}

struct PendingResponse<Req: KafkaRequestMessage> {
    let future: EventLoopFuture<ByteBuffer?>
    let version: Int16
    let correlationId: Int32

    func get() async throws -> Req.Response {
        let key = Req.apiKey
        var out = try #require(try await future.get())
        let responseHeader = try ResponseHeader(from: &out, version: key.responseHeaderVersion(version))
        #expect(responseHeader.correlationId == correlationId)
        let response = try Req.Response(from: &out, version: version)
        #expect(out.readableBytes == 0, "\(key.name) v\(version) response has \(out.readableBytes) trailing bytes")
        return response
    }
}

// MARK: - Request builders

enum GroupRequests {
    static func join(_ groupId: String, memberId: String = "", instanceId: String? = nil, sessionTimeoutMs: Int32 = 10_000,
                     protocols: [String] = ["range"]) -> JoinGroupRequest {
        var r = JoinGroupRequest()
        r.groupId = groupId
        r.sessionTimeoutMs = sessionTimeoutMs
        r.rebalanceTimeoutMs = 10_000
        r.memberId = memberId
        r.groupInstanceId = instanceId
        r.protocolType = "consumer"
        r.protocols = protocols.map {
            var p = JoinGroupRequest.JoinGroupRequestProtocol()
            p.name = $0
            p.metadata = ByteBuffer(bytes: [0, 1, 2])
            return p
        }
        return r
    }

    static func sync(_ groupId: String, generation: Int32, memberId: String, assignments: [String: [UInt8]] = [:]) -> SyncGroupRequest {
        var r = SyncGroupRequest()
        r.groupId = groupId
        r.generationId = generation
        r.memberId = memberId
        r.protocolType = "consumer"
        r.protocolName = "range"
        r.assignments = assignments.keys.sorted().map {
            var a = SyncGroupRequest.SyncGroupRequestAssignment()
            a.memberId = $0
            a.assignment = ByteBuffer(bytes: assignments[$0]!)
            return a
        }
        return r
    }

    static func heartbeat(_ groupId: String, generation: Int32, memberId: String) -> HeartbeatRequest {
        var r = HeartbeatRequest()
        r.groupId = groupId
        r.generationId = generation
        r.memberId = memberId
        return r
    }

    static func commit(_ groupId: String, generation: Int32 = -1, memberId: String = "",
                       _ offsets: [(String, Int32, Int64)]) -> OffsetCommitRequest {
        var r = OffsetCommitRequest()
        r.groupId = groupId
        r.generationIdOrMemberEpoch = generation
        r.memberId = memberId
        var topics: [String: [OffsetCommitRequest.OffsetCommitRequestPartition]] = [:]
        var order: [String] = []
        for (topic, partition, offset) in offsets {
            if topics[topic] == nil { order.append(topic) }
            var p = OffsetCommitRequest.OffsetCommitRequestPartition()
            p.partitionIndex = partition
            p.committedOffset = offset
            p.committedMetadata = "m\(offset)"
            topics[topic, default: []].append(p)
        }
        r.topics = order.map {
            var t = OffsetCommitRequest.OffsetCommitRequestTopic()
            t.name = $0
            t.partitions = topics[$0]!
            return t
        }
        return r
    }

    /// OffsetFetch for one group in the version's own shape (v8+ `groups`).
    static func fetch(_ groupId: String, _ topics: [String: [Int32]]?, version: Int16) -> OffsetFetchRequest {
        var r = OffsetFetchRequest()
        if version >= 8 {
            var g = OffsetFetchRequest.OffsetFetchRequestGroup()
            g.groupId = groupId
            g.topics = topics.map { byName in byName.keys.sorted().map { name in
                var t = OffsetFetchRequest.OffsetFetchRequestTopics()
                t.name = name
                t.partitionIndexes = byName[name]!
                return t
            } }
            r.groups = [g]
        } else {
            r.groupId = groupId
            r.topics = topics.map { byName in byName.keys.sorted().map { name in
                var t = OffsetFetchRequest.OffsetFetchRequestTopic()
                t.name = name
                t.partitionIndexes = byName[name]!
                return t
            } }
        }
        return r
    }
}

/// (topic, partition, offset, error) of an OffsetFetch answer of any version, sorted.
func fetchedOffsets(_ r: OffsetFetchResponse, version: Int16) -> [(String, Int32, Int64, Int16)] {
    var out: [(String, Int32, Int64, Int16)] = []
    if version >= 8 {
        for g in r.groups { for t in g.topics { for p in t.partitions { out.append((t.name, p.partitionIndex, p.committedOffset, p.errorCode)) } } }
    } else {
        for t in r.topics { for p in t.partitions { out.append((t.name, p.partitionIndex, p.committedOffset, p.errorCode)) } }
    }
    return out.sorted { ($0.0, $0.1) < ($1.0, $1.1) }
}
