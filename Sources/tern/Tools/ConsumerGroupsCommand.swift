import ArgumentParser
import FoundationEssentials
import KafkaClient

/// `tern consumer-groups`, like `kafka-consumer-groups.sh`: --list, --describe, --reset-offsets, --delete.
struct ConsumerGroupsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "consumer-groups", abstract: "List, describe, reset or delete consumer groups (kafka-consumer-groups.sh).")

    @Option(help: "The Kafka server to connect to (host:port[,host:port]).") var bootstrapServer: String
    @Flag(help: "List all consumer groups.") var list = false
    @Flag(help: "Describe a group: offsets, lag and members.") var describe = false
    @Flag(help: "Reset the group's offsets.") var resetOffsets = false
    @Flag(help: "Delete the group.") var delete = false
    @Option(help: "The group id.") var group: String?
    @Flag(help: "Every group (with --describe).") var allGroups = false
    @Option(help: "The topic whose offsets to reset.") var topic: [String] = []
    @Flag(help: "Reset the offsets of every topic the group has.") var allTopics = false
    @Flag(help: "Reset to the earliest offset.") var toEarliest = false
    @Flag(help: "Reset to the latest offset.") var toLatest = false
    @Option(help: "Reset to this offset.") var toOffset: Int64?
    @Option(parsing: .unconditional, help: "Shift the committed offset by this many (may be negative).") var shiftBy: Int64?
    @Option(help: "Reset to the first offset at or after this time: YYYY-MM-DDTHH:mm:SS.sss, optionally with Z or ±HH:mm.")
    var toDatetime: String?
    @Option(help: "Reset to the first offset at or after now minus this ISO-8601 duration: PnDTnHnMnS.") var byDuration: String?
    @Flag(help: "Only print the new offsets.") var dryRun = false
    @Flag(help: "Commit the new offsets.") var execute = false

    func validate() throws {
        guard [list, describe, resetOffsets, delete].filter({ $0 }).count == 1 else {
            throw ValidationError("Command must include exactly one action: --list, --describe, --delete, --reset-offsets")
        }
        if (describe && !allGroups || resetOffsets || delete) && group == nil { throw ValidationError("--group is required") }
        if resetOffsets && [toEarliest, toLatest, toOffset != nil, shiftBy != nil, toDatetime != nil, byDuration != nil].filter({ $0 }).count != 1 {
            throw ValidationError("Option --reset-offsets needs exactly one of --to-earliest, --to-latest, --to-offset, --shift-by, --to-datetime, --by-duration")
        }
        if let toDatetime, ResetTime.parseDateTime(toDatetime) == nil {
            throw ValidationError("Error parsing date \(toDatetime): expected YYYY-MM-DDTHH:mm:SS.sss")
        }
        if let byDuration, ResetTime.parseDuration(byDuration) == nil {
            throw ValidationError("Error parsing duration \(byDuration): expected PnDTnHnMnS")
        }
        if resetOffsets && topic.isEmpty && !allTopics { throw ValidationError("Option --reset-offsets needs --topic or --all-topics") }
    }

    func run() async throws {
        try await Tool.run {
            let admin = try KafkaAdmin(bootstrapServers: Tool.servers(bootstrapServer))
            defer { Task { await admin.close() } }
            if list {
                for g in try await admin.listGroups() { print(g.groupId) }
            } else if describe {
                let groups = allGroups ? try await admin.listGroups().map(\.groupId) : [group!]
                for g in groups { try await describeGroup(admin, g) }
            } else if resetOffsets {
                try await reset(admin)
            } else if delete {
                try await admin.deleteGroups([group!])
                print("Deletion of requested consumer groups ('\(group!)') was successful.")
            }
        }
    }

    private func describeGroup(_ admin: KafkaAdmin, _ groupId: String) async throws {
        let description = try await admin.describeGroup(groupId)
        let committed = try await admin.listGroupOffsets(groupId)
        var owner: [TopicPartition: KafkaAdmin.GroupMember] = [:]
        for m in description.members { for tp in m.assignment { owner[tp] = m } }
        let tps = Set(committed.keys).union(owner.keys).sorted()
        let ends = tps.isEmpty ? [:] : try await admin.listOffsets(Dictionary(uniqueKeysWithValues: tps.map { ($0, Int64(-1)) }))
        if description.members.isEmpty {
            print("\nConsumer group '\(groupId)' has no active members.")
        }
        var rows = [["GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG", "CONSUMER-ID", "HOST", "CLIENT-ID"]]
        for tp in tps {
            let current = committed[tp].flatMap { $0 >= 0 ? $0 : nil }
            let end = ends[tp]?.offset
            let lag = current.flatMap { c in end.map { $0 - c } }
            let m = owner[tp]
            rows.append([groupId, tp.topic, "\(tp.partition)", current.map(String.init) ?? "-", end.map(String.init) ?? "-",
                         lag.map(String.init) ?? "-", m?.memberId ?? "-", m?.host ?? "-", m?.clientId ?? "-"])
        }
        print("")
        printTable(rows)
    }

    private func reset(_ admin: KafkaAdmin) async throws {
        let groupId = group!
        var tps: [TopicPartition] = []
        if allTopics {
            tps = try await admin.listGroupOffsets(groupId).keys.sorted()
        } else {
            for spec in topic {
                let parts = spec.split(separator: ":")
                let name = String(parts[0])
                if parts.count > 1 {
                    tps += parts[1].split(separator: ",").compactMap { Int32($0) }.map { TopicPartition(name, $0) }
                } else {
                    tps += try await admin.describeTopics([name])[0].partitions.map { TopicPartition(name, $0.partition) }
                }
            }
        }
        let earliest = try await admin.listOffsets(Dictionary(uniqueKeysWithValues: tps.map { ($0, Int64(-2)) }))
        let latest = try await admin.listOffsets(Dictionary(uniqueKeysWithValues: tps.map { ($0, Int64(-1)) }))
        // --to-datetime / --by-duration: the first offset at or after the time; none there means the log end.
        let since = toDatetime.flatMap(ResetTime.parseDateTime) ?? byDuration.flatMap(ResetTime.parseDuration).map { Int64(Date().timeIntervalSince1970 * 1000) - $0 }
        var byTime: [TopicPartition: KafkaAdmin.ListedOffset] = [:]
        if let since { byTime = try await admin.listOffsets(Dictionary(uniqueKeysWithValues: tps.map { ($0, since) })) }
        let committed = shiftBy == nil ? [:] : try await admin.listGroupOffsets(groupId)
        var target: [TopicPartition: Int64] = [:]
        for tp in tps {
            let lo = earliest[tp]?.offset ?? 0, hi = latest[tp]?.offset ?? 0
            if toEarliest {
                target[tp] = lo
            } else if toLatest {
                target[tp] = hi
            } else if let toOffset {
                target[tp] = min(max(toOffset, lo), hi)
            } else if let shiftBy {
                guard let current = committed[tp], current >= 0 else {
                    throw ToolError("Cannot shift offset for partition \(tp) since there is no current committed offset")
                }
                target[tp] = min(max(current + shiftBy, lo), hi)
            } else {
                let found = byTime[tp]?.offset ?? -1
                target[tp] = found >= 0 ? found : hi
            }
        }
        if execute { try await admin.alterGroupOffsets(groupId, target) }
        print("")
        printTable([["GROUP", "TOPIC", "PARTITION", "NEW-OFFSET"]] + tps.map { [groupId, $0.topic, "\($0.partition)", "\(target[$0]!)"] })
    }

    /// Left-aligned columns, each as wide as its widest cell, one space apart (as Kafka pads them).
    private func printTable(_ rows: [[String]]) {
        guard let first = rows.first else { return }
        let widths = first.indices.map { i in rows.map { $0[i].count }.max() ?? 0 }
        for row in rows {
            print(row.enumerated().map { i, cell in i == row.count - 1 ? cell : cell + String(repeating: " ", count: widths[i] - cell.count) }
                .joined(separator: " "))
        }
    }
}
