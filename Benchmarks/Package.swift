// swift-tools-version:6.1
import Foundation
import PackageDescription

// A path dependency's identity is its folder name, which differs between clones and worktrees.
let root = URL(fileURLWithPath: Context.packageDirectory).deletingLastPathComponent().lastPathComponent.lowercased()

// Throughput figures for the record path: CRC32C, the produce-path validator, and each codec.
// A plain executable (no benchmark framework), so it builds offline from the root's dependencies.
let package = Package(
    name: "TernBenchmarks",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(path: ".."),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
    ],
    targets: [
        .executableTarget(
            name: "RecordBenchmarks",
            dependencies: [
                .product(name: "KafkaProtocol", package: root),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
