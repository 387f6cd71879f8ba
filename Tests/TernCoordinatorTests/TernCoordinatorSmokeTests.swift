import Testing
@testable import TernCoordinator

@Test func TernCoordinatorLinks() { #expect(Bool(true)) }
