"""The embedded, deterministic IBKR Client Portal Web API simulator (stdlib HTTP server)."""

from ibkr_pipelines.simulator.config import FaultConfig, SimulatorConfig
from ibkr_pipelines.simulator.oauth1 import OAuth1Consumer, OAuth1Credentials
from ibkr_pipelines.simulator.oauth2 import OAuth2Client
from ibkr_pipelines.simulator.server import Simulator, serve

__all__ = ["FaultConfig", "OAuth1Consumer", "OAuth1Credentials", "OAuth2Client", "Simulator", "SimulatorConfig",
           "serve"]
