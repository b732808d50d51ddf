"""Examples shipped with chaoskit: reference agents, and the catalogue pairing them with scenarios.

Installed as ``chaoskit.examples``. Each module of :mod:`chaoskit.examples.agents` holds a
``naive`` agent with one of the famous defects and a ``hardened`` one without it;
:mod:`chaoskit.examples.catalogue` says which scenario should catch which defect and runs them
all (``detection_matrix``).
"""
