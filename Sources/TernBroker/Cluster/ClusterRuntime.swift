import NIOConcurrencyHelpers
import NIOCore
import TernStorage

/// The moving parts of a broker in a cluster: one replica fetcher per leader it follows, periodic tasks.
final class ClusterRuntime: Sendable {
    let fetchers = NIOLockedValueBox<[Int32: ReplicaFetcher]>([:])
    let tasks = NIOLockedValueBox<[RepeatedTask]>([])
    /// Partitions with an ISR expansion being written (Broker+IsrExpansion.swift).
    let pendingIsrExpansions = NIOLockedValueBox<Set<TopicPartition>>([])

    func stop() {
        for f in fetchers.withLockedValue({ f in defer { f = [:] }; return Array(f.values) }) { f.stop() }
        for t in tasks.withLockedValue({ t in defer { t = [] }; return t }) { t.cancel() }
    }
}
