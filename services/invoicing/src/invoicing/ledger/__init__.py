"""The AR ledger: applying payments, notes, amendments and disputes to stored invoices."""
