"""Orders, trades and fills: the trader REST API and the write path for orders."""
