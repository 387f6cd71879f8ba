import Foundation
import KafkaProtocol
import NIOCore
import NIOPosix
import Testing
import TernNetwork
import TernStorage

@testable import TernBroker

/// A broker on a fresh temporary log dir whose handlers the tests call directly (no sockets).
final class AdminFixture {
    let dir: String
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    let configure: (inout BrokerConfig) -> Void
    private(set) var broker: Broker

    init(_ configure: @escaping (inout BrokerConfig) -> Void = { _ in }) throws {
        dir = NSTemporaryDirectory() + "tern-admin-\(UUID().uuidString)"
        self.configure = configure
        broker = try Self.open(dir: dir, group: group, configure)
    }

    private static func open(
        dir: String, group: any EventLoopGroup, _ configure: (inout BrokerConfig) -> Void
    ) throws -> Broker {
        var config = BrokerConfig()
        config.logDirs = [dir]
        config.raw["log.dirs"] = dir
        configure(&config)
        return try Broker(config: config, eventLoopGroup: group)
    }

    /// Shuts the broker down and opens a new one on the same directory (what survives a restart).
    func restart() throws {
        broker.shutdown()
        broker = try Self.open(dir: dir, group: group, configure)
    }

    func ctx(_ key: ApiKey, _ version: Int16) -> RequestContext {
        var header = RequestHeader()
        header.requestApiKey = key.rawValue
        header.requestApiVersion = version
        header.clientId = "admin-tests"
        return RequestContext(
            header: header, apiKey: key, apiVersion: version,
            connection: ConnectionContext(connectionId: 1, remoteAddress: "127.0.0.1:1", listenerName: "PLAINTEXT"),
            eventLoop: group.next())
    }

    @discardableResult
    func createTopic(_ name: String, partitions: Int32 = 1, configs: [String: String] = [:]) throws -> TopicMetadata {
        try broker.createTopic(name: name, partitions: partitions, replicationFactor: 1, configs: configs)
    }

    /// Appends `count` one-record batches to a partition.
    func append(_ topic: String, _ partition: Int32, count: Int) throws {
        let p = try #require(broker.replicaManager.partition(topic: topic, index: partition))
        for i in 0..<count {
            var builder = RecordBatchBuilder()
            builder.append(key: nil, value: ByteBuffer(string: "value-\(i)"), timestamp: Broker.nowMs())
            try p.appendInternal(builder.build())
        }
    }

    deinit {
        broker.shutdown()
        try? group.syncShutdownGracefully()
        try? FileManager.default.removeItem(atPath: dir)
    }
}

/// Encodes and decodes a response at every version of `versions`, as the dispatcher would send it.
func roundTrips<R: KafkaMessage & Equatable>(_ response: R, _ versions: ClosedRange<Int16>) throws {
    for v in versions {
        var buffer = ByteBuffer()
        try response.write(to: &buffer, version: v)
        _ = try R(from: &buffer, version: v)
        #expect(buffer.readableBytes == 0, "v\(v) left bytes")
    }
}

// MARK: - CreatePartitions

@Suite struct CreatePartitionsTests {
    func request(_ topic: String, _ count: Int32, assignments: [[Int32]]? = nil, validateOnly: Bool = false)
        -> CreatePartitionsRequest
    {
        var t = CreatePartitionsRequest.CreatePartitionsTopic()
        t.name = topic
        t.count = count
        t.assignments = assignments.map { $0.map { var a = CreatePartitionsRequest.CreatePartitionsAssignment(); a.brokerIds = $0; return a } }
        var r = CreatePartitionsRequest()
        r.topics = [t]
        r.validateOnly = validateOnly
        return r
    }

    @Test func growsPersistsAndCreatesLogs() throws {
        let f = try AdminFixture()
        try f.createTopic("t", partitions: 2)
        let ok = try f.broker.createPartitions(request("t", 5, assignments: nil), f.ctx(.createPartitions, 3))
        #expect(ok.results.map(\.errorCode) == [0])
        #expect(ok.results[0].errorMessage == nil)
        #expect(f.broker.metadataStore.topic(named: "t")?.partitionCount == 5)
        #expect(f.broker.replicaManager.partition(topic: "t", index: 4) != nil)
        try roundTrips(ok, 0...3)
        try f.restart()
        #expect(f.broker.metadataStore.topic(named: "t")?.partitionCount == 5)
        #expect(f.broker.replicaManager.partition(topic: "t", index: 4) != nil)
    }

