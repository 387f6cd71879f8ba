import FoundationEssentials
import TernCluster

/// Producer ids in a cluster come from blocks claimed in ZooKeeper, as Kafka's `ZkProducerIdManager` does: every
/// broker hands out ids (InitProducerId of idempotent producers, and its transaction coordinator), so the blocks
/// must not overlap. `/latest_producer_id_block` holds the last claimed block,
/// `{"version":1,"broker":<id>,"block_start":"<first>","block_end":"<last>"}`; a broker claims the next one with a
/// write conditional on the znode version and retries when another broker claimed first.
extension ZooKeeperMetadataStore {
    static let producerIdBlockPath = "/latest_producer_id_block"

    struct ProducerIdBlockError: Error, CustomStringConvertible {
        var description: String
    }

    func claimProducerIdBlock(brokerId: Int32, size: Int64) throws -> ClosedRange<Int64> {
        let path = Self.producerIdBlockPath
        for _ in 0..<100 {
            let zk = self.zk
            let current: (data: [UInt8], stat: ZNodeStat)
            do {
                current = try zk.blocking { zk.get(path, watch: false, completion: $0) }
            } catch let e as ZooKeeperError where e.isNoNode {
                _ = try? zk.blocking { (done: @escaping @Sendable (Result<String, ZooKeeperError>) -> Void) in
                    zk.create(path, data: [], mode: .persistent, completion: done)
                }
                continue
            }
            let start = (Self.lastBlockEnd(current.data) ?? -1) + 1
            let block = start...(start + size - 1)
            let json = "{\"version\":1,\"broker\":\(brokerId),\"block_start\":\"\(block.lowerBound)\",\"block_end\":\"\(block.upperBound)\"}"
            do {
                _ = try zk.blocking { zk.set(path, data: Array(json.utf8), version: current.stat.version, completion: $0) }
                return block
            } catch let e as ZooKeeperError where e.isBadVersion {
                continue  // another broker claimed a block meanwhile: read again
            }
        }
        throw ProducerIdBlockError(description: "could not claim a producer id block in \(path) after 100 attempts")
    }

    /// `block_end` of the stored block (Kafka writes it as a string; a number is accepted too); nil when empty.
    static func lastBlockEnd(_ data: [UInt8]) -> Int64? {
        guard !data.isEmpty else { return nil }
        return (try? JSONDecoder().decode(StoredBlock.self, from: Data(data)))?.blockEnd
    }

    /// The stored block's `block_end`, a string or a number.
    private struct StoredBlock: Decodable {
        var blockEnd: Int64?

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: Key.self)
            if let s = try? c.decode(String.self, forKey: .blockEnd) {
                blockEnd = Int64(s)
            } else {
                blockEnd = try? c.decode(Int64.self, forKey: .blockEnd)
            }
        }

        enum Key: String, CodingKey { case blockEnd = "block_end" }
    }
}

extension ProducerIdManager {
    /// In a cluster, the claim of a ZooKeeper block; alone, nil (the local file).
    static func zooKeeperBlocks(_ store: any MetadataStore, brokerId: Int32) -> (@Sendable () throws -> ClosedRange<Int64>)? {
        guard let zk = store as? ZooKeeperMetadataStore else { return nil }
        return { try zk.claimProducerIdBlock(brokerId: brokerId, size: ProducerIdManager.blockSize) }
    }
}
