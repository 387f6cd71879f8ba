import Testing

@testable import KafkaClient

/// Vectors from Kafka's UtilsTest.testMurmur2 and values Java's Utils.murmur2 returns.
@Test(arguments: [
    ("21", Int32(-973_932_308)),
    ("foobar", -790_332_482),
    ("a-little-bit-long-string", -985_981_536),
    ("a-little-bit-longer-string", -1_486_304_829),
    ("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58_897_971),
    ("abc", 479_470_107),
])
func murmur2MatchesJava(input: String, expected: Int32) {
    #expect(murmur2(Array(input.utf8)) == expected)
}

@Test func murmur2OfEmptyInput() {
    // h = seed ^ 0, then only the final mix: 0x9747b28c -> 275646681 (Java: Utils.murmur2(new byte[0])).
    #expect(murmur2([UInt8]()) == 275_646_681)
}

@Test func toPositiveClearsTheSignBitOnly() {
    #expect(toPositive(-1) == Int32.max)
    #expect(toPositive(Int32.min) == 0)
    #expect(toPositive(5) == 5)
}

@Test func keyedPartitionIsMurmur2ModuloCount() {
    for key in ["a", "key-1", "foobar", ""] {
        let bytes = Array(key.utf8)
        #expect(defaultPartition(key: bytes, numPartitions: 7) == toPositive(murmur2(bytes)) % 7)
    }
}

@Test func producerPropertiesParseLikeJava() throws {
    let c = try ProducerConfig(properties: [
        "bootstrap.servers": "a:1,b:2", "acks": "1", "linger.ms": "20", "batch.size": "1000",
        "compression.type": "zstd", "client.id": "me",
    ])
    #expect(c.cluster.bootstrapServers == ["a:1", "b:2"])
    #expect(c.acks == 1)
    #expect(c.enableIdempotence == false)  // acks != all without an explicit enable.idempotence
    #expect(c.linger == .milliseconds(20))
    #expect(c.compression == .zstd)
    #expect(c.cluster.clientId == "me")
    #expect(throws: KafkaClientError.self) { try ProducerConfig(properties: ["bootstrap.servers": "a:1", "acks": "2"]) }
    #expect(throws: KafkaClientError.self) {
        try ProducerConfig(properties: ["bootstrap.servers": "a:1", "acks": "1", "enable.idempotence": "true"])
    }
}