    @Test func onlyIncreases() throws {
        let f = try AdminFixture()
        try f.createTopic("t", partitions: 3)
        for count: Int32 in [2, 3] {
            let r = try f.broker.createPartitions(request("t", count), f.ctx(.createPartitions, 3))
            #expect(r.results[0].errorCode == ErrorCode.invalidPartitions.rawValue)
        }
        #expect(f.broker.metadataStore.topic(named: "t")?.partitionCount == 3)
    }

    @Test func validateOnlyChangesNothing() throws {
        let f = try AdminFixture()
        try f.createTopic("t", partitions: 1)
        let r = try f.broker.createPartitions(request("t", 4, validateOnly: true), f.ctx(.createPartitions, 3))
        #expect(r.results[0].errorCode == 0)
        #expect(f.broker.metadataStore.topic(named: "t")?.partitionCount == 1)
        #expect(f.broker.replicaManager.partition(topic: "t", index: 1) == nil)
    }

    @Test func assignmentsAreChecked() throws {
        let f = try AdminFixture()
        try f.createTopic("t", partitions: 1)
        let bad: [[[Int32]]] = [[[0]], [[5], [0]], [[0, 0], [0]], [[], [0]]]
        for assignments in bad {
            let r = try f.broker.createPartitions(request("t", 3, assignments: assignments), f.ctx(.createPartitions, 3))
            #expect(r.results[0].errorCode == ErrorCode.invalidReplicaAssignment.rawValue, "\(assignments)")
        }
        let r = try f.broker.createPartitions(request("t", 3, assignments: [[0], [0]]), f.ctx(.createPartitions, 3))
        #expect(r.results[0].errorCode == 0)
        #expect(f.broker.metadataStore.topic(named: "t")?.assignment == [[0], [0], [0]])
    }

    @Test func unknownAndDuplicateTopics() throws {
        let f = try AdminFixture()
        try f.createTopic("t", partitions: 1)
        var req = request("t", 2)
        req.topics += req.topics
        req.topics += request("missing", 2).topics
        let r = try f.broker.createPartitions(req, f.ctx(.createPartitions, 3))
        #expect(r.results.map(\.errorCode) == [
            ErrorCode.invalidRequest.rawValue, ErrorCode.invalidRequest.rawValue, ErrorCode.unknownTopicOrPartition.rawValue,
        ])
        #expect(f.broker.metadataStore.topic(named: "t")?.partitionCount == 1)
    }
}

// MARK: - DeleteRecords

@Suite struct DeleteRecordsTests {
    func request(_ topic: String, _ offsets: [Int32: Int64]) -> DeleteRecordsRequest {
        var t = DeleteRecordsRequest.DeleteRecordsTopic()
        t.name = topic
        t.partitions = offsets.sorted { $0.key < $1.key }.map {
            var p = DeleteRecordsRequest.DeleteRecordsPartition()
            p.partitionIndex = $0.key
            p.offset = $0.value
            return p
        }
        var r = DeleteRecordsRequest()
        r.topics = [t]
        return r
    }

    func results(_ r: DeleteRecordsResponse) -> [Int32: (Int16, Int64)] {
        Dictionary(uniqueKeysWithValues: r.topics[0].partitions.map { ($0.partitionIndex, ($0.errorCode, $0.lowWatermark)) })
    }

    @Test func movesTheLogStartOffset() throws {
        let f = try AdminFixture()
        try f.createTopic("t", partitions: 3)
        for p: Int32 in 0..<3 { try f.append("t", p, count: 10) }
        let r = try f.broker.deleteRecords(request("t", [0: 4, 1: -1, 2: 11, 7: 0]), f.ctx(.deleteRecords, 2))
        let got = results(r)
        #expect(got[0]! == (0, 4))
        #expect(got[1]! == (0, 10))  // -1: the high watermark
        #expect(got[2]! == (ErrorCode.offsetOutOfRange.rawValue, -1))
        #expect(got[7]! == (ErrorCode.unknownTopicOrPartition.rawValue, -1))
        #expect(f.broker.replicaManager.partition(topic: "t", index: 0)?.log.logStartOffset == 4)
        #expect(f.broker.replicaManager.partition(topic: "t", index: 2)?.log.logStartOffset == 0)
        try roundTrips(r, 0...2)
        // Backwards is a no-op answering the current low watermark; below -1 is out of range.
        let again = results(try f.broker.deleteRecords(request("t", [0: 2, 2: -2]), f.ctx(.deleteRecords, 2)))
        #expect(again[0]! == (0, 4))
        #expect(again[2]! == (ErrorCode.offsetOutOfRange.rawValue, -1))
    }

