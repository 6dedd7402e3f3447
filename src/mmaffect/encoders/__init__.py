"""The encoder library: pretrained encoders and describers (media in, arrays or text out; no dataset I/O).

Registered in :mod:`mmaffect.encoders.registry` (``ENCODERS``, ``DESCRIBERS``) and imported lazily.
"""
