#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import FoundationEssentials
import KafkaProtocol
import TernStorage

/// DescribeLogDirs (key 35), versions 1-4 (Kafka 4.0 removed v0).
/// One result per directory of `log.dirs` (its absolute path), listing the requested partitions it holds (all
/// when `topics` is null; unknown ones are left out) with their size on disk (sum of the segment sizes), offset
/// lag 0 (log end offset minus high watermark: always 0 on a single replica) and is_future false (no
/// AlterReplicaLogDirs). From v4, the volume's total and usable bytes (statvfs, as Java's File.getTotalSpace /
/// getUsableSpace); a directory that cannot be stat'ed answers KAFKA_STORAGE_ERROR for itself.
extension Broker {
    func describeLogDirs(_ request: DescribeLogDirsRequest, _ ctx: RequestContext) throws -> DescribeLogDirsResponse {
        var response = DescribeLogDirsResponse()
        let wanted: [String: Set<Int32>]? = request.topics.map { topics in
            var map: [String: Set<Int32>] = [:]
            for t in topics { map[t.topic, default: []].formUnion(t.partitions) }
            return map
        }
        // Group the hosted partitions by the log dir their directory sits in.
        var byDir: [String: [String: [DescribeLogDirsResponse.DescribeLogDirsPartition]]] = [:]
        for partition in replicaManager.allPartitions {
            let tp = partition.topicPartition
            if let wanted, wanted[tp.topic]?.contains(tp.partition) != true { continue }
            let log = partition.log
            var p = DescribeLogDirsResponse.DescribeLogDirsPartition()
            p.partitionIndex = tp.partition
            p.partitionSize = log.size
            p.offsetLag = max(0, log.logEndOffset - log.highWatermark)
            p.isFutureKey = false
            let dir = Self.absolutePath(log.dir + "/..")
            byDir[dir, default: [:]][tp.topic, default: []].append(p)
        }
        var listed = Set<String>()
        for configured in config.logDirs {
            let dir = Self.absolutePath(configured)
            guard listed.insert(dir).inserted else { continue }
            var result = DescribeLogDirsResponse.DescribeLogDirsResult()
            result.logDir = dir
            result.topics = (byDir[dir] ?? [:]).keys.sorted().map { name in
                var t = DescribeLogDirsResponse.DescribeLogDirsTopic()
                t.name = name
                t.partitions = byDir[dir]![name]!.sorted { $0.partitionIndex < $1.partitionIndex }
                return t
            }
            if let space = Self.volumeSpace(dir) {
                result.totalBytes = space.total
                result.usableBytes = space.usable
            } else {
                result.errorCode = ErrorCode.kafkaStorageError.rawValue
            }
            response.results.append(result)
        }
        return response
    }

    /// The directory as an absolute, normalised path (Kafka reports `File.getAbsolutePath`): relative to the working
    /// directory, without empty, `.` and `..` components or a trailing slash.
    static func absolutePath(_ path: String) -> String {
        let absolute = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        var components: [Substring] = []
        for c in absolute.split(separator: "/") {
            switch c {
            case ".": continue
            case "..": _ = components.popLast()
            default: components.append(c)
            }
        }
        return "/" + components.joined(separator: "/")
    }

    /// Total and usable (available to unprivileged users) bytes of the volume holding `path`.
    static func volumeSpace(_ path: String) -> (total: Int64, usable: Int64)? {
        var stats = statvfs()
        guard statvfs(path, &stats) == 0 else { return nil }
        let unit = Int64(stats.f_frsize)
        return (Int64(stats.f_blocks) * unit, Int64(stats.f_bavail) * unit)
    }
}
