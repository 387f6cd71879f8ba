import ArgumentParser

/// The `tern` command: the broker and, later, Kafka's command-line tools as subcommands
/// (`tern topics`, `tern console-producer`, ... mirror `kafka-topics.sh`, `kafka-console-producer.sh`).
@main
struct Tern: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tern",
        abstract: "A Kafka-compatible broker.",
        subcommands: [
            ServerCommand.self, TopicsCommand.self, ConsoleProducerCommand.self, ConsoleConsumerCommand.self,
            ConfigsCommand.self, GetOffsetsCommand.self, DeleteRecordsCommand.self, ProducerPerfTestCommand.self,
            ConsumerPerfTestCommand.self, ConsumerGroupsCommand.self, ReassignPartitionsCommand.self, LeaderElectionCommand.self,
        ]
    )
}
