"""The engine: Hypothesis explores fault schedules, runs the agent, tallies and records the run."""