    @Test func compactedTopicsRefuse() throws {
        let f = try AdminFixture()
        try f.createTopic("c", configs: ["cleanup.policy": "compact"])
        try f.append("c", 0, count: 3)
        let r = results(try f.broker.deleteRecords(request("c", [0: 1]), f.ctx(.deleteRecords, 2)))
        #expect(r[0]! == (ErrorCode.policyViolation.rawValue, -1))
    }

    @Test func unknownTopic() throws {
        let f = try AdminFixture()
        let r = results(try f.broker.deleteRecords(request("nope", [0: 1]), f.ctx(.deleteRecords, 0)))
        #expect(r[0]! == (ErrorCode.unknownTopicOrPartition.rawValue, -1))
    }
}

// MARK: - DescribeConfigs

@Suite struct DescribeConfigsTests {
    func request(_ resources: [(Int8, String, [String]?)], synonyms: Bool = false) -> DescribeConfigsRequest {
        var r = DescribeConfigsRequest()
        r.includeSynonyms = synonyms
        r.resources = resources.map { type, name, keys in
            var res = DescribeConfigsRequest.DescribeConfigsResource()
            res.resourceType = type
            res.resourceName = name
            res.configurationKeys = keys
            return res
        }
        return r
    }

    func fixture() throws -> AdminFixture {
        try AdminFixture { c in
            c.logRetentionMs = 48 * 3_600_000
            c.raw["log.retention.hours"] = "48"
        }
    }

