import Foundation
import NIOConcurrencyHelpers
import Testing

@testable import TernBroker

/// Producer ids in a cluster come from blocks shared through ZooKeeper (Kafka's ZkProducerIdManager layout).
@Suite struct ProducerIdBlockTests {
    @Test func lastBlockEndReadsKafkasJson() {
        let kafka = #"{"version":1,"broker":2,"block_start":"1000","block_end":"1999"}"#
        #expect(ZooKeeperMetadataStore.lastBlockEnd(Array(kafka.utf8)) == 1999)
        #expect(ZooKeeperMetadataStore.lastBlockEnd(Array(#"{"block_end":41}"#.utf8)) == 41)
        #expect(ZooKeeperMetadataStore.lastBlockEnd([]) == nil)
    }

    @Test func idsComeFromClaimedBlocksInOrder() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pid-\(UUID())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let claims = NIOLockedValueBox<[ClosedRange<Int64>]>([5000...5001, 9000...9001])
        let manager = try ProducerIdManager(directory: dir, claimBlock: {
            claims.withLockedValue { $0.removeFirst() }
        })
        #expect(try (0..<4).map { _ in try manager.nextProducerId() } == [5000, 5001, 9000, 9001])
        // Nothing is reserved in the local file in cluster mode.
        #expect(!FileManager.default.fileExists(atPath: (dir as NSString).appendingPathComponent("__tern_producer_ids")))
    }
}
