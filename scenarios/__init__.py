"""The built-in scenario library: installed as ``chaoskit.scenarios.builtin`` (package data)."""
