import Testing
@testable import TernStorage

@Test func TernStorageLinks() { #expect(Bool(true)) }
