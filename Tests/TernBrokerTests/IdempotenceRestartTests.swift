import KafkaProtocol
import NIOCore
import Testing

@testable import TernBroker

/// Idempotent-producer dedup survives a restart: the producer table is snapshotted on clean shutdown and rebuilt
/// from the log tail after a crash, so a retried batch is still answered with its original offset.
@Suite struct IdempotenceRestartTests {
    private func batch(sequence: Int32, value: String) throws -> (ByteBuffer, [RecordBatchHeader]) {
        var builder = RecordBatchBuilder(producerId: 42, producerEpoch: 0, baseSequence: sequence)
        builder.append(key: nil, value: ByteBuffer(string: value), timestamp: Broker.nowMs())
        let bytes = try builder.build()
        return (bytes, try RecordBatchValidator.validate(bytes))
    }

    @Test func duplicateAfterCleanRestartGetsTheOriginalOffset() throws {
        let fixture = try AdminFixture()
        try fixture.createTopic("idem")
        for (i, seq) in [Int32(0), 1, 2].enumerated() {
            let (bytes, headers) = try batch(sequence: seq, value: "v\(i)")
            let p = try #require(fixture.broker.replicaManager.partition(topic: "idem", index: 0))
            #expect(try p.appendAsLeader(bytes, headers: headers).baseOffset == Int64(i))
        }
        try fixture.restart()
        let p = try #require(fixture.broker.replicaManager.partition(topic: "idem", index: 0))
        let (retry, retryHeaders) = try batch(sequence: 1, value: "v1")
        #expect(try p.appendAsLeader(retry, headers: retryHeaders).baseOffset == 1)
        #expect(p.log.logEndOffset == 3)
        let (gap, gapHeaders) = try batch(sequence: 7, value: "gap")
        #expect(throws: Partition.AppendFailure.self) { try p.appendAsLeader(gap, headers: gapHeaders) }
        let (next, nextHeaders) = try batch(sequence: 3, value: "v3")
        #expect(try p.appendAsLeader(next, headers: nextHeaders).baseOffset == 3)
    }
}
