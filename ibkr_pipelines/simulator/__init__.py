"""The embedded, deterministic IBKR Client Portal Web API simulator (stdlib HTTP server)."""

from ibkr_pipelines.simulator.config import FaultConfig, SimulatorConfig
from ibkr_pipelines.simulator.server import Simulator, serve

__all__ = ["FaultConfig", "Simulator", "SimulatorConfig", "serve"]
