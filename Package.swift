// swift-tools-version:6.1
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "target-allocator",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "target-allocator", targets: ["target-allocator"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/adam-fowler/compress-nio.git", from: "1.5.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-protobuf.git", from: "1.39.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CNGHTTP2",
            pkgConfig: "libnghttp2",
            providers: [.apt(["libnghttp2-dev"])]
        ),
        .target(
            name: "HTTPServer",
            dependencies: [
                "CNGHTTP2",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "CompressNIO", package: "compress-nio"),
            ],
            swiftSettings: strict
        ),
        .target(name: "JSON", swiftSettings: strict),
        .target(name: "Allocation", dependencies: ["ByteStrings"], swiftSettings: strict),
        .target(name: "ByteStrings", swiftSettings: strict),
        // Google's RE2 (Debian libre2-dev) behind a small C ABI, for the Relabel module.
        .target(name: "CRE2", linkerSettings: [.linkedLibrary("re2")]),
        .target(name: "Relabel", dependencies: ["ByteStrings", "CRE2"], swiftSettings: strict),
        .target(name: "PrometheusOperator", dependencies: ["JSON", "Relabel"], swiftSettings: strict),
        .executableTarget(
            name: "cluster-bench",
            dependencies: [
                "TargetAllocator", "KubernetesEmulator", "KubernetesClient", "JSON", "HTTPServer",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/ClusterBenchmark",
            swiftSettings: strict),
        .executableTarget(
            name: "discovery-bench",
            dependencies: ["Discovery", "Allocation", "KubernetesClient", "Snapshot", "SnapshotStore", "JSON", "CMalloc"],
            path: "Sources/DiscoveryBenchmark", swiftSettings: strict),
        .executableTarget(
            name: "relabel-bench", dependencies: ["Relabel"], path: "Sources/RelabelBenchmark", swiftSettings: strict),
        .executableTarget(
            name: "scale-bench",
            dependencies: [
                "KubernetesClient", "KubernetesEmulator", "SampleWorkload", "Snapshot", "SnapshotStore", "JSON",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/ScaleBenchmark",
            swiftSettings: strict),
        .executableTarget(
            name: "allocation-bench", dependencies: ["Allocation"], path: "Sources/AllocationBenchmark",
            swiftSettings: strict),
        .target(name: "Snapshot", dependencies: ["JSON", "ByteStrings"], swiftSettings: strict),
        .target(name: "SampleWorkload", dependencies: ["KubernetesClient", "KubernetesEmulator", "JSON"], swiftSettings: strict),
        .target(
            name: "KubernetesClient",
            dependencies: [
                "JSON",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "KubernetesEmulator",
            dependencies: [
                "JSON",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "kube-emulator",
            dependencies: [
                "KubernetesEmulator", "JSON", "SampleWorkload",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/KubeEmulatorCommand",
            swiftSettings: strict
        ),
        .systemLibrary(name: "CZlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CAres", pkgConfig: "libcares", providers: [.apt(["libc-ares-dev"])]),
        .systemLibrary(name: "CMalloc"),
        .target(
            name: "SnapshotStore",
            dependencies: [
                "Snapshot", "JSON", "ByteStrings", "KubernetesClient", "CZlib",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            exclude: ["Generated/README.md"],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "snapshot-bench",
            dependencies: [
                "SnapshotStore", "Snapshot", "JSON", "ServiceDiscoveryAPI", .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            path: "Sources/SnapshotBenchmark",
            swiftSettings: strict),
        .target(
            name: "LeaderElection",
            dependencies: [
                "KubernetesClient",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "ServiceDiscoveryAPI",
            dependencies: [
                "HTTPServer", "Snapshot", "JSON", "CZlib", "ByteStrings",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "Discovery",
            dependencies: [
                "Snapshot", "JSON", "KubernetesClient", "Relabel", "PrometheusOperator", "Allocation", "CAres", "ByteStrings",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "TargetAllocator",
            dependencies: [
                "HTTPServer", "Snapshot", "ServiceDiscoveryAPI", "JSON", "Allocation", "Discovery", "KubernetesClient",
                "LeaderElection", "SnapshotStore", "CMalloc",
                .product(name: "Yams", package: "Yams"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "target-allocator",
            dependencies: [
                "TargetAllocator", "HTTPServer", "KubernetesClient", "KubernetesEmulator", "Discovery", "Allocation",
                "Snapshot", "JSON", "SnapshotStore", "LeaderElection", "Relabel", "SampleWorkload",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict,
            // jemalloc as the process's allocator: glibc's arenas kept the leader's freed heap
            // fragmented (1.2 GB resident for ~0.7 GB live at 100k pods); jemalloc held 0.85 GB.
            linkerSettings: [.linkedLibrary("jemalloc", .when(platforms: [.linux]))]
        ),
        .target(name: "TestSupport", path: "Tests/TestSupport", swiftSettings: strict),
        .testTarget(
            name: "HTTPServerTests",
            dependencies: [
                "HTTPServer", "TestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: strict
        ),
        .testTarget(name: "AllocationTests", dependencies: ["Allocation"], swiftSettings: strict),
        .testTarget(name: "RelabelTests", dependencies: ["Relabel"], swiftSettings: strict),
        .testTarget(
            name: "DiscoveryTests",
            dependencies: [
                "Discovery", "KubernetesClient", "KubernetesEmulator", "JSON", "Snapshot", "TestSupport", "PrometheusOperator",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "PrometheusOperatorTests",
            dependencies: ["PrometheusOperator", "JSON", "Relabel"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "DeployTests",
            dependencies: [
                "KubernetesEmulator", "JSON", "TestSupport", "TargetAllocator",
                .product(name: "Yams", package: "Yams"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "KubernetesEmulatorTests",
            dependencies: [
                "KubernetesEmulator", "KubernetesClient", "JSON", "TestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .testTarget(name: "SnapshotTests", dependencies: ["Snapshot", "JSON"], swiftSettings: strict),
        .testTarget(
            name: "ServiceDiscoveryAPITests",
            dependencies: [
                "ServiceDiscoveryAPI", "HTTPServer", "Snapshot", "JSON", "CZlib", "TestSupport", "Allocation",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            exclude: ["Fixtures"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "TargetAllocatorTests",
            dependencies: [
                "TargetAllocator", "HTTPServer", "Snapshot", "JSON", "TestSupport", "KubernetesEmulator", "KubernetesClient",
                "SampleWorkload", "Discovery", "Relabel",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "KubernetesClientTests",
            dependencies: ["KubernetesClient", "TestSupport", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "SnapshotStoreTests",
            dependencies: [
                "SnapshotStore", "Snapshot", "JSON", "TestSupport", "KubernetesEmulator", "KubernetesClient",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
    ]
)
