"""The one generic Lightning task for every model: task loss + Σ weight · objective."""

from __future__ import annotations

import lightning as L
import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from mmaffect.evaluation.inference import prediction_scores
from mmaffect.metrics import compute_metrics
from mmaffect.models.predictor import Predictor
from mmaffect.objectives.base import Objective
from mmaffect.training.config import OptimConfig
from mmaffect.types import Batch, TaskSpec


def task_loss(prediction: torch.Tensor, labels: torch.Tensor, task: TaskSpec, kind: str = "auto") -> torch.Tensor:
    """L1 for regression (as MMSA), cross-entropy for classification, unless ``kind`` says otherwise."""
    if kind == "auto":
        kind = "l1" if task.kind == "regression" else "ce"
    if kind == "l1":
        return F.l1_loss(prediction, labels.to(prediction.dtype))
    if kind == "mse":
        return F.mse_loss(prediction, labels.to(prediction.dtype))
    return F.cross_entropy(prediction, labels.long())


class AffectTask(L.LightningModule):
    """Trains ``predictor`` on ``task``; validation metrics are logged as ``val/<metric>``."""

    def __init__(self, predictor: Predictor, task: TaskSpec, objectives: list[Objective], optim: OptimConfig) -> None:
        super().__init__()
        self.predictor = predictor
        self.task_spec = task
        self.objectives = nn.ModuleList(objectives)
        self.optim = optim
        self._val_outputs: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []

    def transfer_batch_to_device(self, batch: Batch, device: torch.device, dataloader_idx: int) -> Batch:
        return batch.to(device)

    def training_step(self, batch: Batch, batch_idx: int) -> torch.Tensor:
        output = self.predictor(batch)
        loss = task_loss(output.prediction, batch.labels, self.task_spec, self.optim.loss)
        self.log("train/task_loss", loss, on_step=False, on_epoch=True, batch_size=batch.size, sync_dist=True)
        for objective in self.objectives:
            value = objective(output, batch)
            self.log(f"train/{objective.name}", value, on_step=False, on_epoch=True, batch_size=batch.size, sync_dist=True)
            loss = loss + objective.weight * value
        self.log("train/loss", loss, on_step=False, on_epoch=True, batch_size=batch.size, sync_dist=True)
        return loss

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        output = self.predictor(batch)
        self._val_outputs.append((output.prediction.detach(), batch.labels.detach(), batch.index.detach()))

    def on_validation_epoch_end(self) -> None:
        if not self._val_outputs:
            return
        preds = torch.cat([p for p, _, _ in self._val_outputs])
        labels = torch.cat([y for _, y, _ in self._val_outputs])
        index = torch.cat([i for _, _, i in self._val_outputs])
        self._val_outputs.clear()
        if self.trainer.world_size > 1:  # every process scores the whole split
            preds, labels, index = (self.all_gather(t).flatten(0, 1) for t in (preds, labels, index))
            index_np = index.cpu().numpy()
            _, first = np.unique(index_np, return_index=True)  # DistributedSampler pads with repeats
            keep = torch.from_numpy(first).to(preds.device)
            preds, labels = preds[keep], labels[keep]
        metrics = compute_metrics(self.task_spec.metrics, prediction_scores(preds, self.task_spec), labels.cpu().numpy())
        loss = task_loss(preds, labels, self.task_spec, self.optim.loss)
        self.log("val/loss", loss, sync_dist=True)
        for key, value in metrics.items():
            self.log(f"val/{key}", float(value), sync_dist=True)

    def configure_optimizers(self):
        return torch.optim.AdamW(self.parameters(), lr=self.optim.lr, weight_decay=self.optim.weight_decay)
