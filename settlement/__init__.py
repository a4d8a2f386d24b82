"""Balances, fund locks and trade settlement."""
