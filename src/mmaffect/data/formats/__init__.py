"""Readers for the formats users already have, one module per format.

Task files (``mmsd``, ``hateful_memes``, ``tombert``, ``mvsa``, ``msed``, ``meld``) and ``manifest``
return bundles without feature modalities (text fields and image paths; features are added by the
extract/describe jobs); ``mmsa`` reads MMSA and MulT feature pickles. What they share (records, line
readers, label parsing) is in :mod:`~mmaffect.data.formats.common`. Resolve datasets with
:func:`mmaffect.data.registry.load_dataset`.
"""
