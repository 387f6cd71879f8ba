import Testing
@testable import TernCoordinator

@Suite struct GroupPartitionerTests {
    @Test func javaStringHashCodeMatchesKnownJavaValues() {
        #expect(GroupPartitioner.javaStringHashCode("") == 0)
        #expect(GroupPartitioner.javaStringHashCode("a") == 97)
        #expect(GroupPartitioner.javaStringHashCode("abc") == 96354)
        #expect(GroupPartitioner.javaStringHashCode("hello") == 99_162_322)
        // The classic Java example whose hashCode is Integer.MIN_VALUE.
        #expect(GroupPartitioner.javaStringHashCode("polygenelubricants") == Int32.min)
        // Outside the BMP Java hashes the two UTF-16 surrogates (0xD83D, 0xDE00).
        #expect(GroupPartitioner.javaStringHashCode("😀") == 0xD83D * 31 + 0xDE00)
    }

    @Test func partitionUsesKafkaAbsSoMinValueMapsToZero() {
        #expect(GroupPartitioner.kafkaAbs(Int32.min) == 0)
        #expect(GroupPartitioner.kafkaAbs(-5) == 2_147_483_643)
        #expect(GroupPartitioner.partition(for: "polygenelubricants", numPartitions: 50) == 0)
        #expect(GroupPartitioner.partition(for: "hello", numPartitions: 50) == 99_162_322 % 50)
        // A negative hash: Kafka clears the sign bit rather than negating.
        let h = GroupPartitioner.javaStringHashCode("console-consumer-12345")
        #expect(GroupPartitioner.partition(for: "console-consumer-12345", numPartitions: 50) == (h & 0x7fff_ffff) % 50)
    }

    @Test func recordsGoToTheGroupsPartition() {
        let h = Harness()
        _ = h.commit(OffsetCommitInput(groupId: "hello", topics: [OffsetCommitTopic(name: "t", partitions: [OffsetCommitPartition(partitionIndex: 0, committedOffset: 5)])]))
        #expect(h.appends.map(\.partition) == [99_162_322 % 50])
    }
}
