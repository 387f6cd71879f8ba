import NIOCore

/// Keeps responses in request order on one connection while requests complete in any order.
///
/// Every admitted request takes the next slot at the tail; a completion fills its slot; the filled slots at the
/// head are released in order. The number of slots is what the connection bounds (requests admitted whose
/// response has not been written yet), so a slow request at the head holds back reads, not memory.
struct ResponseOrdering {
    enum Outcome {
        /// Write this payload (without size prefix).
        case response(KafkaResponse)
        /// acks=0: nothing to write; the slot just frees up.
        case noResponse
        /// The handler threw: close the connection once everything before it is written.
        case failed(request: KafkaRequestFrame, error: any Error)
    }

    private var slots = CircularBuffer<Outcome?>(initialCapacity: 16)
    /// Sequence number of the request at the head of `slots`.
    private var headSequence: UInt64 = 0

    /// Requests admitted and not yet released.
    var outstanding: Int { slots.count }

    /// Takes the next slot; the returned sequence number identifies the request on completion.
    mutating func admit() -> UInt64 {
        slots.append(nil)
        return headSequence + UInt64(slots.count - 1)
    }

    /// Records a completion and returns the outcomes that can now be released, in request order.
    mutating func complete(_ sequence: UInt64, with outcome: Outcome) -> [Outcome] {
        precondition(sequence >= headSequence && sequence - headSequence < UInt64(slots.count), "unknown sequence")
        let index = slots.index(slots.startIndex, offsetBy: Int(sequence - headSequence))
        precondition(slots[index] == nil, "request completed twice")
        slots[index] = outcome
        var released: [Outcome] = []
        while let first = slots.first, let ready = first {
            released.append(ready)
            slots.removeFirst()
            headSequence += 1
        }
        return released
    }

    /// Forgets everything (connection closed).
    mutating func removeAll() {
        headSequence += UInt64(slots.count)
        slots.removeAll()
    }
}
