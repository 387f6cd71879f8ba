#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Errors of the storage layer. The broker maps `kind` to a wire error code per partition
/// (`recordListTooLarge` -> RECORD_LIST_TOO_LARGE, `messageTooLarge` -> MESSAGE_TOO_LARGE,
/// `offsetOutOfRange` -> OFFSET_OUT_OF_RANGE, `corruptRecord` -> CORRUPT_MESSAGE,
/// `invalidConfig` -> INVALID_CONFIG, `io` -> KAFKA_STORAGE_ERROR).
public struct StorageError: Error, Sendable, CustomStringConvertible, Equatable {
    public enum Kind: Sendable, Equatable {
        case io
        case corruptRecord
        case recordListTooLarge
        case messageTooLarge
        case offsetOutOfRange
        case invalidOffset
        case invalidConfig
        case logClosed
    }

    public var kind: Kind
    public var message: String
    /// The file or directory involved, when there is one.
    public var path: String?
    /// The POSIX errno of a failed system call.
    public var errno: Int32?

    public init(_ kind: Kind, _ message: String, path: String? = nil, errno: Int32? = nil) {
        self.kind = kind
        self.message = message
        self.path = path
        self.errno = errno
    }

    public var description: String {
        var text = "\(kind): \(message)"
        if let path { text += " (\(path))" }
        if let errno { text += " [errno \(errno): \(String(cString: strerror(errno)))]" }
        return text
    }

    static func io(_ what: String, path: String, errno: Int32) -> StorageError {
        StorageError(.io, what, path: path, errno: errno)
    }

    /// A topic config value that does not parse or is out of range; names the key and the expected form.
    static func invalidConfig(key: String, value: String, expected: String) -> StorageError {
        StorageError(.invalidConfig, "Invalid value \(value) for configuration \(key): expected \(expected)")
    }
}
