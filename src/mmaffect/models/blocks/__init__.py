"""Reusable model blocks: sequence encoders and MLP heads, cross-modal attention layers, attention fusion.

Masked pooling over time is pure maths and lives in :func:`mmaffect.ops.pooling.masked_mean`.
"""

from mmaffect.models.blocks.cross_modal import CrossModalBlock, CrossModalEncoder, CrossModalLayer
from mmaffect.models.blocks.fusion import AttentionFusion
from mmaffect.models.blocks.sequence import SequenceEncoder, mlp
from mmaffect.ops.pooling import masked_mean

__all__ = ["AttentionFusion", "CrossModalBlock", "CrossModalEncoder", "CrossModalLayer", "SequenceEncoder",
           "masked_mean", "mlp"]
