import Testing

@testable import TernBroker

/// Role changes noted in order decide whether a coordinator partition must be (re)loaded.
@Suite struct PartitionRolesTests {
    @Test func losingAndRegainingLeadershipStartsANewTerm() {
        let roles = PartitionRoles()
        roles.observe(3, leads: true)
        let first = roles.leadingTerm(3)
        #expect(first != nil)
        roles.setLoaded(3, term: first)
        roles.observe(3, leads: true)  // e.g. an ISR change: same term, nothing to reload
        #expect(roles.leadingTerm(3) == first)
        roles.observe(3, leads: false)
        #expect(roles.leadingTerm(3) == nil)
        roles.observe(3, leads: true)  // regained before the queue ran: another leader may have written meanwhile
        #expect(roles.leadingTerm(3) != first)
        #expect(roles.loadedTerm(3) == first)
    }

    @Test func reconciliationsRunInOrder() async {
        let roles = PartitionRoles()
        let seen = Seen()
        for i in 0..<20 { roles.enqueue { await seen.add(i) } }
        let done = Seen()
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            roles.enqueue {
                await done.add(0)
                c.resume()
            }
        }
        #expect(await seen.values == Array(0..<20))
    }

    actor Seen {
        var values: [Int] = []
        func add(_ v: Int) { values.append(v) }
    }
}
