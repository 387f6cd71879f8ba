/// Maps a group id to its `__consumer_offsets` partition exactly as Kafka does:
/// `Utils.abs(groupId.hashCode()) % offsets.topic.num.partitions`.
///
/// Java's `String.hashCode` runs over UTF-16 code units with 32-bit wrap-around, and Kafka's `Utils.abs`
/// maps `Int.MIN_VALUE` to 0 (it is `n & 0x7fffffff`), so every broker and client agrees on the coordinator.
public enum GroupPartitioner {
    /// `java.lang.String.hashCode()`: `s[0]*31^(n-1) + ... + s[n-1]` over UTF-16 code units, wrapping.
    public static func javaStringHashCode(_ s: String) -> Int32 {
        var h: Int32 = 0
        for unit in s.utf16 {
            h = h &* 31 &+ Int32(unit)
        }
        return h
    }

    /// Kafka's `Utils.abs`: clears the sign bit, so `Int32.min` becomes 0 rather than trapping.
    public static func kafkaAbs(_ n: Int32) -> Int32 {
        n & 0x7fff_ffff
    }

    /// The `__consumer_offsets` partition that holds `groupId`'s records.
    public static func partition(for groupId: String, numPartitions: Int32) -> Int32 {
        precondition(numPartitions > 0, "offsets.topic.num.partitions must be positive")
        return kafkaAbs(javaStringHashCode(groupId)) % numPartitions
    }
}
