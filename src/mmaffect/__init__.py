"""mmaffect: multimodal affective computing with representation alignment and decomposition methods."""

from mmaffect.types import Batch, ModelOutput, TaskSpec

__all__ = ["Batch", "ModelOutput", "TaskSpec", "__version__"]
__version__ = "0.1.0"
