"""Public market data: symbols, order book, trades, ticker, candles, WebSockets."""
