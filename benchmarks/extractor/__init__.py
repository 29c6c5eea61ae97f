"""The extractor benchmark: the real paced client against the simulator with IBKR's real limits.

``python -m benchmarks.extractor.run [--scenario NAME] [--quick]`` prints one JSON line per scenario;
the scenarios are importable as ``benchmarks.extractor.scenarios.run_<name>``.
"""
