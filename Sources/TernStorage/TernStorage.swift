// Module TernStorage.
