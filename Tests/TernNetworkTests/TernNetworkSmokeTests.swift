import Testing
@testable import TernNetwork

@Test func TernNetworkLinks() { #expect(Bool(true)) }