    @Test func topicConfigsWithSourcesSynonymsAndTypes() throws {
        let f = try fixture()
        try f.createTopic("t", configs: ["cleanup.policy": "compact", "max.message.bytes": "5000"])
        let r = try f.broker.describeConfigs(request([(2, "t", nil)], synonyms: true), f.ctx(.describeConfigs, 4))
        let result = try #require(r.results.first)
        #expect(result.errorCode == 0)
        let configs = Dictionary(uniqueKeysWithValues: result.configs.map { ($0.name, $0) })
        #expect(Set(configs.keys) == Set(LogConfig.names))
        let policy = try #require(configs["cleanup.policy"])
        #expect(policy.value == "compact")
        #expect(policy.configSource == 1)
        #expect(policy.configType == 7)
        #expect(!policy.isDefault && !policy.readOnly && !policy.isSensitive)
        #expect(policy.documentation == nil)
        #expect(policy.synonyms.map { [$0.name, $0.value ?? "-", "\($0.source)"] } == [
            ["cleanup.policy", "compact", "1"], ["log.cleanup.policy", "delete", "5"],
        ])
        let retention = try #require(configs["retention.ms"])
        #expect(retention.value == "172800000")
        #expect(retention.configSource == 4)
        #expect(retention.configType == 5)
        #expect(retention.synonyms.map { [$0.name, $0.value ?? "-", "\($0.source)"] } == [
            ["log.retention.hours", "48", "4"], ["log.retention.hours", "168", "5"],
        ])
        let isr = try #require(configs["min.insync.replicas"])
        #expect(isr.configSource == 5 && isr.isDefault && isr.configType == 3)
        #expect(configs["min.cleanable.dirty.ratio"]?.configType == 6)
        #expect(configs["preallocate"]?.configType == 1)
        #expect(configs["compression.type"]?.configType == 2)
        try roundTrips(r, 1...4)
    }

    @Test func synonymsOnlyWhenAskedAndKeyFilter() throws {
        let f = try fixture()
        try f.createTopic("t")
        let r = try f.broker.describeConfigs(request([(2, "t", ["retention.ms", "no.such.key"])]), f.ctx(.describeConfigs, 1))
        #expect(r.results[0].configs.map(\.name) == ["retention.ms"])
        #expect(r.results[0].configs[0].synonyms.isEmpty)
        let none = try f.broker.describeConfigs(request([(2, "t", [])]), f.ctx(.describeConfigs, 1))
        #expect(none.results[0].configs.isEmpty)
    }

    @Test func topicErrorsArePerResource() throws {
        let f = try fixture()
        try f.createTopic("t")
        let r = try f.broker.describeConfigs(
            request([(2, "missing", nil), (2, "bad/name", nil), (2, "t", ["segment.bytes"]), (99, "x", nil)]),
            f.ctx(.describeConfigs, 4))
        #expect(r.results.map(\.errorCode) == [
            ErrorCode.unknownTopicOrPartition.rawValue, ErrorCode.invalidTopicException.rawValue, 0,
            ErrorCode.invalidRequest.rawValue,
        ])
        #expect(r.results.map(\.resourceName) == ["missing", "bad/name", "t", "x"])
        #expect(r.results[0].configs.isEmpty && r.results[0].errorMessage != nil)
    }

    @Test func brokerResources() throws {
        let f = try AdminFixture { c in
            c.numPartitions = 3
            c.raw["num.partitions"] = "3"
            c.raw["ssl.keystore.password"] = "secret"
        }
        let r = try f.broker.describeConfigs(
            request([(4, "0", nil), (4, "", nil), (4, "1", nil), (4, "zero", nil), (8, "0", nil)], synonyms: true),
            f.ctx(.describeConfigs, 4))
        #expect(r.results.map(\.errorCode) == [0, 0, ErrorCode.invalidRequest.rawValue, ErrorCode.invalidRequest.rawValue, 0])
        let configs = Dictionary(uniqueKeysWithValues: r.results[0].configs.map { ($0.name, $0) })
        #expect(configs["num.partitions"]?.value == "3")
        #expect(configs["num.partitions"]?.configSource == 4)
        #expect(configs["num.partitions"]?.configType == 3)
        #expect(configs["num.partitions"]?.readOnly == true)
        #expect(configs["num.partitions"]?.synonyms.map(\.source) == [4, 5])
        #expect(configs["log.dirs"]?.value == f.dir)
        #expect(configs["message.max.bytes"]?.value == "1048588")
        #expect(configs["message.max.bytes"]?.configSource == 5)
        #expect(configs["advertised.listeners"]?.value == nil)
        let password = try #require(configs["ssl.keystore.password"])
        #expect(password.isSensitive && password.value == nil && password.configType == 9)
        #expect(password.synonyms.allSatisfy { $0.value == nil })
        // "" is the cluster-wide dynamic default, which Tern never has; loggers are not exposed.
        #expect(r.results[1].configs.isEmpty)
        #expect(r.results[4].configs.isEmpty)
        try roundTrips(r, 1...4)
    }
}

// MARK: - AlterConfigs and IncrementalAlterConfigs

@Suite struct AlterConfigsTests {
    func alter(_ type: Int8, _ name: String, _ configs: [String: String?], validateOnly: Bool = false) -> AlterConfigsRequest {
        var res = AlterConfigsRequest.AlterConfigsResource()
        res.resourceType = type
        res.resourceName = name
        res.configs = configs.sorted { $0.key < $1.key }.map {
            var c = AlterConfigsRequest.AlterableConfig()
            c.name = $0.key
            c.value = $0.value
            return c
        }
        var r = AlterConfigsRequest()
        r.resources = [res]
        r.validateOnly = validateOnly
        return r
    }

    func incremental(_ name: String, _ ops: [(String, Int8, String?)], type: Int8 = 2, validateOnly: Bool = false)
        -> IncrementalAlterConfigsRequest
    {
        var res = IncrementalAlterConfigsRequest.AlterConfigsResource()
        res.resourceType = type
        res.resourceName = name
        res.configs = ops.map { key, op, value in
            var c = IncrementalAlterConfigsRequest.AlterableConfig()
            c.name = key
            c.configOperation = op
            c.value = value
            return c
        }
        var r = IncrementalAlterConfigsRequest()
        r.resources = [res]
        r.validateOnly = validateOnly
        return r
    }

    func overrides(_ f: AdminFixture, _ topic: String = "t") -> [String: String] {
        f.broker.metadataStore.topic(named: topic)?.configs ?? [:]
    }

