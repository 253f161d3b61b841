"""Channel adapters: one interface, one adapter per way a message leaves."""
