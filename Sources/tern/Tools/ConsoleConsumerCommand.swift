import ArgumentParser
import FoundationEssentials
import KafkaClient

/// `tern console-consumer`, like `kafka-console-consumer.sh`, with Kafka's DefaultMessageFormatter properties.
struct ConsoleConsumerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "console-consumer", abstract: "Consume records and print them to stdout (kafka-console-consumer.sh).")

    @Option(help: "The Kafka server to connect to (host:port[,host:port]).") var bootstrapServer: String
    @Option(help: "The topic to consume.") var topic: String?
    @Option(help: "A regular expression: consume every topic whose name matches it (needs a group; one is made up otherwise).")
    var include: String?
    @Flag(help: "Start at the earliest offset rather than the latest.") var fromBeginning = false
    @Option(help: "Exit after this many records.") var maxMessages: Int?
    @Option(help: "Consume only this partition.") var partition: Int32?
    @Option(help: "earliest, latest or an offset (needs --partition).") var offset: String = "latest"
    @Option(help: "The consumer group id.") var group: String?
    @Option(help: "Formatter properties: print.key, print.timestamp, print.partition, print.offset, print.headers, print.value, key.separator, line.separator, headers.separator, null.literal.")
    var property: [String] = []
    @Option(help: "A consumer property (key=value); repeatable.") var consumerProperty: [String] = []
    @Option(name: .customLong("consumer.config"), help: "A consumer properties file.") var consumerConfig: String?
    @Option(help: "Exit when no record arrives for this many milliseconds.") var timeoutMs: Int?
    @Option(help: "read_uncommitted or read_committed.") var isolationLevel: String?
    @Flag(help: "Skip records that fail to decode instead of stopping.") var skipMessageOnError = false

    func validate() throws {
        if (topic == nil) == (include == nil) {
            throw ValidationError("Exactly one of --include/--topic is required.")
        }
        if include != nil && partition != nil {
            throw ValidationError("Options include and partition cannot be specified together.")
        }
        if let isolationLevel, !["read_committed", "read_uncommitted"].contains(isolationLevel) {
            throw ValidationError("--isolation-level must be read_committed or read_uncommitted")
        }
        if offset != "latest" && offset != "earliest" && partition == nil {
            throw ValidationError("The partition is required when offset is specified.")
        }
        if fromBeginning && offset != "latest" {
            throw ValidationError("Options from-beginning and offset cannot be specified together.")
        }
    }

    func run() async throws {
        var count = 0
        let out = StdoutWriter()
        defer {
            out.flush()
            Tool.err("Processed a total of \(count) messages")
        }
        try await Tool.run {
            var props: [String: String] = ["client.id": "console-consumer"]
            if let consumerConfig { props.merge(try Tool.propertiesFile(consumerConfig)) { $1 } }
            props.merge(try Tool.properties(consumerProperty)) { $1 }
            props["bootstrap.servers"] = bootstrapServer
            props["auto.offset.reset"] = fromBeginning || offset == "earliest" ? "earliest" : "latest"
            if let group { props["group.id"] = group }
            // Like kafka-console-consumer.sh: a pattern needs group management, so a group is made up.
            if include != nil && props["group.id"] == nil {
                props["group.id"] = "console-consumer-\(Int.random(in: 0..<100_000))"
                props["enable.auto.commit"] = "false"
            }
            if let isolationLevel { props["isolation.level"] = isolationLevel }
            let formatter = try RecordFormatter(Tool.properties(property))

            let consumer = try KafkaConsumer(properties: props)
            if let include {
                try await consumer.subscribe(pattern: include)
            } else if let partition, let topic {
                let tp = TopicPartition(topic, partition)
                _ = try await consumer.cluster.topic(topic)
                await consumer.assign([tp])
                if let n = Int64(offset) { await consumer.seek(tp, to: n) }
            } else if let topic, group != nil {
                try await consumer.subscribe([topic])
            } else if let topic {
                try await consumer.assign(topic: topic)
            }
            let idle = timeoutMs.map { Duration.milliseconds($0) }
            var lastRecord = ContinuousClock.now
            loop: while maxMessages.map({ count < $0 }) ?? true {
                let records = try await consumer.poll(timeout: min(idle ?? .milliseconds(500), .milliseconds(500)))
                if records.isEmpty {
                    out.flush()
                    if let idle, ContinuousClock.now - lastRecord >= idle {
                        Tool.err("[\(Date())] ERROR Error processing message, terminating consumer process:  (org.apache.kafka.common.errors.TimeoutException)")
                        break
                    }
                    continue
                }
                lastRecord = .now
                for r in records {
                    formatter.write(r, to: out)
                    count += 1
                    if let maxMessages, count >= maxMessages { break loop }
                }
            }
            await consumer.close()
        }
    }
}

/// Kafka's DefaultMessageFormatter: timestamp, partition, offset, headers, key, value, separated by key.separator.
struct RecordFormatter {
    var printTimestamp = false, printPartition = false, printOffset = false, printHeaders = false
    var printKey = false, printValue = true
    var keySeparator = "\t", lineSeparator = "\n", headersSeparator = ",", nullLiteral = "null"

    init(_ p: [String: String]) {
        func flag(_ k: String, _ d: Bool) -> Bool { p[k].map { $0.lowercased() == "true" } ?? d }
        printTimestamp = flag("print.timestamp", false)
        printPartition = flag("print.partition", false)
        printOffset = flag("print.offset", false)
        printHeaders = flag("print.headers", false)
        printKey = flag("print.key", false)
        printValue = flag("print.value", true)
        keySeparator = Tool.unescape(p["key.separator"] ?? "\t")
        lineSeparator = Tool.unescape(p["line.separator"] ?? "\n")
        headersSeparator = Tool.unescape(p["headers.separator"] ?? ",")
        nullLiteral = p["null.literal"] ?? "null"
    }

    func write(_ r: ConsumerRecord, to out: StdoutWriter) {
        var columns: [[UInt8]] = []
        if printTimestamp { columns.append(Array("\(r.isLogAppendTime ? "LogAppendTime" : "CreateTime"):\(r.timestamp)".utf8)) }
        if printPartition { columns.append(Array("Partition:\(r.partition)".utf8)) }
        if printOffset { columns.append(Array("Offset:\(r.offset)".utf8)) }
        if printHeaders {
            if r.headers.isEmpty { columns.append(Array("NO_HEADERS".utf8)) } else {
                var h: [UInt8] = []
                for (i, header) in r.headers.enumerated() {
                    if i > 0 { h += headersSeparator.utf8 }
                    h += header.key.utf8
                    h += ":".utf8
                    h += header.value ?? Array(nullLiteral.utf8)
                }
                columns.append(h)
            }
        }
        if printKey { columns.append(r.key ?? Array(nullLiteral.utf8)) }
        if printValue { columns.append(r.value ?? Array(nullLiteral.utf8)) }
        for (i, c) in columns.enumerated() {
            if i > 0 { out.write(keySeparator.utf8) }
            out.write(c)
        }
        out.write(lineSeparator.utf8)
    }
}
