import FoundationEssentials
import NIOConcurrencyHelpers

/// Hands out producer ids for InitProducerId. Ids are reserved in blocks persisted to the log dir before use,
/// so a restart never hands out an id twice (Kafka allocates blocks of 1000 through the controller likewise).
final class ProducerIdManager: Sendable {
    private let path: String
    private let state: NIOLockedBox

    private struct State {
        var next: Int64
        var reservedUntil: Int64
    }

    private final class NIOLockedBox: @unchecked Sendable {
        let lock = NIOLock()
        var value: State
        init(_ value: State) { self.value = value }
    }

    static let blockSize: Int64 = 1000
    /// Cluster mode: claims the next block shared by all brokers (ZooKeeperProducerIdBlocks.swift) instead of the
    /// local file.
    private let claimBlock: (@Sendable () throws -> ClosedRange<Int64>)?

    init(directory: String, claimBlock: (@Sendable () throws -> ClosedRange<Int64>)? = nil) throws {
        self.claimBlock = claimBlock
        path = directory + "/__tern_producer_ids"
        var start: Int64 = 0
        if let text = try? String(contentsOfFile: path, encoding: .utf8),
           let value = Int64(text.trimmingWhitespacesAndNewlines()) {
            start = value
        }
        state = NIOLockedBox(State(next: start, reservedUntil: start))
    }

    func nextProducerId() throws -> Int64 {
        state.lock.lock()
        defer { state.lock.unlock() }
        if state.value.next >= state.value.reservedUntil, let claimBlock {
            let block = try claimBlock()
            state.value.next = block.lowerBound
            state.value.reservedUntil = block.upperBound + 1
        } else if state.value.next >= state.value.reservedUntil {
            let until = state.value.reservedUntil + Self.blockSize
            try String(until).write(toFile: path, atomically: true, encoding: .utf8)
            state.value.reservedUntil = until
        }
        let id = state.value.next
        state.value.next += 1
        return id
    }
}
