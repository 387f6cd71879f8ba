// Module TernNetwork.
