import NIOConcurrencyHelpers
import NIOCore

/// The server's set of open connections, so shutdown can drain them. Touched from every event loop, hence the lock;
/// it is only taken when a connection opens or closes, never per request.
final class ConnectionRegistry: Sendable {
    private struct State {
        var nextConnectionId: UInt64 = 0
        var channels: [UInt64: any Channel] = [:]
        var draining = false
    }

    private let state = NIOLockedValueBox(State())

    /// Registers a new connection and returns its id, or nil when the server is shutting down (the caller closes it).
    func register(_ channel: any Channel) -> UInt64? {
        state.withLockedValue { state in
            guard !state.draining else { return nil }
            let id = state.nextConnectionId
            state.nextConnectionId += 1
            state.channels[id] = channel
            return id
        }
    }

    func unregister(_ id: UInt64) {
        _ = state.withLockedValue { $0.channels.removeValue(forKey: id) }
    }

    var count: Int { state.withLockedValue { $0.channels.count } }

    /// Refuses new connections from now on and returns the open ones.
    func startDraining() -> [any Channel] {
        state.withLockedValue { state in
            state.draining = true
            return Array(state.channels.values)
        }
    }
}
