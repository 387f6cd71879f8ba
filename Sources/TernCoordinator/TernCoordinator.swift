// Module TernCoordinator.
