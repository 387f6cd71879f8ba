#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import ArgumentParser
import FoundationEssentials
import KafkaClient

/// Shared plumbing of the `tern` tools: stderr output, `k=v` property lists, and turning client errors into
/// Kafka-style messages with exit code 1.
enum Tool {
    static func err(_ text: String) {
        writeAll(STDERR_FILENO, Array((text + "\n").utf8))
    }

    /// Runs a tool body; a client error prints "Error: ..." (naming the broker address or topic) and exits 1.
    static func run(_ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch let e as KafkaClientError {
            err("Error: \(e.message)")
            throw ExitCode(1)
        } catch let e as ToolError {
            err("Error: \(e.message)")
            throw ExitCode(1)
        } catch let e as TerseFailure {
            print(e.message)
            throw ExitCode(1)
        }
    }

    /// Parses `k=v` pairs (Kafka's --property, --producer-property, --config).
    static func properties(_ pairs: [String]) throws -> [String: String] {
        var out: [String: String] = [:]
        for pair in pairs {
            guard let eq = pair.firstIndex(of: "=") else {
                throw ToolError("Invalid property '\(pair)': expected key=value")
            }
            out[String(pair[..<eq]).trimmingWhitespaces()] = String(pair[pair.index(after: eq)...])
        }
        return out
    }

    /// Reads a Java properties file (key=value lines, # and ! comments).
    static func propertiesFile(_ path: String) throws -> [String: String] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ToolError("cannot read \(path)")
        }
        var out: [String: String] = [:]
        for line in text.split(whereSeparator: \.isNewline) {
            let l = line.trimmingWhitespaces()
            if l.isEmpty || l.hasPrefix("#") || l.hasPrefix("!") { continue }
            guard let eq = l.firstIndex(where: { $0 == "=" || $0 == ":" }) else { continue }
            out[String(l[..<eq]).trimmingWhitespaces()] =
                String(l[l.index(after: eq)...]).trimmingWhitespaces()
        }
        return out
    }

    /// Writes every byte to `fd` straight away (unbuffered, as FileHandle wrote), retrying short writes.
    static func writeAll(_ fd: Int32, _ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, bytes.count - offset) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return }
            offset += n
        }
    }

    static func servers(_ s: String) -> [String] { s.split(separator: ",").map(String.init) }

    /// Kafka's tools unescape \t and \n in separators given on the command line.
    static func unescape(_ s: String) -> String {
        s.replacing("\\t", with: "\t").replacing("\\n", with: "\n")
    }
}

struct ToolError: Error {
    var message: String
    init(_ message: String) { self.message = message }
}

/// Writes to stdout through one buffer (print() per record is slow when piping many records).
final class StdoutWriter {
    private var buffer = [UInt8]()

    func write(_ bytes: some Sequence<UInt8>) {
        buffer.append(contentsOf: bytes)
        if buffer.count >= 64 * 1024 { flush() }
    }

    func write(_ s: String) { write(s.utf8) }

    func flush() {
        guard !buffer.isEmpty else { return }
        Tool.writeAll(STDOUT_FILENO, buffer)
        buffer.removeAll(keepingCapacity: true)
    }
}
