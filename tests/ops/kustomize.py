"""A small kustomize subset, enough to render deploy/k8s offline (no kustomize binary here).

Supports exactly what the manifests use: `resources` (files and directories), `namespace`,
`labels` (with includeTemplates), `images` (newName/newTag) and `patches` given by `path`,
applied as strategic merges (maps merge, lists of named items merge by name, other lists and
scalars replace). Anything else in a kustomization.yaml is refused, so the renderer cannot
silently ignore a feature it does not implement.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

Resource = dict[str, Any]
_SUPPORTED = {"apiVersion", "kind", "resources", "namespace", "labels", "images", "patches"}
_CLUSTER_SCOPED = {"Namespace"}
_TEMPLATED = {"Deployment", "Job", "StatefulSet", "DaemonSet"}


def render(directory: Path) -> list[Resource]:
    """The resources a `kustomize build directory` would print (for the supported subset)."""
    spec = yaml.safe_load((directory / "kustomization.yaml").read_text())
    unsupported = set(spec) - _SUPPORTED
    if unsupported:
        raise ValueError(f"{directory}: unsupported kustomize fields {sorted(unsupported)}")
    resources: list[Resource] = []
    for entry in spec.get("resources", []):
        path = (directory / entry).resolve()
        if path.is_dir():
            resources += render(path)
        else:
            resources += [d for d in yaml.safe_load_all(path.read_text()) if d]
    for patch_entry in spec.get("patches", []):
        if set(patch_entry) != {"path"}:
            raise ValueError(f"{directory}: only file patches are supported")
        for patch in yaml.safe_load_all((directory / patch_entry["path"]).read_text()):
            target = _find(resources, patch)
            merged = merge(target, patch)
            target.clear()
            target.update(merged)
    for item in spec.get("labels", []):
        for resource in resources:
            _label(resource, item["pairs"], templates=item.get("includeTemplates", False))
    for image in spec.get("images", []):
        for resource in resources:
            _set_image(resource, image)
    if "namespace" in spec:
        for resource in resources:
            if resource["kind"] not in _CLUSTER_SCOPED:
                resource["metadata"]["namespace"] = spec["namespace"]
    return resources


def merge(base: Any, patch: Any) -> Any:
    """Strategic merge of `patch` into a copy of `base`."""
    if isinstance(base, dict) and isinstance(patch, dict):
        merged = copy.deepcopy(base)
        for key, value in patch.items():
            merged[key] = merge(base[key], value) if key in base else copy.deepcopy(value)
        return merged
    if isinstance(base, list) and isinstance(patch, list) and _named(base) and _named(patch):
        merged_list = copy.deepcopy(base)
        by_name = {item["name"]: i for i, item in enumerate(merged_list)}
        for item in patch:
            if item["name"] in by_name:
                i = by_name[item["name"]]
                merged_list[i] = merge(merged_list[i], item)
            else:
                merged_list.append(copy.deepcopy(item))
        return merged_list
    return copy.deepcopy(patch)


def _named(items: list[Any]) -> bool:
    return all(isinstance(i, dict) and "name" in i for i in items)


def _find(resources: list[Resource], patch: Resource) -> Resource:
    for resource in resources:
        if (resource["apiVersion"], resource["kind"], resource["metadata"]["name"]) == (
            patch["apiVersion"],
            patch["kind"],
            patch["metadata"]["name"],
        ):
            return resource
    raise ValueError(f"patch target not found: {patch['kind']}/{patch['metadata']['name']}")


def _label(resource: Resource, pairs: dict[str, str], *, templates: bool) -> None:
    resource["metadata"].setdefault("labels", {}).update(pairs)
    if templates and resource["kind"] in _TEMPLATED:
        template = resource["spec"]["template"]
        template.setdefault("metadata", {}).setdefault("labels", {}).update(pairs)


def _set_image(resource: Resource, image: dict[str, str]) -> None:
    if resource["kind"] not in _TEMPLATED:
        return
    for container in resource["spec"]["template"]["spec"]["containers"]:
        name, _, _tag = container["image"].partition(":")
        if name == image["name"]:
            container["image"] = f"{image.get('newName', name)}:{image['newTag']}"
