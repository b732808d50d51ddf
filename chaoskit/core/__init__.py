"""The ground floor: errors, the agent protocol, the virtual clock."""
