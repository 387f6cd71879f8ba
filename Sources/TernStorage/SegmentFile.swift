import NIOCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// One open file of the log, read and written with positional POSIX calls (pread/pwrite), so readers need no
/// shared file offset and can run outside the partition lock.
///
/// The descriptor is closed when the last reference goes away. A `FetchData` keeps its file alive, so a segment
/// deleted by retention while a response is being sent stays readable (unlinked but open), like Kafka's
/// delayed file deletion.
public final class SegmentFile: @unchecked Sendable {  // immutable after init; pread/pwrite are thread safe
    public let path: String
    public let fileDescriptor: CInt

    /// Opens `path` read-write, creating it when `create` is set (and emptying it when `truncate` is set).
    init(path: String, create: Bool = false, truncate: Bool = false) throws {
        var flags = O_RDWR | O_CLOEXEC
        if create { flags |= O_CREAT }
        if truncate { flags |= O_TRUNC }
        let fd = open(path, flags, 0o644)
        guard fd >= 0 else { throw StorageError.io("open failed", path: path, errno: errno) }
        self.path = path
        self.fileDescriptor = fd
    }

    deinit { close(fileDescriptor) }

    func size() throws -> Int64 {
        var st = stat()
        guard fstat(fileDescriptor, &st) == 0 else { throw StorageError.io("fstat failed", path: path, errno: errno) }
        return Int64(st.st_size)
    }

    /// Last modification time in milliseconds since the epoch (Kafka's fallback segment timestamp).
    func lastModifiedMs() -> Int64 {
        var st = stat()
        guard fstat(fileDescriptor, &st) == 0 else { return 0 }
        #if canImport(Darwin)
        return Int64(st.st_mtimespec.tv_sec) * 1000 + Int64(st.st_mtimespec.tv_nsec) / 1_000_000
        #else
        return Int64(st.st_mtim.tv_sec) * 1000 + Int64(st.st_mtim.tv_nsec) / 1_000_000
        #endif
    }

    /// Writes all readable bytes of `buffer` at `offset` (looping over short writes).
    func write(_ buffer: ByteBuffer, at offset: Int64) throws {
        try buffer.withUnsafeReadableBytes { try write(bytes: $0, at: offset) }
    }

    func write(bytes: UnsafeRawBufferPointer, at offset: Int64) throws {
        var done = 0
        while done < bytes.count {
            let n = pwrite(fileDescriptor, bytes.baseAddress! + done, bytes.count - done, off_t(offset) + off_t(done))
            if n < 0 {
                if errno == EINTR { continue }
                throw StorageError.io("pwrite failed", path: path, errno: errno)
            }
            done += n
        }
    }

    /// Reads up to `length` bytes at `offset`; the result is shorter only at end of file.
    func read(at offset: Int64, length: Int, allocator: ByteBufferAllocator = ByteBufferAllocator()) throws -> ByteBuffer {
        var buffer = allocator.buffer(capacity: length)
        let got = try buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: length) { raw in
            try self.read(into: UnsafeMutableRawBufferPointer(rebasing: raw[0..<length]), at: offset)
        }
        precondition(got <= length)
        return buffer
    }

    /// Fills `into` from `offset`, returning the number of bytes read (short only at end of file).
    func read(into: UnsafeMutableRawBufferPointer, at offset: Int64) throws -> Int {
        var done = 0
        while done < into.count {
            let n = pread(fileDescriptor, into.baseAddress! + done, into.count - done, off_t(offset) + off_t(done))
            if n < 0 {
                if errno == EINTR { continue }
                throw StorageError.io("pread failed", path: path, errno: errno)
            }
            if n == 0 { break }
            done += n
        }
        return done
    }

    func truncate(to size: Int64) throws {
        guard ftruncate(fileDescriptor, off_t(size)) == 0 else {
            throw StorageError.io("ftruncate to \(size) failed", path: path, errno: errno)
        }
    }

    func sync() throws {
        #if canImport(Darwin)
        let rc = fsync(fileDescriptor)
        #else
        let rc = fdatasync(fileDescriptor)
        #endif
        guard rc == 0 else { throw StorageError.io("fsync failed", path: path, errno: errno) }
    }
}

/// Small file-system helpers shared by the storage types.
enum FileSystem {
    static func exists(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0
    }

    static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    static func size(_ path: String) -> Int64? {
        var st = stat()
        return stat(path, &st) == 0 ? Int64(st.st_size) : nil
    }

    static func makeDirectory(_ path: String) throws {
        if mkdir(path, 0o755) != 0 && errno != EEXIST {
            throw StorageError.io("mkdir failed", path: path, errno: errno)
        }
    }

    static func listDirectory(_ path: String) throws -> [String] {
        guard let dir = opendir(path) else { throw StorageError.io("opendir failed", path: path, errno: errno) }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: Int(NAME_MAX) + 1) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    static func remove(_ path: String) throws {
        if unlink(path) != 0 && errno != ENOENT {
            throw StorageError.io("unlink failed", path: path, errno: errno)
        }
    }

    static func rename(_ from: String, _ to: String) throws {
        #if canImport(Glibc)
        let rc = Glibc.rename(from, to)
        #elseif canImport(Musl)
        let rc = Musl.rename(from, to)
        #else
        let rc = Darwin.rename(from, to)
        #endif
        guard rc == 0 else { throw StorageError.io("rename to \(to) failed", path: from, errno: errno) }
    }

    /// Removes a directory and everything in it (partition directories hold only plain files).
    static func removeTree(_ path: String) throws {
        for name in try listDirectory(path) {
            let child = path + "/" + name
            if isDirectory(child) { try removeTree(child) } else { try remove(child) }
        }
        if rmdir(path) != 0 && errno != ENOENT { throw StorageError.io("rmdir failed", path: path, errno: errno) }
    }

    /// fsync of a directory, so a rename or create in it survives a power loss.
    static func syncDirectory(_ path: String) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return }
        _ = fsync(fd)
        close(fd)
    }

    /// Writes `bytes` to `path` atomically: a `.tmp` sibling written and fsynced, then renamed over `path`.
    static func writeAtomically(_ bytes: [UInt8], to path: String) throws {
        let tmp = path + ".tmp"
        let file = try SegmentFile(path: tmp, create: true, truncate: true)
        try bytes.withUnsafeBytes { try file.write(bytes: $0, at: 0) }
        try file.sync()
        try rename(tmp, path)
        if let slash = path.lastIndex(of: "/") { syncDirectory(String(path[..<slash])) }
    }

    static func readAll(_ path: String, limit: Int = 64 << 20) throws -> [UInt8]? {
        guard exists(path) else { return nil }
        let file = try SegmentFile(path: path)
        let size = Int(min(try file.size(), Int64(limit)))
        var bytes = [UInt8](repeating: 0, count: size)
        let got = try bytes.withUnsafeMutableBytes { try file.read(into: $0, at: 0) }
        return Array(bytes[0..<got])
    }
}
