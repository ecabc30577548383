"""raspy: a home-automation hub on ZeroMQ (MDP, MMI, Titanic, Clone).

Importing raspy has no side effects: no sockets, no threads, no logging setup.
"""

__version__ = "0.1.0"
