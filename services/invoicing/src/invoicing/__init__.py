"""Dunlin invoicing: customer accounts, invoices and (next) the AR ledger."""
