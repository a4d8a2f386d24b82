"""Settlement endpoints: the trader's balances and the operators' deposits and settlement queue."""
