import KafkaProtocol
import NIOConcurrencyHelpers

/// Incremental fetch sessions (KIP-227). A client opens a session with a full fetch (sessionId 0, epoch 0);
/// later fetches carry only changed partitions and `forgotten` ones, and the response carries only partitions whose
/// data or watermarks changed. Sessions are bounded (`max.incremental.fetch.session.cache.slots`, 1000 like Kafka);
/// the least recently used session is evicted to make room, and its client falls back to a full fetch after
/// FETCH_SESSION_ID_NOT_FOUND.
public final class FetchSessionCache: Sendable {
    public struct PartitionKey: Hashable, Sendable {
        public var topic: String
        public var partition: Int32
        public init(topic: String, partition: Int32) {
            self.topic = topic
            self.partition = partition
        }
    }

    /// What the session remembers of one partition: the client's position and what it was last told.
    public struct PartitionState: Sendable, Equatable {
        public var fetchOffset: Int64
        public var maxBytes: Int32
        public var logStartOffset: Int64
        /// The client's view of the leader epoch (Fetch v9+, -1 none), checked on every fetch (KIP-320).
        public var currentLeaderEpoch: Int32 = -1
        public var lastHighWatermark: Int64 = -1
        public var lastLogStartOffset: Int64 = -1
        public var lastStableOffset: Int64 = -1
        public init(fetchOffset: Int64, maxBytes: Int32, logStartOffset: Int64, currentLeaderEpoch: Int32 = -1) {
            self.fetchOffset = fetchOffset
            self.maxBytes = maxBytes
            self.logStartOffset = logStartOffset
            self.currentLeaderEpoch = currentLeaderEpoch
        }
    }

    public struct Session: Sendable {
        public var id: Int32
        public var nextEpoch: Int32
        /// Insertion-ordered so a response lists partitions in a stable order.
        public var order: [PartitionKey]
        public var partitions: [PartitionKey: PartitionState]
        var lastUsed: UInt64
    }

    /// The outcome of looking up a fetch's session.
    public enum Context: Sendable {
        /// Sessionless full fetch (epoch -1), or a session just created (sessionId != 0).
        case full(sessionId: Int32)
        /// An incremental fetch: every partition of the session is considered, only changed ones are returned.
        case incremental(Session)
        /// FETCH_SESSION_ID_NOT_FOUND or INVALID_FETCH_SESSION_EPOCH.
        case error(ErrorCode)
    }

    private struct State {
        var sessions: [Int32: Session] = [:]
        var tick: UInt64 = 0
        var nextId: Int32 = 1
    }

    private let state = NIOLockedValueBox(State())
    public let maxSessions: Int

    public init(maxSessions: Int = 1000) {
        self.maxSessions = maxSessions
    }

    public static func nextEpoch(after epoch: Int32) -> Int32 { epoch == Int32.max ? 1 : epoch + 1 }

    /// Resolves the session of a request. `requested` are the partitions in this request (offset, max bytes, log
    /// start offset); `forgotten` are removed from the session.
    public func context(
        sessionId: Int32, epoch: Int32, requested: [(PartitionKey, PartitionState)], forgotten: [PartitionKey]
    ) -> Context {
        state.withLockedValue { s in
            s.tick += 1
            if epoch == -1 {
                // Final epoch: close the session (if any) and serve a sessionless full fetch.
                if sessionId != 0 { s.sessions[sessionId] = nil }
                return .full(sessionId: 0)
            }
            if epoch == 0 {
                if sessionId != 0 { s.sessions[sessionId] = nil }
                if s.sessions.count >= maxSessions,
                   let victim = s.sessions.values.min(by: { $0.lastUsed < $1.lastUsed }) {
                    s.sessions[victim.id] = nil
                }
                var id = s.nextId
                while s.sessions[id] != nil || id == 0 { id = id == Int32.max ? 1 : id + 1 }
                s.nextId = id == Int32.max ? 1 : id + 1
                var session = Session(id: id, nextEpoch: 1, order: [], partitions: [:], lastUsed: s.tick)
                for (key, value) in requested where session.partitions[key] == nil {
                    session.order.append(key)
                    session.partitions[key] = value
                }
                s.sessions[id] = session
                return .full(sessionId: id)
            }
            guard var session = s.sessions[sessionId] else { return .error(.fetchSessionIdNotFound) }
            guard session.nextEpoch == epoch else { return .error(.invalidFetchSessionEpoch) }
            for key in forgotten where session.partitions.removeValue(forKey: key) != nil {
                session.order.removeAll { $0 == key }
            }
            for (key, value) in requested {
                if var existing = session.partitions[key] {
                    existing.fetchOffset = value.fetchOffset
                    existing.maxBytes = value.maxBytes
                    existing.logStartOffset = value.logStartOffset
                    existing.currentLeaderEpoch = value.currentLeaderEpoch
                    session.partitions[key] = existing
                } else {
                    session.order.append(key)
                    session.partitions[key] = value
                }
            }
            session.nextEpoch = Self.nextEpoch(after: epoch)
            session.lastUsed = s.tick
            s.sessions[sessionId] = session
            return .incremental(session)
        }
    }

    /// After a response is built: remember what the client was told, so the next incremental fetch can omit
    /// partitions that did not change.
    public func update(sessionId: Int32, _ key: PartitionKey, highWatermark: Int64, logStartOffset: Int64, lastStableOffset: Int64) {
        guard sessionId != 0 else { return }
        state.withLockedValue { s in
            guard var p = s.sessions[sessionId]?.partitions[key] else { return }
            p.lastHighWatermark = highWatermark
            p.lastLogStartOffset = logStartOffset
            p.lastStableOffset = lastStableOffset
            s.sessions[sessionId]?.partitions[key] = p
        }
    }

    public var count: Int { state.withLockedValue { $0.sessions.count } }
}
