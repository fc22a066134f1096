"""VAE training: reconstruction (BCE + Dice) + beta * KL, the KL weight warming up linearly, plus
the object heads (mask, category, camera) on the shared encoder.

    loss = reconstruction(decode(mu + sigma * eps), grid) + kl_beta * min(1, step / kl_warmup_steps) * KL / D^3
           + head losses (train.loop.head_losses)

KL is summed over latent dimensions and divided by the voxel count D^3, like the per-voxel BCE,
so kl_beta = 1 (with dice_weight = 0) is the negative ELBO per voxel. The warm-up lets the decoder
learn shapes before the prior pulls the codes together. Inference decodes mu; sampling is
available through `VoxelVAE.reconstruct(images, generator=...)`.

    python -m train.vae --data DIR [--data DIR2] --out DIR --steps N [--any TrainConfig field]
"""

import torch
from torch import Tensor

from recon.models.vae import VoxelVAE
from train.config import TrainConfig
from train.loop import (build_model_kwargs, clip_and_step, head_accuracy, head_losses, main, reconstruction_loss,
                        restrict_training, start_from_pretrained)


class VAETask:
    """The VAE, its Adam optimizer, and the training step."""

    def __init__(self, config: TrainConfig, device: torch.device, autocast, wrap):
        self.config, self.autocast = config, autocast
        self.model = VoxelVAE(latent_dim=config.latent_dim, **build_model_kwargs(config)).to(device)
        start_from_pretrained(self.model, config)
        restrict_training(self.model, config)
        self.modules = {"vae": self.model}
        self.optimizers = {"vae": torch.optim.Adam([p for p in self.model.parameters() if p.requires_grad],
                                                   lr=config.lr, betas=config.betas)}
        self.parallel_model = wrap(self.model)

    def kl_weight(self, step: int) -> float:
        warmup = min(1.0, step / self.config.kl_warmup_steps) if self.config.kl_warmup_steps else 1.0
        return self.config.kl_beta * warmup

    def train_step(self, batch: dict[str, Tensor], step: int, noise: torch.Generator) -> dict[str, Tensor]:
        """One update on a batch (train.loop's keys); eps drawn from `noise`."""
        voxels = batch["voxels"]
        with self.autocast():
            logits, mu, logvar, heads = self.parallel_model(batch["pixels"], generator=noise, all_outputs=True)
        mu, logvar = mu.float(), logvar.float()
        reconstruction = reconstruction_loss(logits, voxels, self.config)
        kl = -0.5 * (1 + logvar - mu.square() - logvar.exp()).sum(1).mean() / voxels[0].numel()
        auxiliary = head_losses(heads, batch, self.config)
        loss = reconstruction + self.kl_weight(step) * kl + sum(auxiliary.values())
        optimizer = self.optimizers["vae"]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        clip_and_step(optimizer, self.config)
        return {"loss": loss.detach(), "loss_reconstruction": reconstruction.detach(), "kl_per_voxel": kl.detach(),
                **{key: value.detach() for key, value in auxiliary.items()}, **head_accuracy(heads, batch)}

    @torch.no_grad()
    def fixed_batch_loss(self, images: Tensor, voxels: Tensor) -> float:
        """Reconstruction loss of decode(mu) (what inference returns) on a given batch."""
        mu, _ = self.model.encode(images)
        return float(reconstruction_loss(self.model.decode(mu), voxels, self.config))


if __name__ == "__main__":
    main(VAETask, "vae")
