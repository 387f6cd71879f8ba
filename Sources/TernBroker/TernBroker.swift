// Module TernBroker.
