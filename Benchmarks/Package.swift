// swift-tools-version:6.1
import Foundation
import PackageDescription

// A path dependency's identity is its folder name, which differs between clones and worktrees.
let root = URL(fileURLWithPath: Context.packageDirectory).deletingLastPathComponent().lastPathComponent.lowercased()

// - RecordBenchmarks: a plain executable printing throughput figures for the record path (CRC32C, the validator,
//   each codec).
// - HotPaths: ordo-one package-benchmark suite with malloc counters for the in-process hot paths (frame decode,
//   batch validation, CRC32C, offset index lookup, Log.append, the broker's produce path), run with
//   `swift package --disable-sandbox benchmark`. Only the MallocInterposer trait: the default RuntimeInterposer
//   trait needs a package this machine's mirror lacks.
let package = Package(
    name: "TernBenchmarks",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(path: ".."),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/ordo-one/package-benchmark.git", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "RecordBenchmarks",
            dependencies: [
                .product(name: "KafkaProtocol", package: root),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "HotPaths",
            dependencies: [
                .product(name: "Benchmark", package: "package-benchmark"),
                .product(name: "KafkaProtocol", package: root),
                .product(name: "TernNetwork", package: root),
                .product(name: "TernStorage", package: root),
                .product(name: "TernBroker", package: root),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "Benchmarks/HotPaths",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "package-benchmark")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
