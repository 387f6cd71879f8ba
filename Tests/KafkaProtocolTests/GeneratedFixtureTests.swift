import Foundation
import NIOCore
import Testing

@testable import KafkaProtocol

/// Request frames captured from real clients by tools/codegen/capture_frames.py (4-byte size prefix
/// included). Each must decode exactly — header and body, every byte consumed — and re-encode to the
/// same bytes.
@Suite struct GeneratedFixtureTests {
    struct Decoded {
        var header: RequestHeader
        var body: any KafkaRequestMessage
        var reencoded: ByteBuffer
        var frame: ByteBuffer
    }

    static func load(_ name: String) throws -> ByteBuffer {
        let url = try #require(Bundle.module.url(forResource: name, withExtension: "bin", subdirectory: "Fixtures/requests"))
        let data = try Data(contentsOf: url)
        return ByteBuffer(bytes: data)
    }

    static func decodeFrame(_ name: String) throws -> Decoded {
        var frame = try load(name)
        let original = frame
        let size = try frame.readKafkaInteger(Int32.self, field: "frame.size", version: 0)
        #expect(Int(size) == frame.readableBytes)
        let rawKey = try #require(frame.getInteger(at: frame.readerIndex, as: Int16.self))
        let apiKey = try #require(ApiKey(rawValue: rawKey))
        let apiVersion = try #require(frame.getInteger(at: frame.readerIndex + 2, as: Int16.self))
        let headerVersion = apiKey.requestHeaderVersion(apiVersion)
        let header = try RequestHeader(from: &frame, version: headerVersion)
        let body = try decodeBody(apiKey.requestType, from: &frame, version: apiVersion)
        #expect(frame.readableBytes == 0, "\(name): \(frame.readableBytes) bytes left")

        var out = ByteBuffer()
        out.writeInteger(Int32(0))
        try header.write(to: &out, version: headerVersion)
        try body.write(to: &out, version: apiVersion)
        out.setInteger(Int32(out.readableBytes - 4), at: out.readerIndex)
        return Decoded(header: header, body: body, reencoded: out, frame: original)
    }

    static func decodeBody<M: KafkaRequestMessage>(_: M.Type, from buffer: inout ByteBuffer, version: Int16) throws -> any KafkaRequestMessage {
        try M(from: &buffer, version: version)
    }

    @Test func kcatApiVersionsV3() throws {
        let decoded = try Self.decodeFrame("kcat-ApiVersions-v3")
        #expect(decoded.header.requestApiKey == 18 && decoded.header.requestApiVersion == 3)
        #expect(decoded.header.clientId == "rdkafka")
        let body = try #require(decoded.body as? ApiVersionsRequest)
        #expect(body.clientSoftwareName == "librdkafka")
        #expect(body.clientSoftwareVersion == "2.0.2")
        #expect(decoded.reencoded == decoded.frame)
    }

    @Test func kcatMetadataV4() throws {
        let decoded = try Self.decodeFrame("kcat-Metadata-v4")
        #expect(decoded.header.requestApiKey == 3 && decoded.header.requestApiVersion == 4)
        #expect(decoded.header.correlationId == 2)
        let body = try #require(decoded.body as? MetadataRequest)
        #expect(body.topics == [])
        #expect(body.allowAutoTopicCreation == false)
        #expect(decoded.reencoded == decoded.frame)
    }

    @Test func confluentKafkaApiVersionsV3() throws {
        let decoded = try Self.decodeFrame("confluent-kafka-ApiVersions-v3")
        #expect(decoded.header.clientId == "tern-fixture")
        let body = try #require(decoded.body as? ApiVersionsRequest)
        #expect(body.clientSoftwareName == "confluent-kafka-python")
        #expect(body.clientSoftwareVersion == "2.16.1-rdkafka-2.16.0")
        #expect(decoded.reencoded == decoded.frame)
    }

    @Test func confluentKafkaMetadataV12() throws {
        let decoded = try Self.decodeFrame("confluent-kafka-Metadata-v12")
        #expect(decoded.header.requestApiVersion == 12)
        #expect(decoded.header.clientId == "tern-fixture")
        let body = try #require(decoded.body as? MetadataRequest)
        #expect(body.topics == [])
        #expect(body.allowAutoTopicCreation == false)
        #expect(body.includeTopicAuthorizedOperations == false)
        #expect(decoded.reencoded == decoded.frame)
    }

    @Test func kafkaPythonApiVersionsV4ThenV3() throws {
        // kafka-python opens with ApiVersions v4 (Kafka 4.0's newest); after UNSUPPORTED_VERSION it retries v3.
        let v4 = try Self.decodeFrame("kafka-python-ApiVersions-v4")
        #expect(v4.header.requestApiVersion == 4 && v4.header.correlationId == 1)
        let body4 = try #require(v4.body as? ApiVersionsRequest)
        #expect(body4.clientSoftwareName == "kafka-python")
        #expect(body4.clientSoftwareVersion == "3.0.12")
        #expect(v4.reencoded == v4.frame)
        let v3 = try Self.decodeFrame("kafka-python-ApiVersions-v3")
        #expect(v3.header.requestApiVersion == 3 && v3.header.correlationId == 2)
        #expect(v3.reencoded == v3.frame)
    }

    @Test func kafkaPythonMetadataV12() throws {
        let decoded = try Self.decodeFrame("kafka-python-Metadata-v12")
        let body = try #require(decoded.body as? MetadataRequest)
        #expect(body.topics == [])
        #expect(body.allowAutoTopicCreation == true)
        #expect(decoded.reencoded == decoded.frame)
    }
}
