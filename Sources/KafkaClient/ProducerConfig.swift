import KafkaProtocol

/// Producer settings, by typed field or by Kafka's property names (`init(properties:)`).
public struct ProducerConfig: Sendable {
    public var cluster: ClusterConfig
    /// `acks`: 0, 1 or -1 ("all"). Default all.
    public var acks: Int16 = -1
    /// `linger.ms`. Default 5 ms (Kafka 4.0).
    public var linger: Duration = .milliseconds(5)
    /// `batch.size` in bytes. Default 16384.
    public var batchSize: Int = 16384
    /// `compression.type`. Default none.
    public var compression: CompressionCodec = .none
    /// `enable.idempotence`. Default true; turned off when acks is not all and it was not set explicitly, as Java does.
    public var enableIdempotence: Bool = true
    /// `max.in.flight.requests.per.connection`. Default 5.
    public var maxInFlightRequestsPerConnection: Int = 5
    /// `buffer.memory`: bytes of records waiting to be sent before `send` waits. Default 32 MiB.
    public var bufferMemory: Int = 33_554_432
    /// `max.request.size`. Default 1 MiB.
    public var maxRequestSize: Int = 1_048_576
    /// `delivery.timeout.ms`: how long a record may take, retries included. Default 120 s.
    public var deliveryTimeout: Duration = .seconds(120)
    /// `retries`. Default Int32.max (bounded by delivery.timeout.ms).
    public var retries: Int = Int(Int32.max)

    public init(bootstrapServers: [String]) {
        cluster = ClusterConfig(bootstrapServers: bootstrapServers, clientId: "producer-1")
    }

    /// From Kafka's producer property names. Unknown names are ignored, as Java warns and ignores them.
    public init(properties: [String: String]) throws(KafkaClientError) {
        guard let servers = properties["bootstrap.servers"] else {
            throw KafkaClientError(.invalidArgument, "Missing required configuration \"bootstrap.servers\"")
        }
        self.init(bootstrapServers: servers.split(separator: ",").map(String.init))
        func int(_ key: String) throws(KafkaClientError) -> Int? {
            guard let raw = properties[key] else { return nil }
            guard let v = Int(raw.trimmingWhitespaces()) else {
                throw KafkaClientError(.invalidArgument, "Invalid value \(raw) for configuration \(key): Not a number of type INT")
            }
            return v
        }
        if let v = properties["client.id"] { cluster.clientId = v }
        if let v = try int("request.timeout.ms") { cluster.requestTimeout = .milliseconds(v) }
        if let v = try int("retry.backoff.ms") { cluster.retryBackoff = .milliseconds(v) }
        if let raw = properties["acks"] {
            switch raw.trimmingWhitespaces().lowercased() {
            case "all", "-1": acks = -1
            case "1": acks = 1
            case "0": acks = 0
            default: throw KafkaClientError(.invalidArgument, "Invalid value \(raw) for configuration acks: String must be one of: all, -1, 0, 1")
            }
        }
        if let v = try int("linger.ms") { linger = .milliseconds(v) }
        if let v = try int("batch.size") { batchSize = max(v, 1) }
        if let raw = properties["compression.type"] {
            guard let codec = CompressionCodec(name: raw.lowercased()) else {
                throw KafkaClientError(.invalidArgument, "Invalid value \(raw) for configuration compression.type: String must be one of: none, gzip, snappy, lz4, zstd")
            }
            compression = codec
        }
        if let raw = properties["enable.idempotence"] {
            enableIdempotence = raw.lowercased() == "true"
            if enableIdempotence && acks != -1 {
                throw KafkaClientError(.invalidArgument, "Must set acks to all in order to use the idempotent producer.")
            }
        } else if acks != -1 {
            enableIdempotence = false
        }
        if let v = try int("max.in.flight.requests.per.connection") { maxInFlightRequestsPerConnection = max(v, 1) }
        if let v = try int("buffer.memory") { bufferMemory = v }
        if let v = try int("max.request.size") { maxRequestSize = v }
        if let v = try int("delivery.timeout.ms") { deliveryTimeout = .milliseconds(v) }
        if let v = try int("retries") { retries = v }
    }
}

/// A record to send. `partition` nil lets the partitioner choose; `timestamp` nil means now.
public struct ProducerRecord: Sendable {
    public var topic: String
    public var partition: Int32?
    public var key: [UInt8]?
    public var value: [UInt8]?
    public var headers: [(key: String, value: [UInt8]?)]
    public var timestamp: Int64?

    public init(topic: String, partition: Int32? = nil, key: [UInt8]? = nil, value: [UInt8]?,
                headers: [(key: String, value: [UInt8]?)] = [], timestamp: Int64? = nil) {
        self.topic = topic
        self.partition = partition
        self.key = key
        self.value = value
        self.headers = headers
        self.timestamp = timestamp
    }
}

/// Where a record was written (Java's RecordMetadata). `offset` is -1 with acks=0.
public struct RecordMetadata: Sendable, Hashable {
    public var topic: String
    public var partition: Int32
    public var offset: Int64
    public var timestamp: Int64
}

public typealias DeliveryCallback = @Sendable (Result<RecordMetadata, KafkaClientError>) -> Void
