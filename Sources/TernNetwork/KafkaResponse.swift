import NIOCore

/// One response payload (response header + body, WITHOUT the 4-byte size prefix) as a sequence of parts: bytes
/// built in memory, and byte ranges of open files that the connection sends with sendfile (NIO `FileRegion`), so
/// fetched records go from the page cache to the socket without passing through user space, as Kafka does on
/// PLAINTEXT listeners.
///
/// Most responses are one `.bytes` part. A handler may return `.file` parts only on connections whose
/// `ConnectionContext.supportsFileRegion` is set: a TLS or SASL-wrapping handler cannot encrypt a file region.
public struct KafkaResponse: Sendable {
    public enum Part: Sendable {
        case bytes(ByteBuffer)
        case file(FileSlice)

        public var byteCount: Int {
            switch self {
            case .bytes(let buffer): return buffer.readableBytes
            case .file(let slice): return slice.length
            }
        }
    }

    public private(set) var parts: [Part]
    /// Sum of all parts: what the size prefix says.
    public private(set) var byteCount: Int

    /// A response held in one buffer.
    public init(_ bytes: ByteBuffer) {
        self.parts = [.bytes(bytes)]
        self.byteCount = bytes.readableBytes
    }

    public init(parts: [Part] = []) {
        self.parts = parts
        self.byteCount = parts.reduce(0) { $0 + $1.byteCount }
    }

    public mutating func append(_ bytes: ByteBuffer) {
        guard bytes.readableBytes > 0 else { return }
        parts.append(.bytes(bytes))
        byteCount += bytes.readableBytes
    }

    public mutating func append(_ slice: FileSlice) {
        guard slice.length > 0 else { return }
        parts.append(.file(slice))
        byteCount += slice.length
    }

    /// Whether any part must be sent from a file.
    public var hasFileParts: Bool {
        parts.contains { if case .file = $0 { return true } else { return false } }
    }
}

/// `length` bytes at `offset` of an open file descriptor, and the object that keeps the descriptor open.
///
/// The connection handler holds `owner` until NIO reports the region written (or failed), so a segment deleted
/// by retention or replaced by the cleaner meanwhile stays readable (unlinked but open). The descriptor is used
/// with positional reads only (sendfile with an explicit offset), so sharing it with other readers is safe.
public struct FileSlice: Sendable {
    public let fileDescriptor: CInt
    public let offset: Int64
    public let length: Int
    /// Closes `fileDescriptor` when released; never closed by the network layer.
    public let owner: any AnyObject & Sendable

    public init(fileDescriptor: CInt, offset: Int64, length: Int, owner: any AnyObject & Sendable) {
        precondition(offset >= 0 && length >= 0, "a file slice has a non-negative offset and length")
        self.fileDescriptor = fileDescriptor
        self.offset = offset
        self.length = length
        self.owner = owner
    }
}
