import Foundation
import Testing

@testable import TernCluster

/// The znode payloads must read like Kafka's so ZooKeeper-reading tools understand them.
struct KafkaZNodesTests {
    func json(_ bytes: [UInt8]) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
    }

    @Test func brokerRegistrationHasKafkasFields() throws {
        var reg = BrokerRegistration(
            endpoints: [.init(listenerName: "PLAINTEXT", host: "10.0.0.1", port: 9092)],
            securityProtocols: ["PLAINTEXT": "PLAINTEXT"], rack: nil)
        reg.timestamp = "1700000000000"
        let bytes = ZNodeJSON.encode(reg)
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text == #"{"endpoints":["PLAINTEXT://10.0.0.1:9092"],"host":"10.0.0.1","jmx_port":-1,"listener_security_protocol_map":{"PLAINTEXT":"PLAINTEXT"},"port":9092,"rack":null,"timestamp":"1700000000000","version":5}"#)
        let back = try #require(ZNodeJSON.decode(BrokerRegistration.self, bytes))
        #expect(back.parsedEndpoints == [.init(listenerName: "PLAINTEXT", host: "10.0.0.1", port: 9092)])
    }

    @Test func registrationFromKafkaAndLegacyForms() throws {
        let kafka = #"{"features":{},"listener_security_protocol_map":{"INTERNAL":"PLAINTEXT","EXTERNAL":"SSL"},"endpoints":["INTERNAL://[::1]:9093","EXTERNAL://b1.example:9094"],"jmx_port":-1,"port":-1,"host":null,"version":5,"timestamp":"1","rack":"r1"}"#
        let reg = try #require(ZNodeJSON.decode(BrokerRegistration.self, Array(kafka.utf8)))
        #expect(reg.rack == "r1")
        #expect(reg.parsedEndpoints == [
            .init(listenerName: "INTERNAL", host: "::1", port: 9093), .init(listenerName: "EXTERNAL", host: "b1.example", port: 9094),
        ])
        let v1 = #"{"jmx_port":-1,"timestamp":"1","host":"h","version":1,"port":9092}"#
        #expect(try #require(ZNodeJSON.decode(BrokerRegistration.self, Array(v1.utf8))).parsedEndpoints == [
            .init(listenerName: "PLAINTEXT", host: "h", port: 9092)
        ])
    }

    @Test func topicAssignmentAndPartitionState() throws {
        let topic = TopicZNode(assignment: [[0, 1], [1, 2]], topicId: "AAAAAAAAAAAAAAAAAAAAAA")
        let t = try json(ZNodeJSON.encode(topic))
        #expect(t["version"] as? Int == 3)
        #expect((t["partitions"] as? [String: [Int]])?["1"] == [1, 2])
        #expect(t["topic_id"] as? String == "AAAAAAAAAAAAAAAAAAAAAA")
        #expect((t["adding_replicas"] as? [String: Any])?.isEmpty == true)
        #expect((t["removing_replicas"] as? [String: Any])?.isEmpty == true)
        #expect(ZNodeJSON.decode(TopicZNode.self, ZNodeJSON.encode(topic))?.assignment == [[0, 1], [1, 2]])
        // Kafka 2.x wrote version 1 without topic ids.
        let old = try #require(ZNodeJSON.decode(TopicZNode.self, Array(#"{"version":1,"partitions":{"0":[2]}}"#.utf8)))
        #expect(old.assignment == [[2]])
        #expect(old.topicId == nil)

        let state = PartitionStateZNode(controllerEpoch: 1, leader: 0, leaderEpoch: 0, isr: [0, 1])
        #expect(String(decoding: ZNodeJSON.encode(state), as: UTF8.self)
            == #"{"controller_epoch":1,"isr":[0,1],"leader":0,"leader_epoch":0,"version":1}"#)
    }

    @Test func controllerClusterIdAndConfig() throws {
        var c = ControllerZNode(brokerId: 2)
        c.timestamp = "5"
        #expect(String(decoding: ZNodeJSON.encode(c), as: UTF8.self) == #"{"brokerid":2,"timestamp":"5","version":2}"#)
        #expect(String(decoding: ZNodeJSON.encode(ClusterIdZNode(id: "abc")), as: UTF8.self) == #"{"id":"abc","version":"1"}"#)
        #expect(String(decoding: ZNodeJSON.encode(ConfigZNode(config: ["retention.ms": "1"])), as: UTF8.self)
            == #"{"config":{"retention.ms":"1"},"version":1}"#)
        #expect(KafkaZNodes.partitionState("t", 3) == "/brokers/topics/t/partitions/3/state")
    }
}
