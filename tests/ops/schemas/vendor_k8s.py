"""Copy the Kubernetes schemas the manifests need out of kubernetes-validate, pruned."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

VERSION = "v1.33.0-local-strict"
KINDS = (
    "configmap-v1",
    "namespace-v1",
    "service-v1",
    "serviceaccount-v1",
    "deployment-apps-v1",
    "job-batch-v1",
    "poddisruptionbudget-policy-v1",
    "networkpolicy-networking-v1",
)
OUT = Path(__file__).parent / "kubernetes" / "v1.33"
_REF = re.compile(r'"\$ref":\s*"(?:/api/_definitions.json)?#/\$defs/([^"]+)"')


def main() -> None:
    spec = importlib.util.find_spec("kubernetes_validate")  # its data only, not its code
    assert spec is not None, "install kubernetes-validate"
    assert spec.origin is not None
    source = Path(spec.origin).parent / "kubernetes-json-schema" / VERSION
    definitions = json.loads((source / "_definitions.json").read_text())
    OUT.mkdir(parents=True, exist_ok=True)
    wanted: set[str] = set()
    todo: list[str] = []
    for kind in KINDS:
        text = (source / f"{kind}.json").read_text()
        (OUT / f"{kind}.json").write_text(text)
        todo += _REF.findall(text)
    while todo:
        name = todo.pop()
        if name not in wanted:
            wanted.add(name)
            todo += _REF.findall(json.dumps(definitions["$defs"][name]))
    pruned = {**definitions, "$defs": {k: definitions["$defs"][k] for k in sorted(wanted)}}
    (OUT / "_definitions.json").write_text(json.dumps(pruned, indent=1) + "\n")


if __name__ == "__main__":
    main()
