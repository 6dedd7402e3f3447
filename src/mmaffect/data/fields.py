"""Named text fields of a split: ``raw_text`` or a key of ``SplitData.texts``, alone or joined.

``"raw_text+attributes"`` joins the fields of each sample with a separator (the encoder's own
separator token, e.g. ``[SEP]``, when encoding), which is how one text encoder reads
``text [SEP] description`` (arXiv 2606.09148, explicit alignment through text). Empty parts are
left out, so a sample without a description is just its text.
"""

from __future__ import annotations

from mmaffect.data.bundle import SplitData

RAW_TEXT = "raw_text"


def available_fields(split: SplitData) -> list[str]:
    return ([RAW_TEXT] if split.raw_text is not None else []) + list(split.texts)


def field_texts(split: SplitData, field: str, *, sep: str = " [SEP] ", where: str = "") -> list[str]:
    """The per-sample strings of ``field`` (``a+b`` joins fields ``a`` and ``b`` with ``sep``)."""
    names = [f.strip() for f in field.split("+")]
    columns = []
    for name in names:
        if name == RAW_TEXT and split.raw_text is not None:
            columns.append(split.raw_text)
        elif name in split.texts:
            columns.append(split.texts[name])
        else:
            prefix = f"{where}: " if where else ""
            raise KeyError(f"{prefix}no text field {name!r}; available: {', '.join(available_fields(split)) or 'none'}")
    if len(columns) == 1:
        return ["" if t is None else str(t) for t in columns[0]]
    return [sep.join(str(t) for t in parts if t not in (None, "")) for parts in zip(*columns)]