    @Test func alterConfigsReplacesAllOverridesAndApplies() throws {
        let f = try AdminFixture()
        try f.createTopic("t", partitions: 2, configs: ["retention.ms": "1000", "cleanup.policy": "compact"])
        let r = try f.broker.alterConfigs(alter(2, "t", ["retention.bytes": "5000", "segment.ms": nil]), f.ctx(.alterConfigs, 2))
        #expect(r.responses.map(\.errorCode) == [0])
        #expect(r.responses[0].errorMessage == nil)
        #expect(overrides(f) == ["retention.bytes": "5000"])
        for p: Int32 in 0..<2 {
            let log = try #require(f.broker.replicaManager.partition(topic: "t", index: p)?.log)
            #expect(log.config.retentionBytes == 5000)
            #expect(log.config.retentionMs == 604_800_000)
            #expect(!log.config.isCompacted)
        }
        try roundTrips(r, 0...2)
        try f.restart()
        #expect(overrides(f) == ["retention.bytes": "5000"])
        #expect(f.broker.replicaManager.partition(topic: "t", index: 1)?.log.config.retentionBytes == 5000)
    }

    @Test func alterConfigsValidation() throws {
        let f = try AdminFixture()
        try f.createTopic("t", configs: ["retention.ms": "1000"])
        let cases: [(AlterConfigsRequest, ErrorCode)] = [
            (alter(2, "t", ["retention.ms": "soon"]), .invalidConfig),
            (alter(2, "t", ["no.such.config": "1"]), .invalidConfig),
            (alter(2, "missing", ["retention.ms": "1"]), .unknownTopicOrPartition),
            (alter(4, "0", ["log.retention.ms": "1"]), .invalidRequest),
            (alter(4, "", ["log.retention.ms": "1"]), .invalidRequest),
            (alter(16, "x", [:]), .invalidRequest),
            (alter(2, "t", ["retention.ms": "5"], validateOnly: true), .none),
        ]
        for (request, code) in cases {
            let r = try f.broker.alterConfigs(request, f.ctx(.alterConfigs, 1))
            #expect(r.responses[0].errorCode == code.rawValue, "\(request.resources[0])")
        }
        #expect(overrides(f) == ["retention.ms": "1000"])
        var twice = alter(2, "t", ["retention.ms": "5"])
        twice.resources += twice.resources
        let r = try f.broker.alterConfigs(twice, f.ctx(.alterConfigs, 2))
        #expect(r.responses.map(\.errorCode) == [ErrorCode.invalidRequest.rawValue, ErrorCode.invalidRequest.rawValue])
        #expect(overrides(f) == ["retention.ms": "1000"])
    }

    @Test func incrementalOperations() throws {
        let f = try AdminFixture()
        try f.createTopic("t", configs: ["retention.ms": "1000"])
        func run(_ ops: [(String, Int8, String?)], validateOnly: Bool = false) throws -> Int16 {
            let r = try f.broker.incrementalAlterConfigs(incremental("t", ops, validateOnly: validateOnly), f.ctx(.incrementalAlterConfigs, 1))
            try roundTrips(r, 0...1)
            return r.responses[0].errorCode
        }
        #expect(try run([("cleanup.policy", 2, "compact")]) == 0)
        #expect(overrides(f) == ["retention.ms": "1000", "cleanup.policy": "delete,compact"])
        #expect(f.broker.replicaManager.partition(topic: "t", index: 0)?.log.config.isCompacted == true)
        #expect(try run([("cleanup.policy", 2, "compact")]) == 0)  // already there: unchanged
        #expect(overrides(f)["cleanup.policy"] == "delete,compact")
        #expect(try run([("cleanup.policy", 3, "delete"), ("retention.ms", 1, nil), ("segment.bytes", 0, "1048576")]) == 0)
        #expect(overrides(f) == ["cleanup.policy": "compact", "segment.bytes": "1048576"])
        #expect(f.broker.replicaManager.partition(topic: "t", index: 0)?.log.config.segmentBytes == 1_048_576)
        #expect(try run([("no.such.config", 1, nil)]) == 0)  // deleting what is not there is a no-op
        #expect(try run([("segment.bytes", 0, "2097152")], validateOnly: true) == 0)
        #expect(overrides(f)["segment.bytes"] == "1048576")
        let failures: [([(String, Int8, String?)], ErrorCode)] = [
            ([("segment.bytes", 0, "-1")], .invalidConfig),
            ([("no.such.config", 0, "1")], .invalidConfig),
            ([("retention.ms", 2, "5")], .invalidConfig),  // APPEND to a non-list config
            ([("cleanup.policy", 2, "shred")], .invalidConfig),
            ([("retention.ms", 0, nil)], .invalidRequest),
            ([("retention.ms", 7, "1")], .invalidRequest),
            ([("retention.ms", 0, "1"), ("retention.ms", 1, nil)], .invalidRequest),
            ([("retention.ms", 0, "1"), ("segment.bytes", 0, "x")], .invalidConfig),  // all or nothing
        ]
        for (ops, code) in failures {
            #expect(try run(ops) == code.rawValue, "\(ops)")
        }
        #expect(overrides(f) == ["cleanup.policy": "compact", "segment.bytes": "1048576"])
        try f.restart()
        #expect(overrides(f) == ["cleanup.policy": "compact", "segment.bytes": "1048576"])
    }

