// swift-tools-version:6.1
import PackageDescription

// Module graph (dependencies point one way):
//   CTernSupport, CTernCompression  <- KafkaProtocol <- TernNetwork, TernStorage
//   <- TernCoordinator, TernBroker <- tern (executable: wiring only)
let package = Package(
    name: "Tern",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "tern", targets: ["tern"]),
        .library(name: "KafkaProtocol", targets: ["KafkaProtocol"]),
        // For Benchmarks/ (a separate package): the in-process hot paths of the network, storage and broker layers.
        .library(name: "TernNetwork", targets: ["TernNetwork"]),
        .library(name: "TernStorage", targets: ["TernStorage"]),
        .library(name: "TernBroker", targets: ["TernBroker"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-atomics.git", from: "1.3.0"),
    ],
    targets: [
        // C: CRC32C (SSE4.2 when the CPU has it, slicing-by-8 otherwise).
        .target(name: "CTernSupport", cSettings: [.unsafeFlags(["-O3"])]),
        // C: thin shims over the system zlib, liblz4, libzstd and libsnappy.
        .target(
            name: "CTernCompression",
            linkerSettings: [
                .linkedLibrary("z"), .linkedLibrary("lz4"),
                .linkedLibrary("zstd"), .linkedLibrary("snappy"),
            ]
        ),
        // C: a callback shim over Apache ZooKeeper's multi-threaded C client (libzookeeper-mt-dev).
        .target(name: "CZooKeeper", linkerSettings: [.linkedLibrary("zookeeper_mt")]),
        // ZooKeeper client (async/await over CZooKeeper) and Kafka's znode layout (paths, JSON payloads).
        .target(
            name: "TernCluster",
            dependencies: [
                "CZooKeeper",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // No I/O: wire primitives, generated messages, record batches, compression, error codes.
        .target(
            name: "KafkaProtocol",
            dependencies: [
                "CTernSupport", "CTernCompression",
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        // Frames, connection pipeline, in-order responses.
        .target(
            name: "TernNetwork",
            dependencies: [
                "KafkaProtocol",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        // Segmented logs on disk: segments, indexes, recovery, retention, cleaning.
        .target(
            name: "TernStorage",
            dependencies: [
                "KafkaProtocol",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Atomics", package: "swift-atomics"),
            ]
        ),
        // Group (and later transaction) coordinators: state machines returning actions.
        .target(
            name: "TernCoordinator",
            dependencies: [
                "KafkaProtocol",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // One file per API, partition state, configuration, request dispatch.
        .target(
            name: "TernBroker",
            dependencies: [
                "KafkaProtocol", "TernNetwork", "TernStorage", "TernCoordinator", "TernCluster",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Atomics", package: "swift-atomics"),
            ]
        ),
        // A native Swift Kafka client (producer, consumer, admin), used by the `tern` tools.
        .target(
            name: "KafkaClient",
            dependencies: [
                "KafkaProtocol",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "tern",
            dependencies: [
                "TernBroker", "KafkaProtocol", "KafkaClient",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            // Release on Linux, for a smaller idle RSS (issue 7): lld packs the PIE's relative relocations (DT_RELR,
            // glibc 2.36+) instead of a 1.5 MB .rela.dyn the loader reads at every start, and --no-export-dynamic
            // drops the ~31,000 dynamic symbols (table, strings, hash: ~1.4 MB resident) that the static stdlib's link
            // arguments export from our own objects (nothing in Tern looks them up with dlsym).
            linkerSettings: [
                .unsafeFlags([
                    "-use-ld=lld", "-Xlinker", "-z", "-Xlinker", "pack-relative-relocs", "-Xlinker", "--no-export-dynamic",
                ], .when(platforms: [.linux], configuration: .release)),
            ]
        ),
        .testTarget(name: "KafkaProtocolTests", dependencies: ["KafkaProtocol"], resources: [.copy("Fixtures")]),
        .testTarget(name: "TernNetworkTests", dependencies: [
            "TernNetwork", .product(name: "NIOEmbedded", package: "swift-nio"),
            .product(name: "NIOTestUtils", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
        ]),
        .testTarget(name: "TernStorageTests", dependencies: [
            "TernStorage", "KafkaProtocol", .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "TernCoordinatorTests", dependencies: ["TernCoordinator"]),
        .testTarget(name: "KafkaClientTests", dependencies: ["KafkaClient", "TernBroker"]),
        .testTarget(name: "TernBrokerTests", dependencies: ["TernBroker"]),
        .testTarget(name: "TernClusterTests", dependencies: ["TernCluster"]),
    ],
    swiftLanguageModes: [.v6]
)
