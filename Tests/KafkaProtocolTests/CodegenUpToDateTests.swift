import Foundation
import Testing

/// The committed generated code must be exactly what tools/codegen/generate.py makes from Kafka's
/// schemas, so nobody edits generated files by hand and the generator never silently drifts.
@Suite struct CodegenUpToDateTests {
    static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let specDir = ProcessInfo.processInfo.environment["TERN_KAFKA_SPEC"] ?? "/work/shared/kafka-protocol"
    static let specAvailable = FileManager.default.fileExists(atPath: specDir + "/messages")
        && FileManager.default.isExecutableFile(atPath: "/usr/bin/python3")

    @Test(.enabled(if: specAvailable, "Kafka's JSON schemas not found at \(specDir) (set TERN_KAFKA_SPEC) or no /usr/bin/python3: generated code not checked"))
    func generatedCodeIsUpToDate() throws {
        let temp = FileManager.default.temporaryDirectory.appendingPathComponent("tern-codegen-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: temp) }
        let outDir = temp.appendingPathComponent("Generated")
        let testsDir = temp.appendingPathComponent("Tests")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = [
            Self.repoRoot.appendingPathComponent("tools/codegen/generate.py").path,
            Self.specDir, outDir.path, "--tests-out", testsDir.path,
        ]
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)

        let committedDir = Self.repoRoot.appendingPathComponent("Sources/KafkaProtocol/Generated")
        let fresh = try FileManager.default.contentsOfDirectory(atPath: outDir.path).sorted()
        let committed = try FileManager.default.contentsOfDirectory(atPath: committedDir.path).sorted()
        #expect(fresh == committed, "generated file set differs; rerun tools/codegen/generate.py")
        var stale: [String] = []
        for name in fresh where committed.contains(name) {
            let a = try Data(contentsOf: outDir.appendingPathComponent(name))
            let b = try Data(contentsOf: committedDir.appendingPathComponent(name))
            if a != b { stale.append(name) }
        }
        let samples = try Data(contentsOf: testsDir.appendingPathComponent("GeneratedSamples.swift"))
        let committedSamples = try Data(contentsOf: Self.repoRoot.appendingPathComponent("Tests/KafkaProtocolTests/GeneratedSamples.swift"))
        if samples != committedSamples { stale.append("GeneratedSamples.swift") }
        #expect(stale.isEmpty, "stale generated files \(stale); rerun: \(Self.generatorCommand)")
    }

    static var generatorCommand: String {
        "python3 tools/codegen/generate.py \(specDir) Sources/KafkaProtocol/Generated --tests-out Tests/KafkaProtocolTests"
    }
}
