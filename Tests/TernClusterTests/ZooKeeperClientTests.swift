import Foundation
import NIOConcurrencyHelpers
import Testing

@testable import TernCluster

/// Against a real ZooKeeper: Swift Testing makes one suite instance per test, so each test gets a fresh server.
@Suite(.serialized, .enabled(if: ZooKeeperServer.available, ZooKeeperServer.skipReason))
final class ZooKeeperClientTests {
    let server: ZooKeeperServer

    init() throws { server = try ZooKeeperServer() }
    deinit { server.stop() }

    @Test func createGetSetWithVersions() async throws {
        let zk = try await ZooKeeperClient.connect(server.connectString)
        defer { zk.close() }
        #expect(zk.sessionId != 0)
        let path = try await zk.create("/a", data: Array("one".utf8))
        #expect(path == "/a")
        let (data, stat) = try await zk.get("/a")
        #expect(String(decoding: data, as: UTF8.self) == "one")
        #expect(stat.version == 0)
        let stat1 = try await zk.set("/a", data: Array("two".utf8), version: 0)
        #expect(stat1.version == 1)
        // A stale version loses: the conditional write Kafka's ISR updates rely on.
        await #expect(throws: ZooKeeperError(code: ZooKeeperError.badVersion, path: "/a")) {
            try await zk.set("/a", data: Array("three".utf8), version: 0)
        }
        await #expect(throws: ZooKeeperError(code: ZooKeeperError.nodeExists, path: "/a")) {
            try await zk.create("/a")
        }
        await #expect(throws: ZooKeeperError(code: ZooKeeperError.noNode, path: "/missing")) {
            try await zk.get("/missing")
        }
        #expect(try await zk.exists("/missing") == nil)
        #expect(try await zk.exists("/a")?.version == 1)
        try await zk.delete("/a", version: 1)
        #expect(try await zk.exists("/a") == nil)
    }

    @Test func childrenSequentialAndRecursive() async throws {
        let zk = try await ZooKeeperClient.connect(server.connectString)
        defer { zk.close() }
        try await zk.createRecursively("/x/y/z", data: Array("leaf".utf8))
        #expect(try await zk.children("/x/y") == ["z"])
        let s1 = try await zk.create("/x/seq-", mode: .persistentSequential)
        let s2 = try await zk.create("/x/seq-", mode: .persistentSequential)
        #expect(s1.hasPrefix("/x/seq-") && s1.count == "/x/seq-".count + 10)
        #expect(s1 < s2)
        #expect(try await zk.children("/x") == ["seq-0000000001", "seq-0000000002", "y"].sorted())
    }

    @Test func ephemeralNodeGoesWithItsSessionAndWatchFires() async throws {
        let owner = try await ZooKeeperClient.connect(server.connectString)
        let watcher = try await ZooKeeperClient.connect(server.connectString)
        defer { watcher.close() }
        try await owner.create("/eph", data: [1], mode: .ephemeral)
        let stat = try #require(try await watcher.exists("/eph", watch: true))
        #expect(stat.ephemeralOwner == owner.sessionId)
        let events = watcher.eventStream()
        owner.close()
        var seen: ZooKeeperEvent?
        for await e in events {
            if case .nodeDeleted = e { seen = e; break }
        }
        #expect(seen == .nodeDeleted("/eph"))
        #expect(try await watcher.exists("/eph") == nil)
    }

    @Test func childWatchAndDataWatch() async throws {
        let zk = try await ZooKeeperClient.connect(server.connectString)
        defer { zk.close() }
        try await zk.create("/w")
        let seen = NIOLockedValueBox<[ZooKeeperEvent]>([])
        zk.onEvent { e in seen.withLockedValue { $0.append(e) } }
        _ = try await zk.children("/w", watch: true)
        try await zk.create("/w/c")
        _ = try await zk.get("/w/c", watch: true)
        try await zk.set("/w/c", data: [2])
        for _ in 0..<50 where seen.withLockedValue({ $0.count }) < 2 { try await Task.sleep(for: .milliseconds(20)) }
        #expect(seen.withLockedValue { $0 } == [.nodeChildrenChanged("/w"), .nodeDataChanged("/w/c")])
    }

    @Test func multiIsAtomic() async throws {
        let zk = try await ZooKeeperClient.connect(server.connectString)
        defer { zk.close() }
        try await zk.multi([.create("/m", [], .persistent), .create("/m/a", [1], .persistent)])
        #expect(try await zk.children("/m") == ["a"])
        // The check fails, so the create in the same transaction is not applied.
        await #expect(throws: ZooKeeperError(code: ZooKeeperError.badVersion, path: "/m/a")) {
            try await zk.multi([.create("/m/b", [], .persistent), .check("/m/a", version: 7)])
        }
        #expect(try await zk.exists("/m/b") == nil)
        try await zk.multi([.set("/m/a", [9], version: 0), .delete("/m/a", version: 1)])
        #expect(try await zk.children("/m") == [])
    }

    @Test func chrootIsCreatedAndApplied() async throws {
        let zk = try await ZooKeeperClient.connect(server.connectString + "/kafka/c1")
        defer { zk.close() }
        try await zk.create("/inside", data: [7])
        let root = try await ZooKeeperClient.connect(server.connectString)
        defer { root.close() }
        #expect(try await root.get("/kafka/c1/inside").data == [7])
    }

    @Test func blockingVariant() async throws {
        let zk = try await ZooKeeperClient.connect(server.connectString)
        defer { zk.close() }
        let created: String = try zk.blocking { zk.create("/b", data: [3], mode: .persistent, completion: $0) }
        #expect(created == "/b")
        let stat: ZNodeStat? = try zk.blocking { zk.exists("/b", watch: false, completion: $0) }
        #expect(stat?.dataLength == 1)
    }

    /// Losing the connection is not losing the session: a blocking call made while the server is away waits for
    /// the reconnection and then succeeds, in the same session, with no expiry reported.
    @Test func blockingCallsRideOutALostConnection() throws {
        let zk = try ZooKeeperClient.connectBlocking(server.connectString, sessionTimeout: .seconds(20))
        defer { zk.close() }
        let session = zk.sessionId
        let expired = NIOLockedValueBox(false)
        zk.onEvent { if $0 == .sessionExpired { expired.withLockedValue { $0 = true } } }
        let _: String = try zk.blocking { zk.create("/kept", data: [1], mode: .persistent, completion: $0) }
        let _: String = try zk.blocking { zk.create("/mine", data: [], mode: .ephemeral, completion: $0) }
        let server = self.server
        let restarted = Thread { try? server.restart(after: 1) }
        restarted.start()
        Thread.sleep(forTimeInterval: 0.2)
        // Issued while the server is down (or going): CONNECTIONLOSS inside, success outside.
        let (data, _) = try zk.blocking { zk.get("/kept", watch: false, completion: $0) }
        #expect(data == [1])
        #expect(zk.sessionId == session)
        let mine: ZNodeStat? = try zk.blocking { zk.exists("/mine", watch: false, completion: $0) }
        #expect(mine?.ephemeralOwner == session, "the ephemeral node outlived the disconnection")
        #expect(!expired.withLockedValue { $0 })
    }

    @Test func checkedEphemeralCreateAcceptsItsOwnNode() throws {
        let zk = try ZooKeeperClient.connectBlocking(server.connectString)
        defer { zk.close() }
        let other = try ZooKeeperClient.connectBlocking(server.connectString)
        defer { other.close() }
        try zk.createEphemeralBlocking("/owned", data: [1])
        #expect(try zk.createEphemeralBlocking("/owned", data: [1]) == "/owned", "this session's node: success")
        #expect(throws: ZooKeeperError(code: ZooKeeperError.nodeExists, path: "/owned")) {
            try other.createEphemeralBlocking("/owned", data: [2])
        }
    }

    /// KIP-380: a broker's epoch is its registration's czxid, newer on every registration.
    @Test func ephemeralCreateWithStatAnswersTheCreationZxid() throws {
        let zk = try ZooKeeperClient.connectBlocking(server.connectString)
        defer { zk.close() }
        let first = try zk.createEphemeralWithStatBlocking("/epoch", data: [1])
        #expect(first.czxid > 0)
        #expect(first.ephemeralOwner == zk.sessionId)
        #expect(try zk.createEphemeralWithStatBlocking("/epoch", data: [1]).czxid == first.czxid, "the same node: the same epoch")
        try zk.blocking { zk.delete("/epoch", version: -1, completion: $0) }
        let again = try zk.createEphemeralWithStatBlocking("/epoch", data: [1])
        #expect(again.czxid > first.czxid, "a new registration has a newer epoch")
    }

    @Test func connectTimesOutWithoutServer() async throws {
        let port = ZooKeeperServer.freePort()
        await #expect(throws: ZooKeeperError.self) {
            try await ZooKeeperClient.connect("127.0.0.1:\(port)", sessionTimeout: .seconds(4), connectionTimeout: .milliseconds(500))
        }
    }
}
