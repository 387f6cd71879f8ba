import NIOConcurrencyHelpers
import NIOCore

/// Where long-polling fetches wait (Kafka's delayed fetch purgatory). A fetch that found fewer than `min.bytes`
/// parks here, watching its partitions; an append to any of them, or the `max.wait.ms` deadline, wakes it, and it
/// reads again. Waking is per partition, so an append touches only the fetches that watch that partition.
/// No polling: the deadline is one scheduled task on an event loop.
public final class FetchPurgatory: Sendable {
    public struct Key: Hashable, Sendable {
        public var topic: String
        public var partition: Int32
        public init(topic: String, partition: Int32) {
            self.topic = topic
            self.partition = partition
        }
    }

    private final class Waiter: @unchecked Sendable {
        // Guarded by the purgatory's lock.
        var continuation: CheckedContinuation<Void, Never>?
        var timeout: Scheduled<Void>?
        let keys: [Key]
        init(keys: [Key]) { self.keys = keys }
    }

    private struct State {
        var nextId: UInt64 = 0
        var waiters: [UInt64: Waiter] = [:]
        var byKey: [Key: Set<UInt64>] = [:]
    }

    private let state = NIOLockedValueBox(State())
    /// Upper bound on parked fetches; past it a fetch answers at once rather than wait (bounded memory).
    public let maxWaiters: Int

    public init(maxWaiters: Int = 100_000) {
        self.maxWaiters = maxWaiters
    }

    /// Suspends until one of `keys` gets data or `timeout` passes on `eventLoop`.
    public func wait(for keys: [Key], timeout: TimeAmount, on eventLoop: EventLoop) async {
        guard timeout > .zero, !keys.isEmpty else { return }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let waiter = Waiter(keys: keys)
            let id: UInt64? = state.withLockedValue { s in
                guard s.waiters.count < maxWaiters else { return nil }
                s.nextId += 1
                waiter.continuation = continuation
                s.waiters[s.nextId] = waiter
                for key in keys { s.byKey[key, default: []].insert(s.nextId) }
                return s.nextId
            }
            guard let id else {
                continuation.resume()
                return
            }
            let scheduled = eventLoop.scheduleTask(in: timeout) { [weak self] () -> Void in self?.wake(id) }
            let alreadyWoken = state.withLockedValue { s -> Bool in
                guard let w = s.waiters[id] else { return true }
                w.timeout = scheduled
                return false
            }
            if alreadyWoken { scheduled.cancel() }
        }
    }

    /// Data arrived on `key`: wake every fetch watching it.
    public func notify(_ key: Key) {
        let ids: Set<UInt64> = state.withLockedValue { $0.byKey[key] ?? [] }
        for id in ids { wake(id) }
    }

    /// Wakes every parked fetch (shutdown, topic deletion).
    public func notifyAll() {
        let ids = state.withLockedValue { Array($0.waiters.keys) }
        for id in ids { wake(id) }
    }

    public var waitingCount: Int { state.withLockedValue { $0.waiters.count } }

    private func wake(_ id: UInt64) {
        let waiter: Waiter? = state.withLockedValue { s in
            guard let w = s.waiters.removeValue(forKey: id) else { return nil }
            for key in w.keys {
                s.byKey[key]?.remove(id)
                if s.byKey[key]?.isEmpty == true { s.byKey[key] = nil }
            }
            return w
        }
        guard let waiter else { return }
        waiter.timeout?.cancel()
        waiter.continuation?.resume()
        waiter.continuation = nil
    }
}
