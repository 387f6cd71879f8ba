import Testing
@testable import KafkaClient

@Test func kafkaClientLinks() { #expect(Bool(true)) }
