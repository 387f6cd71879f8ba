/// Where coordinator records go: the broker implements this with the real `__consumer_offsets` log.
public protocol CoordinatorLogWriter: Sendable {
    /// Appends `records` to partition `partition` durably (acks=all semantics), in call order.
    func append(partition: Int32, records: [CoordinatorRecord]) async throws
    /// Appends `records` as one transactional batch of producer `producerId`/`producerEpoch` (TxnOffsetCommit).
    func appendTransactional(partition: Int32, records: [CoordinatorRecord], producerId: Int64, producerEpoch: Int16) async throws
}

extension CoordinatorLogWriter {
    /// Test writers that do not care about batch attributes store transactional records like any others.
    public func appendTransactional(partition: Int32, records: [CoordinatorRecord], producerId: Int64, producerEpoch: Int16) async throws {
        try await append(partition: partition, records: records)
    }
}

/// Throw this from a ``CoordinatorLogWriter`` to choose the wire error the affected requests get
/// (Kafka answers NOT_COORDINATOR when the offsets partition moved); any other error becomes
/// COORDINATOR_NOT_AVAILABLE.
public struct CoordinatorAppendError: Error, Sendable {
    public var errorCode: Int16
    public init(errorCode: Int16) { self.errorCode = errorCode }
}

/// The group coordinator as the broker sees it: `await coordinator.joinGroup(input)` returns when the
/// answer is ready, however long the group takes to rebalance.
///
/// It owns the ``GroupCoordinator`` state machine and performs its actions: records are appended through the
/// ``CoordinatorLogWriter`` strictly in the order the machine produced them; timers live in one heap with a
/// single clock wake-up armed for the earliest deadline; parked JoinGroup/SyncGroup calls are resumed when
/// the machine completes them. A response that depends on a failed append carries the append's error.
public actor GroupCoordinatorService {
    private let machine: GroupCoordinator
    private let offsetsTopicNumPartitions: Int32
    private let log: any CoordinatorLogWriter
    private let clock: any CoordinatorClock
    private var nextRequestId: UInt64 = 0
    private var parkedJoins: [UInt64: CheckedContinuation<JoinGroupResult, Never>] = [:]
    private var parkedSyncs: [UInt64: CheckedContinuation<SyncGroupResult, Never>] = [:]
    /// Completions that arrived while their own call was still awaiting its appends.
    private var earlyJoins: [UInt64: JoinGroupResult] = [:]
    private var earlySyncs: [UInt64: SyncGroupResult] = [:]
    private var timers = TimerQueue()
    private var armed: (deadline: Int64, handle: CoordinatorTimerHandle)?
    /// The last append queued per `__consumer_offsets` partition: appends to one partition happen in order, while
    /// a slow partition (acks=all waiting for a lagging replica) does not hold up the others.
    private var appendTails: [Int32: Task<Int16?, Never>] = [:]

    public init(
        config: GroupCoordinatorConfig = GroupCoordinatorConfig(), log: any CoordinatorLogWriter,
        clock: any CoordinatorClock, ownedPartitions: Set<Int32>? = nil,
        partitionCount: @escaping (String) -> Int32? = { _ in nil }
    ) {
        self.machine = GroupCoordinator(
            config: config, ownedPartitions: ownedPartitions, makeUUID: GroupCoordinator.randomUUID, partitionCount: partitionCount)
        self.offsetsTopicNumPartitions = config.offsetsTopicNumPartitions
        self.log = log
        self.clock = clock
    }

    public init(machine: GroupCoordinator, log: any CoordinatorLogWriter, clock: any CoordinatorClock) {
        self.machine = machine
        self.offsetsTopicNumPartitions = machine.config.offsetsTopicNumPartitions
        self.log = log
        self.clock = clock
    }

    /// Arms the periodic offsets retention check.
    public func start() async {
        _ = await perform(machine.start(now: clock.nowMs()))
    }

    public nonisolated func partition(for groupId: String) -> Int32 {
        GroupPartitioner.partition(for: groupId, numPartitions: offsetsTopicNumPartitions)
    }

    // MARK: - Group membership

    public func joinGroup(_ input: JoinGroupInput) async -> JoinGroupResult {
        let id = newRequestId()
        let (immediate, actions) = machine.joinGroup(input, requestId: id, now: clock.nowMs())
        let failure = await perform(actions)
        if let immediate { return failure.map { immediate.failed($0) } ?? immediate }
        if let early = earlyJoins.removeValue(forKey: id) { return early }
        return await withCheckedContinuation { parkedJoins[id] = $0 }
    }

    public func syncGroup(_ input: SyncGroupInput) async -> SyncGroupResult {
        let id = newRequestId()
        let (immediate, actions) = machine.syncGroup(input, requestId: id, now: clock.nowMs())
        let failure = await perform(actions)
        if let immediate { return failure.map { SyncGroupResult(errorCode: $0) } ?? immediate }
        if let early = earlySyncs.removeValue(forKey: id) { return early }
        return await withCheckedContinuation { parkedSyncs[id] = $0 }
    }

    public func heartbeat(_ input: HeartbeatInput) async -> HeartbeatResult {
        let (result, actions) = machine.heartbeat(input, now: clock.nowMs())
        _ = await perform(actions)
        return result
    }

    public func leaveGroup(_ input: LeaveGroupInput) async -> LeaveGroupResult {
        let (result, actions) = machine.leaveGroup(input, now: clock.nowMs())
        _ = await perform(actions)
        return result
    }

    // MARK: - KIP-848 consumer groups

    public func consumerGroupHeartbeat(_ input: ConsumerGroupHeartbeatInput) async -> ConsumerGroupHeartbeatResult {
        let (result, actions) = machine.consumerGroupHeartbeat(input, now: clock.nowMs())
        guard let failure = await perform(actions) else { return result }
        return ConsumerGroupHeartbeatResult(errorCode: failure, memberId: result.memberId, memberEpoch: result.memberEpoch)
    }

    public func describeConsumerGroups(_ groupIds: [String]) -> [DescribedConsumerGroup] {
        machine.describeConsumerGroups(groupIds, now: clock.nowMs())
    }

    // MARK: - Offsets

    public func commitOffsets(_ input: OffsetCommitInput) async -> OffsetCommitResult {
        let (result, actions) = machine.commitOffsets(input, now: clock.nowMs())
        guard let failure = await perform(actions) else { return result }
        var failed = result
        for t in failed.topics.indices {
            for p in failed.topics[t].partitions.indices where failed.topics[t].partitions[p].errorCode == CoordinatorErrorCode.none {
                failed.topics[t].partitions[p].errorCode = failure
            }
        }
        return failed
    }

    /// TxnOffsetCommit: stages the offsets and writes them as the producer's transactional batch.
    public func commitTransactionalOffsets(_ input: GroupCoordinator.TxnOffsetCommitInput) async -> OffsetCommitResult {
        let (result, records) = machine.commitTransactionalOffsets(input, now: clock.nowMs())
        guard !records.isEmpty else { return result }
        let log = self.log
        let partition = machine.partition(for: input.groupId)
        let previous = appendTails[partition]
        let task = Task<Int16?, Never> {
            _ = await previous?.value
            do {
                try await log.appendTransactional(
                    partition: partition, records: records, producerId: input.producerId, producerEpoch: input.producerEpoch)
                return nil
            } catch let error as CoordinatorAppendError {
                return error.errorCode
            } catch {
                return CoordinatorErrorCode.coordinatorNotAvailable
            }
        }
        appendTails[partition] = task
        guard let failure = await task.value else { return result }
        var failed = result
        for t in failed.topics.indices {
            for p in failed.topics[t].partitions.indices where failed.topics[t].partitions[p].errorCode == CoordinatorErrorCode.none {
                failed.topics[t].partitions[p].errorCode = failure
            }
        }
        return failed
    }

    /// A transaction marker was written to `__consumer_offsets` partition `offsetsPartition`.
    public func completeTransaction(producerId: Int64, offsetsPartition: Int32, commit: Bool) {
        machine.completeTransaction(producerId: producerId, offsetsPartition: offsetsPartition, commit: commit, now: clock.nowMs())
    }

    public func hasPendingTransactionalOffset(groupId: String, topicPartition: TopicPartition) -> Bool {
        machine.hasPendingTransactionalOffset(groupId: groupId, topicPartition: topicPartition)
    }

    public func fetchOffsets(_ input: OffsetFetchInput) -> OffsetFetchResult {
        machine.fetchOffsets(input, now: clock.nowMs())
    }

    public func deleteOffsets(_ input: OffsetDeleteInput) async -> OffsetDeleteResult {
        let (result, actions) = machine.deleteOffsets(input, now: clock.nowMs())
        guard let failure = await perform(actions) else { return result }
        return OffsetDeleteResult(errorCode: failure, topics: [])
    }

    // MARK: - Admin

    public func describeGroups(_ groupIds: [String]) -> [DescribedGroup] {
        machine.describeGroups(groupIds, now: clock.nowMs())
    }

    public func listGroups(_ input: ListGroupsInput) -> ListGroupsResult {
        machine.listGroups(input, now: clock.nowMs())
    }

    public func deleteGroups(_ groupIds: [String]) async -> [DeleteGroupResult] {
        let (results, actions) = machine.deleteGroups(groupIds, now: clock.nowMs())
        guard let failure = await perform(actions) else { return results }
        return results.map { $0.errorCode == CoordinatorErrorCode.none ? DeleteGroupResult(groupId: $0.groupId, errorCode: failure) : $0 }
    }

    // MARK: - Partition ownership

    public func beginLoading(partition: Int32) {
        machine.beginLoading(partition: partition)
    }

    /// Replays a partition's records (read by the broker from `__consumer_offsets`) and starts serving it.
    public func load(partition: Int32, records: [CoordinatorRecord], openTransactions: [Int64: [CoordinatorRecord]] = [:]) async {
        _ = await perform(machine.load(partition: partition, records: records, openTransactions: openTransactions, now: clock.nowMs()))
    }

    public func unload(partition: Int32) async {
        _ = await perform(machine.unload(partition: partition))
    }

    public func snapshot(of groupId: String) -> GroupSnapshot? { machine.snapshot(of: groupId) }

    /// Runs every timer due by the clock's now. Called by the clock wake-up; tests may call it directly.
    public func fireDueTimers() async {
        armed = nil
        let now = clock.nowMs()
        var actions: [CoordinatorAction] = []
        while let key = timers.popDue(now: now) {
            // Timer actions are applied at once so a timer armed for `now` by an expiry also runs in this pass.
            for action in machine.timerExpired(key, now: now) {
                switch action {
                case .scheduleTimer(let key, let deadline): timers.set(key, deadline: deadline)
                case .cancelTimer(let key): timers.cancel(key)
                default: actions.append(action)
                }
            }
        }
        _ = await perform(actions)
    }

    // MARK: - Performing actions

    private func newRequestId() -> UInt64 {
        nextRequestId += 1
        return nextRequestId
    }

    /// Applies timer actions at once, queues appends behind earlier ones, and answers parked requests once the
    /// appends before them are done. Returns the error code of the first failed append, if any.
    private func perform(_ actions: [CoordinatorAction]) async -> Int16? {
        var appends: [Task<Int16?, Never>] = []
        var completions: [(afterAppends: Int, action: CoordinatorAction?)] = []
        for action in actions {
            switch action {
            case .append(let partition, let records):
                appends.append(enqueueAppend(partition: partition, records: records))
            case .scheduleTimer(let key, let deadline):
                timers.set(key, deadline: deadline)
            case .cancelTimer(let key):
                timers.cancel(key)
            case .completeJoin, .completeSync:
                completions.append((appends.count, action))
            }
        }
        rearm()
        var failure: Int16?
        var awaited = 0
        // A trailing pseudo-completion makes the loop also wait for appends after the last completion.
        for (afterAppends, action) in completions + [(appends.count, nil)] {
            while awaited < afterAppends {
                if let code = await appends[awaited].value, failure == nil { failure = code }
                awaited += 1
            }
            switch action {
            case .completeJoin(let id, let result)?: resumeJoin(id, failure.map { result.failed($0) } ?? result)
            case .completeSync(let id, let result)?: resumeSync(id, failure.map { SyncGroupResult(errorCode: $0) } ?? result)
            default: break
            }
        }
        return failure
    }

    private func enqueueAppend(partition: Int32, records: [CoordinatorRecord]) -> Task<Int16?, Never> {
        let previous = appendTails[partition]
        let log = self.log
        let task = Task<Int16?, Never> {
            _ = await previous?.value
            let failure: Int16?
            do {
                try await log.append(partition: partition, records: records)
                failure = nil
            } catch let error as CoordinatorAppendError {
                failure = error.errorCode
            } catch {
                failure = CoordinatorErrorCode.coordinatorNotAvailable
            }
            // Before anyone is answered: the commit becomes visible (or is undone) first.
            await self.appendCompleted(records, succeeded: failure == nil)
            return failure
        }
        appendTails[partition] = task
        return task
    }

    private func appendCompleted(_ records: [CoordinatorRecord], succeeded: Bool) {
        machine.appendCompleted(records, succeeded: succeeded)
    }

    private func resumeJoin(_ id: UInt64, _ result: JoinGroupResult) {
        if let continuation = parkedJoins.removeValue(forKey: id) {
            continuation.resume(returning: result)
        } else {
            earlyJoins[id] = result
        }
    }

    private func resumeSync(_ id: UInt64, _ result: SyncGroupResult) {
        if let continuation = parkedSyncs.removeValue(forKey: id) {
            continuation.resume(returning: result)
        } else {
            earlySyncs[id] = result
        }
    }

    /// Keeps exactly one clock wake-up, for the earliest deadline.
    private func rearm() {
        guard let earliest = timers.earliest() else {
            armed?.handle.cancel()
            armed = nil
            return
        }
        if let armed, armed.deadline <= earliest { return }
        armed?.handle.cancel()
        let handle = clock.schedule(atMs: earliest) { [weak self] in
            guard let self else { return }
            Task { await self.fireDueTimers() }
        }
        armed = (earliest, handle)
    }
}

extension JoinGroupResult {
    func failed(_ code: Int16) -> JoinGroupResult { .error(code, memberId: memberId) }
}
