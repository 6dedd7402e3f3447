"""The describer interface: an image (or what stands for it) -> the four description fields.

Describers share one interface, ``Describer.describe(ids, inputs) -> list[dict]`` (one dict with the
fields of :data:`~mmaffect.encoders.describers.parse.FIELDS` per sample), and are registered in
:data:`mmaffect.encoders.registry.DESCRIBERS` (``vlm``, ``file``, ``attributes``, ``template``).
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal, Sequence

from mmaffect.encoders.registry import DESCRIBERS

__all__ = ["DESCRIBERS", "Describer", "build_describer"]


class Describer:
    """``describe(ids, inputs) -> list[dict]`` with the :data:`FIELDS` of each sample.

    ``needs`` says what ``inputs`` holds: ``images`` (PIL images or paths), ``text`` (a text field such
    as attribute words, named by ``field``), ``nothing`` (looked up by id) or ``media`` (one mapping of
    ``image``/``audio``/``video`` paths per sample; the ``template`` describer).
    """

    needs: ClassVar[Literal["images", "text", "nothing", "media"]] = "nothing"
    reads_post_text: ClassVar[bool] = False  # describe() also takes the post texts (the vlm prompt's {text})
    field: str | None = None
    chunk_size: int = 256

    def describe(self, ids: Sequence[str], inputs: Sequence[Any]) -> list[dict[str, str]]:  # pragma: no cover
        raise NotImplementedError

    def fingerprint(self) -> dict[str, Any]:
        """What identifies this describer's output (stored beside the cache)."""
        return {"describer": type(self).__name__}


def build_describer(name: str, **options: Any) -> Describer:
    """Describer ``name`` from :data:`DESCRIBERS` with ``options`` (``None`` values dropped)."""
    import inspect

    cls = DESCRIBERS.get(name)
    given = {k: v for k, v in options.items() if v is not None}
    params = inspect.signature(cls.__init__).parameters
    unknown = sorted(set(given) - set(params))
    if unknown:
        raise ValueError(f"describer {name!r} takes no option(s) {unknown}; it takes "
                         f"{sorted(k for k in params if k != 'self')}")
    needed = [k for k, p in params.items() if k != "self" and p.default is p.empty and k not in given]
    if needed:
        raise ValueError(f"describer {name!r} needs {', '.join(needed)} (e.g. --model for vlm, "
                         f"--descriptions for file)")
    return cls(**given)
