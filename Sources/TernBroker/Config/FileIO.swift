#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Small blocking file helpers for start-up (config and meta.properties); never used on request paths.
enum ConfigFiles {
    struct IOError: Error, CustomStringConvertible {
        var path: String
        var operation: String
        var errno: Int32
        var description: String { "\(operation) \(path): \(String(cString: strerror(errno)))" }
    }

    /// Reads a whole (small) file; refuses files over `limit` bytes.
    static func read(_ path: String, limit: Int = 16 << 20) throws -> [UInt8]? {
        let fd = open(path, O_RDONLY)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw IOError(path: path, operation: "open", errno: errno)
        }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc_read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw IOError(path: path, operation: "read", errno: errno)
            }
            if count == 0 { return bytes }
            bytes.append(contentsOf: chunk[0..<count])
            if bytes.count > limit { throw IOError(path: path, operation: "read (file too large)", errno: EFBIG) }
        }
    }

    /// Writes via a temporary file, fsync and rename, so a crash leaves the old or the new file, never half.
    static func writeAtomically(_ path: String, contents: String) throws {
        let temporary = path + ".tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw IOError(path: temporary, operation: "create", errno: errno) }
        let bytes = Array(contents.utf8)
        var written = 0
        while written < bytes.count {
            let count = bytes[written...].withUnsafeBytes { Glibc_write(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                let error = errno
                close(fd)
                throw IOError(path: temporary, operation: "write", errno: error)
            }
            written += count
        }
        guard fsync(fd) == 0 else {
            let error = errno
            close(fd)
            throw IOError(path: temporary, operation: "fsync", errno: error)
        }
        close(fd)
        guard rename(temporary, path) == 0 else { throw IOError(path: path, operation: "rename", errno: errno) }
    }

    /// mkdir -p.
    static func createDirectories(_ path: String) throws {
        var current = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            current += "/" + component
            if mkdir(current, 0o755) != 0 && errno != EEXIST {
                throw IOError(path: current, operation: "mkdir", errno: errno)
            }
        }
    }
}

// `read`/`write` are shadowed by the static methods above inside the enum.
private func Glibc_read(_ fd: Int32, _ buffer: UnsafeMutableRawPointer?, _ count: Int) -> Int {
    read(fd, buffer, count)
}

private func Glibc_write(_ fd: Int32, _ buffer: UnsafeRawPointer?, _ count: Int) -> Int {
    write(fd, buffer, count)
}
