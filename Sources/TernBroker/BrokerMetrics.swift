import Metrics

/// Broker-level metrics through swift-metrics (any backend, e.g. Prometheus, can be bootstrapped by the
/// executable). Named after Kafka's BrokerTopicMetrics (MessagesInPerSec, BytesInPerSec, BytesOutPerSec, ...),
/// counted per request, never per record.
struct BrokerMetrics: Sendable {
    let messagesIn = Counter(label: "tern_broker_messages_in_total")
    let bytesIn = Counter(label: "tern_broker_bytes_in_total")
    let produceRejected = Counter(label: "tern_broker_failed_produce_requests_total")
    let fetchBytesOut = Counter(label: "tern_broker_fetch_bytes_out_total")
}
