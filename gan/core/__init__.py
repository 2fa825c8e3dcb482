"""The training core: what every model kind gets (the Kind protocol in kind.py, then main)."""
