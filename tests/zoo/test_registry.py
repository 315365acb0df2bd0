"""zoo.registry: pairs register once, by a unique name, with validated settings."""

import pytest

from zoo import pairs  # noqa: F401  (registers the pairs)
from zoo import registry


def test_normal_gamma_is_registered_first():
    assert registry.names()[0] == "normal-gamma"
    assert registry.get("normal-gamma").quick.quick


def test_a_name_cannot_be_registered_twice():
    with pytest.raises(ValueError, match="^pair.name"):
        registry.register(registry.get("normal-gamma"))


def test_unknown_names_list_the_registered_ones():
    with pytest.raises(ValueError, match="normal-gamma"):
        registry.get("nope")


@pytest.mark.parametrize("kwargs, name", [({"draws": 0}, "draws"), ({"chains": -1}, "chains"), ({"warmup": -1}, "warmup")])
def test_settings_are_validated(kwargs, name):
    with pytest.raises(ValueError, match=f"^{name}:"):
        registry.RunSettings(**kwargs)
