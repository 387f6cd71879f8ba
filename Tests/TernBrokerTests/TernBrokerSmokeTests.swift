import Testing
@testable import TernBroker

@Test func TernBrokerLinks() { #expect(Bool(true)) }
