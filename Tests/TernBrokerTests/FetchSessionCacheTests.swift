import NIOCore
import NIOPosix
import Testing

@testable import TernBroker

/// KIP-227 session bookkeeping and the long-poll purgatory.
@Suite struct FetchSessionCacheTests {
    typealias Key = FetchSessionCache.PartitionKey
    let a = Key(topic: "t", partition: 0)
    let b = Key(topic: "t", partition: 1)

    private func state(_ offset: Int64) -> FetchSessionCache.PartitionState {
        .init(fetchOffset: offset, maxBytes: 1000, logStartOffset: -1)
    }

    @Test func sessionlessFullFetchCreatesNothing() {
        let cache = FetchSessionCache()
        guard case .full(let id) = cache.context(sessionId: 0, epoch: -1, requested: [(a, state(0))], forgotten: []) else {
            Issue.record("expected a full fetch")
            return
        }
        #expect(id == 0)
        #expect(cache.count == 0)
    }

    @Test func incrementalFetchKeepsPartitionsAndAppliesForgotten() {
        let cache = FetchSessionCache()
        guard case .full(let id) = cache.context(sessionId: 0, epoch: 0, requested: [(a, state(0)), (b, state(5))], forgotten: []) else {
            Issue.record("expected a new session")
            return
        }
        #expect(id != 0)
        guard case .incremental(let s1) = cache.context(sessionId: id, epoch: 1, requested: [(a, state(3))], forgotten: []) else {
            Issue.record("expected an incremental fetch")
            return
        }
        #expect(s1.order == [a, b])
        #expect(s1.partitions[a]?.fetchOffset == 3)
        #expect(s1.partitions[b]?.fetchOffset == 5)
        guard case .incremental(let s2) = cache.context(sessionId: id, epoch: 2, requested: [], forgotten: [b]) else {
            Issue.record("expected an incremental fetch")
            return
        }
        #expect(s2.order == [a])
    }

    @Test func wrongEpochAndUnknownSessionAreErrors() {
        let cache = FetchSessionCache()
        guard case .full(let id) = cache.context(sessionId: 0, epoch: 0, requested: [(a, state(0))], forgotten: []) else {
            Issue.record("expected a new session")
            return
        }
        guard case .error(let e1) = cache.context(sessionId: id, epoch: 5, requested: [], forgotten: []) else {
            Issue.record("expected INVALID_FETCH_SESSION_EPOCH")
            return
        }
        #expect(e1 == .invalidFetchSessionEpoch)
        guard case .error(let e2) = cache.context(sessionId: id + 1000, epoch: 1, requested: [], forgotten: []) else {
            Issue.record("expected FETCH_SESSION_ID_NOT_FOUND")
            return
        }
        #expect(e2 == .fetchSessionIdNotFound)
        // Epoch -1 closes the session.
        _ = cache.context(sessionId: id, epoch: -1, requested: [], forgotten: [])
        #expect(cache.count == 0)
    }

    @Test func cacheIsBoundedAndEvictsTheLeastRecentlyUsed() {
        let cache = FetchSessionCache(maxSessions: 2)
        var ids: [Int32] = []
        for _ in 0..<3 {
            if case .full(let id) = cache.context(sessionId: 0, epoch: 0, requested: [(a, state(0))], forgotten: []) { ids.append(id) }
        }
        #expect(cache.count == 2)
        guard case .error = cache.context(sessionId: ids[0], epoch: 1, requested: [], forgotten: []) else {
            Issue.record("the oldest session should have been evicted")
            return
        }
    }

    @Test func epochWrapsToOne() {
        #expect(FetchSessionCache.nextEpoch(after: Int32.max) == 1)
        #expect(FetchSessionCache.nextEpoch(after: 1) == 2)
    }

    @Test func purgatoryWakesOnNotifyAndOnDeadline() async throws {
        let group = MultiThreadedEventLoopGroup.singleton
        let purgatory = FetchPurgatory()
        let key = FetchPurgatory.Key(topic: "t", partition: 0)
        let start = ContinuousClock.now
        async let woken: Void = purgatory.wait(for: [key], timeout: .seconds(30), on: group.next())
        while purgatory.waitingCount == 0 { try await Task.sleep(for: .milliseconds(1)) }
        purgatory.notify(FetchPurgatory.Key(topic: "t", partition: 1))  // another partition: no effect
        #expect(purgatory.waitingCount == 1)
        purgatory.notify(key)
        await woken
        #expect(ContinuousClock.now - start < .seconds(10))
        #expect(purgatory.waitingCount == 0)
        // Nobody notifies: the deadline answers.
        await purgatory.wait(for: [key], timeout: .milliseconds(50), on: group.next())
        #expect(purgatory.waitingCount == 0)
    }
}
