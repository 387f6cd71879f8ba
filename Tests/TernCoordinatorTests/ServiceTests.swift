import Testing
@testable import TernCoordinator

actor MemoryLog: CoordinatorLogWriter {
    var appended: [(partition: Int32, records: [CoordinatorRecord])] = []
    var failNext = false

    func append(partition: Int32, records: [CoordinatorRecord]) async throws {
        if failNext {
            failNext = false
            throw CoordinatorAppendError(errorCode: CoordinatorErrorCode.notCoordinator)
        }
        appended.append((partition, records))
    }

    func setFailNext() { failNext = true }
    var records: [CoordinatorRecord] { appended.flatMap(\.records) }
}

/// Waits (bounded) for a condition that another task makes true.
func eventually(_ condition: () async -> Bool) async -> Bool {
    for _ in 0..<10_000 {
        if await condition() { return true }
        await Task.yield()
    }
    return false
}

/// Moves the clock and waits until the service has run what fell due (the clock's own wake-up runs it in a
/// separate task; running it here too is harmless and makes the step deterministic).
func advance(_ clock: ManualCoordinatorClock, _ service: GroupCoordinatorService, byMs ms: Int64) async {
    clock.advance(byMs: ms)
    await service.fireDueTimers()
}

@Suite struct GroupCoordinatorServiceTests {
    @Test func joinSyncThroughTheServiceWithAManualClock() async {
        let clock = ManualCoordinatorClock()
        let log = MemoryLog()
        let service = GroupCoordinatorService(log: log, clock: clock)
        let first = await service.joinGroup(JoinGroupInput(groupId: "g", protocols: [range], clientId: "a"))
        #expect(first.errorCode == CoordinatorErrorCode.memberIdRequired)
        let second = await service.joinGroup(JoinGroupInput(groupId: "g", protocols: [range], clientId: "b"))

        async let joinA = service.joinGroup(JoinGroupInput(groupId: "g", memberId: first.memberId, protocols: [range], clientId: "a"))
        async let joinB = service.joinGroup(JoinGroupInput(groupId: "g", memberId: second.memberId, protocols: [range], clientId: "b"))
        #expect(await eventually { await service.snapshot(of: "g")?.members.count == 2 })
        // The initial rebalance delay (3 s) is extended once because b joined during it.
        await advance(clock, service, byMs: 3000)
        await advance(clock, service, byMs: 3000)
        let (a, b) = await (joinA, joinB)
        #expect(a.errorCode == 0 && b.errorCode == 0 && a.generationId == 1 && a.leader == first.memberId)
        #expect(a.members.count == 2 && b.members.isEmpty)

        async let syncB = service.syncGroup(SyncGroupInput(groupId: "g", generationId: 1, memberId: second.memberId))
        #expect(await eventually { await service.snapshot(of: "g") != nil })
        let syncA = await service.syncGroup(SyncGroupInput(groupId: "g", generationId: 1, memberId: first.memberId, assignments: [
            SyncGroupAssignment(memberId: first.memberId, assignment: [1]), SyncGroupAssignment(memberId: second.memberId, assignment: [2]),
        ]))
        #expect(syncA.assignment == [1])
        #expect(await syncB.assignment == [2])
        let records = await log.records
        #expect(records.count == 1)
        #expect(await log.appended.first?.partition == service.partition(for: "g"))

        let commit = await service.commitOffsets(commitInput("g", generation: 1, member: first.memberId, [("orders", 0, 5)]))
        #expect(codes(commit) == [0])
        let fetched = await service.fetchOffsets(OffsetFetchInput(groups: [OffsetFetchGroup(groupId: "g", topics: nil)]))
        #expect(fetched.groups[0].topics[0].partitions[0].committedOffset == 5)
        #expect(await log.records.count == 2)
    }

    @Test func sessionTimerFiresThroughTheClock() async {
        let clock = ManualCoordinatorClock()
        let service = GroupCoordinatorService(log: MemoryLog(), clock: clock)
        let first = await service.joinGroup(JoinGroupInput(groupId: "g", protocols: [range], sessionTimeoutMs: 10_000, clientId: "a"))
        async let join = service.joinGroup(JoinGroupInput(groupId: "g", memberId: first.memberId, protocols: [range], sessionTimeoutMs: 10_000, clientId: "a"))
        #expect(await eventually { await service.snapshot(of: "g")?.members.count == 1 })
        await advance(clock, service, byMs: 3000)
        #expect(await join.generationId == 1)
        // No heartbeat and no SyncGroup: the session expires and the group empties.
        await advance(clock, service, byMs: 10_001)
        #expect(await eventually { await service.snapshot(of: "g")?.state == .empty })
        #expect(await service.heartbeat(HeartbeatInput(groupId: "g", generationId: 1, memberId: first.memberId)).errorCode == CoordinatorErrorCode.unknownMemberId)
    }

    @Test func failedAppendIsReportedToTheRequest() async {
        let log = MemoryLog()
        let service = GroupCoordinatorService(log: log, clock: ManualCoordinatorClock())
        await log.setFailNext()
        let failed = await service.commitOffsets(commitInput("g", [("t", 0, 1), ("t", 1, 2)]))
        #expect(codes(failed) == [CoordinatorErrorCode.notCoordinator, CoordinatorErrorCode.notCoordinator])
        let ok = await service.commitOffsets(commitInput("g", [("t", 0, 1)]))
        #expect(codes(ok) == [0])
    }

    @Test func timerQueueKeepsOneDeadlinePerKeyInOrder() {
        var queue = TimerQueue()
        queue.set(.rebalance(groupId: "a"), deadline: 50)
        queue.set(.rebalance(groupId: "b"), deadline: 10)
        queue.set(.rebalance(groupId: "a"), deadline: 5) // re-armed earlier
        queue.set(.pendingSync(groupId: "c"), deadline: 30)
        queue.cancel(.pendingSync(groupId: "c"))
        #expect(queue.earliest() == 5)
        #expect(queue.popDue(now: 20) == .rebalance(groupId: "a"))
        #expect(queue.popDue(now: 20) == .rebalance(groupId: "b"))
        #expect(queue.popDue(now: 100) == nil)
        // Re-arming many times keeps the heap bounded.
        for deadline in 0..<10_000 { queue.set(.offsetsRetention, deadline: Int64(deadline)) }
        #expect(queue.count == 1)
        #expect(queue.popDue(now: 100_000) == .offsetsRetention)
    }
}
