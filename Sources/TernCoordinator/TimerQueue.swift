/// The coordinator's timers: at most one deadline per key, kept in a binary min-heap with lazy deletion
/// (re-arming a key leaves its old heap entry behind; it is skipped when popped). The heap is rebuilt when
/// stale entries outnumber live ones, so memory stays proportional to the live timers.
struct TimerQueue {
    private struct Entry {
        var deadline: Int64
        var sequence: UInt64
        var key: CoordinatorTimerKey
    }
    private var heap: [Entry] = []
    private var live: [CoordinatorTimerKey: (deadline: Int64, sequence: UInt64)] = [:]
    private var nextSequence: UInt64 = 0

    var count: Int { live.count }

    mutating func set(_ key: CoordinatorTimerKey, deadline: Int64) {
        nextSequence += 1
        live[key] = (deadline, nextSequence)
        push(Entry(deadline: deadline, sequence: nextSequence, key: key))
        if heap.count > 64 && heap.count > 4 * live.count { rebuild() }
    }

    mutating func cancel(_ key: CoordinatorTimerKey) { live[key] = nil }

    /// The earliest live deadline.
    mutating func earliest() -> Int64? {
        dropStale()
        return heap.first?.deadline
    }

    /// Removes and returns the earliest live key due at `now`, if any.
    mutating func popDue(now: Int64) -> CoordinatorTimerKey? {
        dropStale()
        guard let top = heap.first, top.deadline <= now else { return nil }
        pop()
        live[top.key] = nil
        return top.key
    }

    private func isLive(_ entry: Entry) -> Bool { live[entry.key]?.sequence == entry.sequence }

    private mutating func dropStale() {
        while let top = heap.first, !isLive(top) { pop() }
    }

    private mutating func rebuild() {
        heap = live.map { Entry(deadline: $0.value.deadline, sequence: $0.value.sequence, key: $0.key) }
        for index in stride(from: heap.count / 2 - 1, through: 0, by: -1) { siftDown(index) }
    }

    private static func less(_ a: Entry, _ b: Entry) -> Bool {
        a.deadline != b.deadline ? a.deadline < b.deadline : a.sequence < b.sequence
    }

    private mutating func push(_ entry: Entry) {
        heap.append(entry)
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard Self.less(heap[child], heap[parent]) else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    private mutating func pop() {
        heap.swapAt(0, heap.count - 1)
        heap.removeLast()
        if !heap.isEmpty { siftDown(0) }
    }

    private mutating func siftDown(_ start: Int) {
        var parent = start
        while true {
            let left = 2 * parent + 1, right = left + 1
            var smallest = parent
            if left < heap.count && Self.less(heap[left], heap[smallest]) { smallest = left }
            if right < heap.count && Self.less(heap[right], heap[smallest]) { smallest = right }
            if smallest == parent { return }
            heap.swapAt(parent, smallest)
            parent = smallest
        }
    }
}
