"""Find a model's layers by walking its attributes, with the dotted names `named_params` would use.

Containers name their children differently (Sequential: `layers.<i>`, Composite: `children`, Residual:
`body`); any other layer-valued attribute, list or dict is a child under its attribute name. A layer
whose parameters are its child's very dict (Recurrent and its cell) is one leaf: its child is an
implementation detail that the unroller never calls through `forward`.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..layers.base import Layer

_SKIP_ATTRS = frozenset({"params", "grads", "config", "config_"})


def child_layers(layer: Layer) -> Iterator[tuple[str, Layer]]:
    """(name, child) pairs of a layer's direct sub-layers, each child once, in declaration order."""
    seen: set[int] = set()

    def fresh(name: str, child) -> Iterator[tuple[str, Layer]]:
        if isinstance(child, Layer) and id(child) not in seen and child is not layer:
            seen.add(id(child))
            if not (layer.params and child.params is layer.params):
                yield name, child

    if isinstance(getattr(layer, "layers", None), list) and hasattr(layer, "prefix"):
        for i, child in enumerate(layer.layers):
            yield from fresh(f"{layer.prefix}.{i}", child)
    children = getattr(layer, "children", None)
    if isinstance(children, dict):
        for name, child in children.items():
            yield from fresh(name, child)
    for attr, value in vars(layer).items():
        if attr.startswith("_") or attr in _SKIP_ATTRS:
            continue
        if isinstance(value, Layer):
            yield from fresh(attr, value)
        elif isinstance(value, (list, tuple)):
            for i, child in enumerate(value):
                yield from fresh(f"{attr}.{i}", child)
        elif isinstance(value, dict):
            for key, child in value.items():
                yield from fresh(f"{attr}.{key}", child)


def named_layers(model: Layer, prefix: str = "") -> Iterator[tuple[str, Layer]]:
    """Every layer under `model` (itself excluded), parents before children, with dotted names."""
    for name, child in child_layers(model):
        full = f"{prefix}{name}"
        yield full, child
        yield from named_layers(child, full + ".")


def leaf_layers(model: Layer) -> list[tuple[str, Layer]]:
    """The layers that do the work: no sub-layers of their own. A bare layer is its own leaf ('')."""
    leaves = [(name, layer) for name, layer in named_layers(model) if not any(True for _ in child_layers(layer))]
    return leaves or [("", model)]
