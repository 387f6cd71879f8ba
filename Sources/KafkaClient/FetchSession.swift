import KafkaProtocol

/// The client half of an incremental fetch session (KIP-227) with one broker.
///
/// The first Fetch to a broker is a full fetch with session id 0 and epoch 0; the broker answers with the id of
/// the session it created. Later fetches name that session and the next epoch, and carry only the partitions
/// whose fetch offset or max bytes changed since the broker last heard them, plus "forgotten" partitions the
/// consumer stopped fetching (unassigned, paused, awaiting an offset reset). The broker's answers likewise list
/// only partitions with something new. A session error (FETCH_SESSION_ID_NOT_FOUND, INVALID_FETCH_SESSION_EPOCH)
/// or a failed request starts over with a full fetch; `closeRequest` ends the session with epoch -1.
struct FetchSession: Sendable {
    /// What the broker's session holds for one partition.
    struct Entry: Equatable, Sendable {
        var fetchOffset: Int64
        var maxBytes: Int32
    }

    /// One request's session fields and partitions.
    struct Plan: Equatable, Sendable {
        var sessionId: Int32
        var epoch: Int32
        var partitions: [(TopicPartition, Entry)]
        var forgotten: [TopicPartition]
        var isFull: Bool { epoch <= 0 }

        static func == (a: Plan, b: Plan) -> Bool {
            a.sessionId == b.sessionId && a.epoch == b.epoch && a.forgotten == b.forgotten
                && a.partitions.map(\.0) == b.partitions.map(\.0) && a.partitions.map(\.1) == b.partitions.map(\.1)
        }
    }

    /// 0 until the broker has created a session.
    private(set) var sessionId: Int32 = 0
    /// The epoch of the next request: 0 asks for a new session (closing `sessionId` if set).
    private(set) var nextEpoch: Int32 = 0
    /// The partitions as the broker's session holds them once the request in flight succeeds.
    private(set) var session: [TopicPartition: Entry] = [:]

    /// Kafka's epoch sequence: 1, 2, ... Int32.max, then 1 again (0 and -1 have meanings of their own).
    static func epoch(after epoch: Int32) -> Int32 { epoch >= Int32.max || epoch < 0 ? 1 : epoch + 1 }

    /// The next request for `wanted` (every partition this consumer fetches from the broker now). Partitions are
    /// sorted so requests are reproducible. The session state moves on as if the request succeeds; `failed` or a
    /// session error code passed to `received` undo that by starting a new session.
    mutating func next(_ wanted: [TopicPartition: Entry]) -> Plan {
        let sorted = wanted.sorted { $0.key < $1.key }
        defer { session = wanted }
        if nextEpoch == 0 {
            return Plan(sessionId: sessionId, epoch: 0, partitions: sorted.map { ($0.key, $0.value) }, forgotten: [])
        }
        let changed = sorted.filter { session[$0.key] != $0.value }.map { ($0.key, $0.value) }
        let forgotten = session.keys.filter { wanted[$0] == nil }.sorted()
        return Plan(sessionId: sessionId, epoch: nextEpoch, partitions: changed, forgotten: forgotten)
    }

    /// Applies the answer to the request `next` returned. Returns false when the answer was a session error:
    /// the next request is then a full fetch opening a new session, and the caller should simply try again.
    mutating func received(errorCode: Int16, sessionId answered: Int32, for plan: Plan) -> Bool {
        switch ErrorCode(errorCode) {
        case .fetchSessionIdNotFound:
            // The broker evicted or never had it: ask for a brand-new one.
            sessionId = 0
            nextEpoch = 0
            return false
        case .invalidFetchSessionEpoch:
            // Out of step: close this session and open another in one full fetch (epoch 0 with the old id).
            nextEpoch = 0
            return false
        default:
            break
        }
        if plan.isFull {
            // A broker that does not cache sessions (or a version before 7) answers 0: every fetch stays full.
            sessionId = answered
            nextEpoch = answered == 0 ? 0 : 1
        } else {
            nextEpoch = Self.epoch(after: plan.epoch)
        }
        return true
    }

    /// The request failed on the way (connection lost, timeout): the broker may or may not have moved its epoch.
    mutating func failed() { nextEpoch = 0 }

    /// Epoch -1 closes the session on the broker; nil when there is none.
    var closeRequest: Plan? {
        sessionId == 0 ? nil : Plan(sessionId: sessionId, epoch: -1, partitions: [], forgotten: [])
    }
}