    @Test func incrementalBrokerResourcesAreRejected() throws {
        let f = try AdminFixture()
        for type: Int8 in [4, 8] {
            let r = try f.broker.incrementalAlterConfigs(
                incremental("0", [("log.retention.ms", 0, "1")], type: type), f.ctx(.incrementalAlterConfigs, 1))
            #expect(r.responses[0].errorCode == ErrorCode.invalidRequest.rawValue)
            #expect(r.responses[0].resourceType == type)
        }
    }
}

// MARK: - DescribeLogDirs

@Suite struct DescribeLogDirsTests {
    @Test func listsPartitionsWithSizes() throws {
        let f = try AdminFixture()
        try f.createTopic("a", partitions: 2)
        try f.createTopic("b", partitions: 1)
        try f.append("a", 1, count: 5)
        let all = try f.broker.describeLogDirs(DescribeLogDirsRequest(topics: nil), f.ctx(.describeLogDirs, 4))
        #expect(all.errorCode == 0)
        let dir = try #require(all.results.first)
        #expect(all.results.count == 1)
        #expect(dir.errorCode == 0)
        #expect(dir.logDir == (f.dir as NSString).standardizingPath)
        #expect(dir.totalBytes > 0 && dir.usableBytes >= 0 && dir.usableBytes <= dir.totalBytes)
        #expect(dir.topics.map(\.name) == ["a", "b"])
        let a = dir.topics[0].partitions
        #expect(a.map(\.partitionIndex) == [0, 1])
        #expect(a[0].partitionSize == 0)
        #expect(a[1].partitionSize == f.broker.replicaManager.partition(topic: "a", index: 1)?.log.size)
        #expect(a[1].partitionSize > 0)
        #expect(a.allSatisfy { $0.offsetLag == 0 && !$0.isFutureKey })
        try roundTrips(all, 1...4)

        var one = DescribeLogDirsRequest.DescribableLogDirTopic()
        one.topic = "a"
        one.partitions = [1, 9]
        var missing = DescribeLogDirsRequest.DescribableLogDirTopic()
        missing.topic = "nope"
        missing.partitions = [0]
        let some = try f.broker.describeLogDirs(DescribeLogDirsRequest(topics: [one, missing]), f.ctx(.describeLogDirs, 1))
        #expect(some.results[0].topics.map { "\($0.name):\($0.partitions.map(\.partitionIndex))" } == ["a:[1]"])
        let none = try f.broker.describeLogDirs(DescribeLogDirsRequest(topics: []), f.ctx(.describeLogDirs, 1))
        #expect(none.results.count == 1 && none.results[0].topics.isEmpty)
    }
}

extension DescribeLogDirsRequest {
    init(topics: [DescribableLogDirTopic]?) {
        self.init()
        self.topics = topics
    }
}

// MARK: - DescribeTopicPartitions

@Suite struct DescribeTopicPartitionsTests {
    func request(_ topics: [String], limit: Int32 = 2000, cursor: (String, Int32)? = nil) -> DescribeTopicPartitionsRequest {
        var r = DescribeTopicPartitionsRequest()
        r.topics = topics.map { var t = DescribeTopicPartitionsRequest.TopicRequest(); t.name = $0; return t }
        r.responsePartitionLimit = limit
        r.cursor = cursor.map { var c = DescribeTopicPartitionsRequest.Cursor(); c.topicName = $0.0; c.partitionIndex = $0.1; return c }
        return r
    }

