"""Built-in scenario files, shipped as package data of ``chaoskit.scenarios``."""
