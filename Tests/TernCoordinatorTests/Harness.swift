@testable import TernCoordinator

/// Drives a `GroupCoordinator` synchronously the way the service does: applies timer actions to a map,
/// fires due timers in deadline order when time advances, and collects appended records and the answers to
/// parked requests by request id.
final class Harness {
    let gc: GroupCoordinator
    var now: Int64 = 1_000_000
    var timers: [CoordinatorTimerKey: Int64] = [:]
    var joins: [UInt64: JoinGroupResult] = [:]
    var syncs: [UInt64: SyncGroupResult] = [:]
    var records: [CoordinatorRecord] = []
    var appends: [(partition: Int32, records: [CoordinatorRecord])] = []
    private var nextRequestId: UInt64 = 0

    init(config: GroupCoordinatorConfig = Harness.defaultConfig()) {
        let counter = Counter()
        gc = GroupCoordinator(config: config, makeUUID: { counter.next() })
    }

    static func defaultConfig(initialDelayMs: Int32 = 3000) -> GroupCoordinatorConfig {
        var config = GroupCoordinatorConfig()
        config.groupInitialRebalanceDelayMs = initialDelayMs
        return config
    }

    func apply(_ actions: [CoordinatorAction]) {
        for action in actions {
            switch action {
            case .append(let partition, let batch):
                records += batch
                appends.append((partition, batch))
                gc.appendCompleted(batch, succeeded: true)  // the harness's log is durable at once
            case .scheduleTimer(let key, let deadline): timers[key] = deadline
            case .cancelTimer(let key): timers[key] = nil
            case .completeJoin(let id, let result): joins[id] = result
            case .completeSync(let id, let result): syncs[id] = result
            }
        }
    }

    /// Sends a JoinGroup; its answer (immediate or later) appears in `joins[id]`.
    @discardableResult
    func join(_ input: JoinGroupInput) -> UInt64 {
        nextRequestId += 1
        let id = nextRequestId
        let (result, actions) = gc.joinGroup(input, requestId: id, now: now)
        if let result { joins[id] = result }
        apply(actions)
        return id
    }

    @discardableResult
    func sync(_ input: SyncGroupInput) -> UInt64 {
        nextRequestId += 1
        let id = nextRequestId
        let (result, actions) = gc.syncGroup(input, requestId: id, now: now)
        if let result { syncs[id] = result }
        apply(actions)
        return id
    }

    func heartbeat(_ group: String, _ generation: Int32, _ member: String, instance: String? = nil) -> Int16 {
        let (result, actions) = gc.heartbeat(HeartbeatInput(groupId: group, generationId: generation, memberId: member, groupInstanceId: instance), now: now)
        apply(actions)
        return result.errorCode
    }

    func commit(_ input: OffsetCommitInput) -> OffsetCommitResult {
        let (result, actions) = gc.commitOffsets(input, now: now)
        apply(actions)
        return result
    }

    func leave(_ group: String, _ members: [LeaveGroupMember]) -> LeaveGroupResult {
        let (result, actions) = gc.leaveGroup(LeaveGroupInput(groupId: group, members: members), now: now)
        apply(actions)
        return result
    }

    /// Moves time forward, firing each due timer at its own deadline.
    func advance(by ms: Int64) {
        let target = now + ms
        while let (key, deadline) = timers.filter({ $0.value <= target }).min(by: { $0.value < $1.value }) {
            timers[key] = nil
            now = max(now, deadline)
            apply(gc.timerExpired(key, now: now))
        }
        now = target
    }

    /// Advances in 100 ms steps until `condition` holds (at most 10 minutes of simulated time).
    func advance(until condition: () -> Bool) {
        for _ in 0..<6000 where !condition() { advance(by: 100) }
    }

    /// A v4+ consumer joining from scratch: MEMBER_ID_REQUIRED, then the real join. Returns (member id, join request id).
    func joinNew(_ group: String, clientId: String, protocols: [GroupProtocol] = [range], sessionTimeoutMs: Int32 = 10_000,
                 rebalanceTimeoutMs: Int32 = 30_000) -> (memberId: String, request: UInt64) {
        let first = join(JoinGroupInput(groupId: group, protocols: protocols, sessionTimeoutMs: sessionTimeoutMs,
                                        rebalanceTimeoutMs: rebalanceTimeoutMs, clientId: clientId))
        let memberId = joins[first]!.memberId
        let second = join(JoinGroupInput(groupId: group, memberId: memberId, protocols: protocols, sessionTimeoutMs: sessionTimeoutMs,
                                         rebalanceTimeoutMs: rebalanceTimeoutMs, clientId: clientId))
        return (memberId, second)
    }

    /// Brings `clients` into a Stable group: join, wait out the initial delay, leader syncs `assignment(member)`.
    func stableGroup(_ group: String, clients: [String], protocols: [GroupProtocol] = [range]) -> [String] {
        let joined = clients.map { joinNew(group, clientId: $0, protocols: protocols) }
        advance(until: { self.joins[joined[0].request] != nil })
        let leader = joins[joined[0].request]!.leader
        let generation = joins[joined[0].request]!.generationId
        let assignments = joined.map { SyncGroupAssignment(memberId: $0.memberId, assignment: Array("assigned-\($0.memberId)".utf8)) }
        for (memberId, _) in joined where memberId != leader {
            sync(SyncGroupInput(groupId: group, generationId: generation, memberId: memberId))
        }
        sync(SyncGroupInput(groupId: group, generationId: generation, memberId: leader, assignments: assignments))
        return joined.map(\.memberId)
    }
}

final class Counter: @unchecked Sendable {
    private var value = 0
    func next() -> String {
        value += 1
        return "uuid\(value)"
    }
}

/// A ConsumerProtocolSubscription v0: version, topics, null user data.
func subscription(_ topics: [String]) -> [UInt8] {
    var bytes: [UInt8] = [0, 0]
    let count = UInt32(topics.count)
    bytes += [UInt8(count >> 24), UInt8(count >> 16 & 0xff), UInt8(count >> 8 & 0xff), UInt8(count & 0xff)]
    for topic in topics {
        let utf8 = Array(topic.utf8)
        bytes += [UInt8(utf8.count >> 8), UInt8(utf8.count & 0xff)] + utf8
    }
    return bytes + [0xff, 0xff, 0xff, 0xff]
}

let range = GroupProtocol(name: "range", metadata: subscription(["orders"]))
let roundrobin = GroupProtocol(name: "roundrobin", metadata: subscription(["orders"]))
