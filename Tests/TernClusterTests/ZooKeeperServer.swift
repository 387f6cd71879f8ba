import Foundation
import Testing

/// A real standalone ZooKeeper (Debian's `zookeeper` package) on a free loopback port in a temporary directory,
/// for tests. `available` is false when the package is not installed; tests then skip with that reason.
final class ZooKeeperServer: @unchecked Sendable {
    static let jar = "/usr/share/java/zookeeper.jar"
    static var available: Bool { FileManager.default.fileExists(atPath: jar) && FileManager.default.isExecutableFile(atPath: "/usr/bin/java") }
    static let skipReason: Comment = "ZooKeeper not installed (apt-get install zookeeper): \(jar) missing"

    let port: Int
    let dataDir: String
    private var process: Process

    var connectString: String { "127.0.0.1:\(port)" }

    init() throws {
        port = Self.freePort()
        dataDir = NSTemporaryDirectory() + "tern-zk-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dataDir, withIntermediateDirectories: true)
        process = Process()
        try launch()
    }

    /// Stops the server and starts it again on the same port and data directory (sessions survive a restart
    /// that is shorter than their timeout: they are in the snapshot and the transaction log).
    func restart(after delay: TimeInterval) throws {
        process.terminate()
        process.waitUntilExit()
        Thread.sleep(forTimeInterval: delay)
        process = Process()
        try launch()
    }

    private func launch() throws {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/java")
        process.arguments = [
            "-Xmx128m", "-Dzookeeper.admin.enableServer=false", "-cp", "/etc/zookeeper/conf:\(Self.jar)",
            "org.apache.zookeeper.server.ZooKeeperServerMain", String(port), dataDir,
        ]
        process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
        let deadline = Date().addingTimeInterval(30)
        while !Self.accepts(port: port) {
            guard Date() < deadline, process.isRunning else { stop(); throw CocoaError(.fileReadUnknown) }
            usleep(100_000)
        }
    }

    func stop() {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(atPath: dataDir)
    }

    deinit { stop() }

    static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        return Int(UInt16(bigEndian: addr.sin_port))
    }

    static func accepts(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        return withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }
}
