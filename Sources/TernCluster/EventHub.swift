import Dispatch
import NIOConcurrencyHelpers

/// Fans the C client's events out to handlers, in order, on one serial queue (never the C completion thread,
/// so handlers may block on ZooKeeper calls).
final class EventHub: Sendable {
    private let queue = DispatchQueue(label: "tern.zookeeper.events")
    private let handlers = NIOLockedValueBox<[@Sendable (ZooKeeperEvent) -> Void]>([])
    private let finishers = NIOLockedValueBox<[@Sendable () -> Void]>([])
    private let firstConnection = ConnectionLatch()

    func add(_ handler: @escaping @Sendable (ZooKeeperEvent) -> Void) { handlers.withLockedValue { $0.append(handler) } }
    func onFinish(_ f: @escaping @Sendable () -> Void) { finishers.withLockedValue { $0.append(f) } }

    func publish(_ event: ZooKeeperEvent) {
        if event == .connected { firstConnection.open(true) }
        if event == .sessionExpired || event == .authFailed { firstConnection.open(false) }
        let current = handlers.withLockedValue { $0 }
        queue.async { for h in current { h(event) } }
    }

    func finish() {
        let fs = finishers.withLockedValue { f in defer { f = [] }; return f }
        queue.async { for f in fs { f() } }
    }

    func waitForConnection() -> ConnectionLatch { firstConnection }
}

/// Opens once: true when the first session is established, false when it failed for good.
final class ConnectionLatch: Sendable {
    private let state = NIOLockedValueBox<(value: Bool?, waiters: [@Sendable (Bool) -> Void])>((nil, []))

    func open(_ value: Bool) {
        let waiters = state.withLockedValue { s -> [@Sendable (Bool) -> Void] in
            guard s.value == nil else { return [] }
            s.value = value
            defer { s.waiters = [] }
            return s.waiters
        }
        for w in waiters { w(value) }
    }

    private func whenOpen(_ f: @escaping @Sendable (Bool) -> Void) {
        let now = state.withLockedValue { s -> Bool? in
            if let v = s.value { return v }
            s.waiters.append(f)
            return nil
        }
        if let now { f(now) }
    }

    /// true when connected within `timeout`.
    func wait(timeout: Duration) async -> Bool {
        let timer = Task {
            try await Task.sleep(for: timeout)
            open(false)
        }
        defer { timer.cancel() }
        return await withCheckedContinuation { c in whenOpen { c.resume(returning: $0) } }
    }

    /// The same, blocking the calling thread.
    func waitBlocking(timeout: Duration) -> Bool {
        let semaphore = DispatchSemaphore(value: 0)
        let result = NIOLockedValueBox(false)
        whenOpen { v in
            result.withLockedValue { $0 = v }
            semaphore.signal()
        }
        let ms = Int(timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        if semaphore.wait(timeout: .now() + .milliseconds(ms)) == .timedOut { open(false) }
        return result.withLockedValue { $0 }
    }
}
