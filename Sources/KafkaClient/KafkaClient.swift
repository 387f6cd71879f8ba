// KafkaClient: a native Swift Kafka client.
