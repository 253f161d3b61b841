"""Pure dunning domain: facts, policies and the case engine (no I/O)."""

from dunlin_platform.native import NativeGroup, activate

# The due sweep's hot modules, compiled with mypyc by `make setup` and imported compiled only
# when built from exactly these sources (services/dunning/README.md, "Native build").
NATIVE = NativeGroup(
    __name__, ("build", "ids", "contact", "charges", "balances", "engine", "messages", "case")
)
activate(NATIVE)
