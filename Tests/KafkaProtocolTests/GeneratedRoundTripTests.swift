import NIOCore
import Testing

@testable import KafkaProtocol

/// A generated message with a generated sample (GeneratedSamples.swift): every field present in the
/// version set to a non-default value, one element in every array, so every code path is encoded.
protocol SampledMessage: KafkaMessage, Equatable {
    static func sample(version: Int16) -> Self
}

/// Encodes `value`, decodes it back, and checks: equal value, every byte consumed, identical re-encoding.
func checkRoundTrip<M: SampledMessage>(_ value: M, version: Int16) throws -> ByteBuffer {
    var buffer = ByteBuffer()
    try value.write(to: &buffer, version: version)
    let encoded = buffer
    let decoded = try M(from: &buffer, version: version)
    #expect(buffer.readableBytes == 0, "\(M.self) v\(version): \(buffer.readableBytes) bytes left after decoding")
    #expect(decoded == value, "\(M.self) v\(version): decoded value differs")
    var again = ByteBuffer()
    try decoded.write(to: &again, version: version)
    #expect(again == encoded, "\(M.self) v\(version): re-encoding differs")
    return encoded
}

func roundTripAllVersions<M: SampledMessage>(_: M.Type) throws {
    for version in M.lowestSupportedVersion...M.highestSupportedVersion {
        _ = try checkRoundTrip(M.sample(version: version), version: version)
        _ = try checkRoundTrip(M(), version: version)
    }
}

/// Every proper prefix of a valid encoding must throw `KafkaProtocolError` (never trap, never succeed).
func truncatedPrefixesThrow<M: SampledMessage>(_: M.Type, checked: inout Int) throws -> [String] {
    var failures: [String] = []
    for version in M.lowestSupportedVersion...M.highestSupportedVersion {
        var full = ByteBuffer()
        try M.sample(version: version).write(to: &full, version: version)
        for cut in 0..<full.readableBytes {
            var prefix = full.getSlice(at: full.readerIndex, length: cut)!
            checked += 1
            do {
                _ = try M(from: &prefix, version: version)
                failures.append("\(M.self) v\(version) decoded a \(cut)-byte prefix of \(full.readableBytes)")
            } catch is KafkaProtocolError {
                // expected
            } catch {
                failures.append("\(M.self) v\(version): unexpected error \(error)")
            }
        }
    }
    return failures
}

@Suite struct GeneratedRoundTripTests {
    @Test func everyMessageRoundTripsAtEveryVersion() throws {
        #expect(allSampledMessages.count == 218)
        for type in allSampledMessages {
            try roundTripAllVersions(type)
        }
    }

    @Test func truncatedInputThrowsForEveryMessage() throws {
        var failures: [String] = []
        var checked = 0
        for type in allSampledMessages {
            failures += try truncatedPrefixesThrow(type, checked: &checked)
        }
        #expect(failures.isEmpty, "\(failures.prefix(20))")
        #expect(checked > 20_000, "only \(checked) prefixes checked")
    }

    @Test func unsupportedVersionsAreRejected() throws {
        var buffer = ByteBuffer(bytes: [0, 0, 0, 0])
        #expect(throws: KafkaProtocolError.self) { try ProduceRequest(from: &buffer, version: 12) }
        var out = ByteBuffer()
        #expect(throws: KafkaProtocolError.self) { try ProduceRequest().write(to: &out, version: -1) }
    }

    @Test func producedRecordsAreSlicesOfTheFrame() throws {
        var request = ProduceRequest()
        var partition = ProduceRequest.PartitionProduceData()
        partition.index = 3
        partition.records = ByteBuffer(bytes: Array(repeating: 0xAB, count: 100))
        var topic = ProduceRequest.TopicProduceData()
        topic.name = "events"
        topic.partitionData = [partition]
        request.topicData = [topic]
        for version: Int16 in [3, 9, 11] {
            var buffer = ByteBuffer()
            try request.write(to: &buffer, version: version)
            let decoded = try ProduceRequest(from: &buffer, version: version)
            let records = try #require(decoded.topicData.first?.partitionData.first?.records)
            // Same storage: the decoder sliced the frame rather than copying the records.
            let sameStorage = buffer.withUnsafeReadableBytes { frame in
                records.withUnsafeReadableBytes { slice in
                    let start = frame.baseAddress! - buffer.readerIndex
                    return slice.baseAddress! >= start && slice.baseAddress! < start + buffer.capacity
                }
            }
            #expect(sameStorage)
            #expect(records.readableBytes == 100)
        }
    }
}
