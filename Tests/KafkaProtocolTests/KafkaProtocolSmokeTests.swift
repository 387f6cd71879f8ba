import Testing
@testable import KafkaProtocol

@Test func KafkaProtocolLinks() { #expect(Bool(true)) }
