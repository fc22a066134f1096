"""A small 3D CNN that tells the seven furniture categories apart from a 32^3 occupancy grid.

Its penultimate layer is the feature space of the project's Fréchet voxel distance
(recon.generative_metrics.frechet_voxel_distance); the category head only serves its training
(train/voxel_classifier.py).

Shapes: grids (B, D, D, D) occupancy probabilities in [0, 1] (canonical frame, recon.voxels);
features (B, feature_dim); logits (B, categories).
"""

import torch
from huggingface_hub import PyTorchModelHubMixin
from torch import Tensor, nn

from recon.models.blocks import BOTTLENECK, group_norm, stage_count

CLASSIFIER_CARD_TEMPLATE = """---
{{ card_data }}
---

# Recon3D voxel classifier

32^3 occupancy grid -> one of 7 furniture categories; its 128-d penultimate layer is the feature
space of the Recon3D Fréchet voxel distance. Load it with
`recon.generative_metrics.load_voxel_classifier("<this folder or repo id>")`.
"""


class VoxelClassifier(
    nn.Module,
    PyTorchModelHubMixin,
    library_name="recon3d",
    tags=["recon3d", "voxels", "3d-classification", "furniture"],
    model_card_template=CLASSIFIER_CARD_TEMPLATE,
):
    """Grid -> category logits. The constructor arguments are the saved config.

    Stride-2 4-wide 3D convolutions (GroupNorm, LeakyReLU) halve the grid down to 4^3, channels
    doubling from `base_channels`; one linear layer gives the `feature_dim` features, another the
    logits. The features keep the 4^3 layout's information (no global pooling), so they respond
    to where parts are, not only to which parts there are.
    """

    def __init__(self, resolution: int = 32, base_channels: int = 8, feature_dim: int = 128,
                 categories: int = 7):
        super().__init__()
        self.resolution = resolution
        self.feature_dim = feature_dim
        layers: list[nn.Module] = []
        in_channels = 1
        for stage in range(stage_count(resolution)):
            out_channels = base_channels * 2 ** stage
            layers += [nn.Conv3d(in_channels, out_channels, 4, stride=2, padding=1),
                       group_norm(out_channels), nn.LeakyReLU(0.2)]
            in_channels = out_channels
        self.convs = nn.Sequential(*layers)
        self.features = nn.Sequential(nn.Linear(in_channels * BOTTLENECK**3, feature_dim), nn.LeakyReLU(0.2))
        self.head = nn.Linear(feature_dim, categories)

    def embed(self, grids: Tensor) -> Tensor:
        """(B, D, D, D) grids -> (B, feature_dim) penultimate-layer features."""
        # channels-last picks torch's fast CPU 3D-conv kernels (as in recon.models.blocks)
        x = grids.unsqueeze(1).contiguous(memory_format=torch.channels_last_3d)  # (B, 1, D, D, D)
        x = self.convs(x)  # (B, C, 4, 4, 4)
        return self.features(x.flatten(1))

    def forward(self, grids: Tensor) -> Tensor:
        """(B, D, D, D) grids -> (B, categories) logits."""
        return self.head(self.embed(grids))
