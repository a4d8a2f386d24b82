"""Public market data over REST: symbols, order book, trades, ticker, candles."""
