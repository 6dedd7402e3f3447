"""Dataset jobs: read a dataset, add modalities or fields with the encoder library, write it back.

``convert`` (any readable dataset -> native), ``extract`` (text embeddings), ``extract_clip`` (CLIP
image/text token matrices), ``decompose`` (the rd low-rank + sparse parts), ``describe`` (image
descriptions as text fields). Writes are atomic and resumable (:mod:`mmaffect.jobs.resumable`).
"""
