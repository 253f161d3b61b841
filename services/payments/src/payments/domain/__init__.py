"""The pure payments domain: allocation, the account ledger, payment plans; no I/O."""
