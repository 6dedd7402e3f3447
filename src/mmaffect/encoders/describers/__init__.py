"""Image describers: an image (or what stands for it) -> a structured text description.

- :mod:`~mmaffect.encoders.describers.parse`: the four fields and the robust parser of model output;
- :mod:`~mmaffect.encoders.describers.base`: the :class:`Describer` interface and :func:`build_describer`;
- ``vlm``, ``file``, ``attributes``: the registered describers.
"""
