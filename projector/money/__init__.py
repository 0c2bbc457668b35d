"""Money: dated tariffs with time-of-use bands (tariffs, parsing), pricing inside the fold
(pricing), tariffs and payments in the database (store), costs read back (costs) and listed
for the terminal (listing)."""
