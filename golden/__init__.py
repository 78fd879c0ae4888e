"""NumPy golden model of delaycore: network description, bit-exact integer semantics."""

from .model import GoldenCore, StepResult, run
from .network import Network, NetworkError, load_network, save_network

__all__ = ["GoldenCore", "StepResult", "run", "Network", "NetworkError", "load_network",
           "save_network"]
