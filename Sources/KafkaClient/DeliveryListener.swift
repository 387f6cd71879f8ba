/// Receives the broker's answers for records sent with `KafkaProducer.send(_:tag:listener:)`: one call per run
/// of consecutive records of a batch that share the listener, rather than a closure per record, so a producer
/// sending millions of records a second allocates nothing per record for its reports.
public protocol DeliveryListener: AnyObject, Sendable {
    /// `tags` are the records' tags in send order. On success the result is the first one's offset and each next
    /// one's is one more (-1 for all with acks=0); on failure every record of `tags` failed with that error.
    /// Runs on an arbitrary thread, like a `DeliveryCallback`.
    func delivered(topic: String, partition: Int32, tags: [Int], result: Result<Int64, KafkaClientError>)
}