    func pages(_ f: AdminFixture, _ topics: [String], limit: Int32) throws -> [String] {
        var out: [String] = []
        var cursor: (String, Int32)?
        repeat {
            let r = try f.broker.describeTopicPartitions(request(topics, limit: limit, cursor: cursor), f.ctx(.describeTopicPartitions, 0))
            try roundTrips(r, 0...0)
            out.append(r.topics.filter { $0.errorCode == 0 }.map { "\($0.name ?? "?")\($0.partitions.map(\.partitionIndex))" }.joined(separator: " "))
            cursor = r.nextCursor.map { ($0.topicName, $0.partitionIndex) }
        } while cursor != nil && out.count < 20
        return out
    }

    @Test func pagesThroughPartitionsInNameOrder() throws {
        let f = try AdminFixture()
        try f.createTopic("b", partitions: 3)
        try f.createTopic("a", partitions: 2)
        #expect(try pages(f, ["b", "a"], limit: 2) == ["a[0, 1]", "b[0, 1]", "b[2]"])
        #expect(try pages(f, ["b", "a"], limit: 3) == ["a[0, 1] b[0]", "b[1, 2]"])
        #expect(try pages(f, [], limit: 4) == ["a[0, 1] b[0, 1]", "b[2]"])
        #expect(try pages(f, ["a", "b"], limit: 5) == ["a[0, 1] b[0, 1, 2]"])
        #expect(try pages(f, ["a"], limit: 0) == ["a[0]", "a[1]"])  // below 1 counts as 1
    }

    @Test func describesPartitionsAndErrors() throws {
        let f = try AdminFixture()
        let created = try f.createTopic("a", partitions: 1)
        let r = try f.broker.describeTopicPartitions(request(["a", "missing"]), f.ctx(.describeTopicPartitions, 0))
        #expect(r.topics.map { $0.name ?? "" } == ["a", "missing"])
        #expect(r.topics.map(\.errorCode) == [0, ErrorCode.unknownTopicOrPartition.rawValue])
        let a = r.topics[0]
        #expect(a.topicId == created.id && !a.isInternal)
        #expect(a.topicAuthorizedOperations == 3576)
        let p = try #require(a.partitions.first)
        #expect(p.leaderId == 0 && p.leaderEpoch == 0 && p.replicaNodes == [0] && p.isrNodes == [0])
        #expect(p.eligibleLeaderReplicas == [] && p.lastKnownElr == [] && p.offlineReplicas == [])
        #expect(r.nextCursor == nil)
        // Unknown topics are left out when describing everything.
        let all = try f.broker.describeTopicPartitions(request([]), f.ctx(.describeTopicPartitions, 0))
        #expect(all.topics.map { $0.name ?? "" } == ["a"])
    }

    @Test func badCursorsAreInvalidRequests() throws {
        let f = try AdminFixture()
        try f.createTopic("a", partitions: 2)
        for cursor in [("zzz", Int32(0)), ("a", Int32(-1))] {
            let r = try f.broker.describeTopicPartitions(request(["a"], cursor: cursor), f.ctx(.describeTopicPartitions, 0))
            #expect(r.topics.map(\.errorCode) == [ErrorCode.invalidRequest.rawValue], "\(cursor)")
        }
        // A cursor past the end of its topic describes no partitions of it.
        let r = try f.broker.describeTopicPartitions(request(["a"], cursor: ("a", 5)), f.ctx(.describeTopicPartitions, 0))
        #expect(r.topics.map { $0.partitions.count } == [0] && r.nextCursor == nil)
    }
}

// MARK: - Advertised versions

@Test func adminApisAreAdvertised() {
    let expected: [ApiKey: ClosedRange<Int16>] = [
        .createPartitions: 0...3, .deleteRecords: 0...2, .describeConfigs: 1...4, .alterConfigs: 0...2,
        .incrementalAlterConfigs: 0...1, .describeLogDirs: 1...4, .describeTopicPartitions: 0...0,
    ]
    for (key, range) in expected {
        #expect(SupportedApis.versions[key] == range, "\(key.name)")
    }
}
