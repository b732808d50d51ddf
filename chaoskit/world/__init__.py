"""The world an agent runs in: interception, faults, the injector,
virtual time, entropy, the trace."""
