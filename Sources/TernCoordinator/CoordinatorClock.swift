import NIOConcurrencyHelpers
import NIOCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Time for the coordinator service: wall-clock milliseconds (they are persisted as commit and state
/// timestamps) and one-shot wake-ups. Injected so tests advance time by hand.
public protocol CoordinatorClock: Sendable {
    func nowMs() -> Int64
    /// Runs `body` once at or after `deadlineMs`; the handle cancels it.
    func schedule(atMs deadlineMs: Int64, _ body: @escaping @Sendable () -> Void) -> CoordinatorTimerHandle
}

public struct CoordinatorTimerHandle: Sendable {
    private let cancelBody: @Sendable () -> Void
    public init(cancel: @escaping @Sendable () -> Void) { cancelBody = cancel }
    public func cancel() { cancelBody() }
}

/// Wall clock plus NIO scheduled tasks on one event loop.
public struct EventLoopCoordinatorClock: CoordinatorClock {
    public let eventLoop: any EventLoop
    public init(eventLoop: any EventLoop) { self.eventLoop = eventLoop }

    public func nowMs() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }

    public func schedule(atMs deadlineMs: Int64, _ body: @escaping @Sendable () -> Void) -> CoordinatorTimerHandle {
        let delay = max(0, deadlineMs - nowMs())
        let task = eventLoop.scheduleTask(in: .milliseconds(delay)) { body() }
        return CoordinatorTimerHandle { task.cancel() }
    }
}

/// A clock that moves only when told to; `advance` runs the wake-ups that fall due, in deadline order.
public final class ManualCoordinatorClock: CoordinatorClock, Sendable {
    private struct Entry {
        var deadline: Int64
        var id: UInt64
        var body: @Sendable () -> Void
    }
    private struct State {
        var now: Int64
        var nextId: UInt64 = 0
        var entries: [Entry] = []
    }
    private let state: NIOLockedValueBox<State>

    public init(startMs: Int64 = 1_000_000) { state = NIOLockedValueBox(State(now: startMs)) }

    public func nowMs() -> Int64 { state.withLockedValue { $0.now } }

    public func schedule(atMs deadlineMs: Int64, _ body: @escaping @Sendable () -> Void) -> CoordinatorTimerHandle {
        let id = state.withLockedValue { state -> UInt64 in
            state.nextId += 1
            state.entries.append(Entry(deadline: deadlineMs, id: state.nextId, body: body))
            return state.nextId
        }
        return CoordinatorTimerHandle { [state] in
            state.withLockedValue { $0.entries.removeAll { $0.id == id } }
        }
    }

    /// Moves time forward by `ms`, running due wake-ups (outside the lock) in deadline order.
    public func advance(byMs ms: Int64) {
        let target = state.withLockedValue { $0.now + ms }
        while true {
            let due = state.withLockedValue { state -> Entry? in
                guard let index = state.entries.indices.filter({ state.entries[$0].deadline <= target })
                    .min(by: { state.entries[$0].deadline < state.entries[$1].deadline }) else { return nil }
                let entry = state.entries.remove(at: index)
                state.now = max(state.now, entry.deadline)
                return entry
            }
            guard let due else { break }
            due.body()
        }
        state.withLockedValue { $0.now = target }
    }
}
