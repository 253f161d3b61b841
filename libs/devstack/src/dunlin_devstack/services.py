"""The registry of services the launcher runs, one line per service."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

HTTP_HOST = "127.0.0.1"


@dataclass(frozen=True)
class ServiceSpec:
    """A service: its name, the module run as `python -m <module> migrate|serve`, its port."""

    name: str
    module: str
    port: int

    @property
    def base_url(self) -> str:
        """The service's HTTP base URL."""
        return f"http://{HTTP_HOST}:{self.port}"

    @property
    def docs_url(self) -> str:
        """The service's interactive API docs."""
        return f"{self.base_url}/docs"


# Services not installed yet are skipped, so listing them ahead of time is harmless.
SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec("invoicing", "invoicing", 8001),
    ServiceSpec("payments", "payments", 8002),
    ServiceSpec("dunning", "dunning", 8003),
    ServiceSpec("risk", "risk", 8004),
    ServiceSpec("notifications", "notifications", 8005),
)


def is_runnable(spec: ServiceSpec) -> bool:
    """Return whether `python -m <module>` would find the service's `__main__`."""
    return is_module_available(f"{spec.module}.__main__")


def available_services(specs: tuple[ServiceSpec, ...] = SERVICES) -> list[ServiceSpec]:
    """Return the registered services that are installed and runnable."""
    return [spec for spec in specs if is_runnable(spec)]


def is_module_available(module: str) -> bool:
    """Return whether `module` can be imported."""
    try:
        return importlib.util.find_spec(module) is not None
    except ImportError:
        return False
