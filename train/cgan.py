"""Conditional GAN training: hinge loss against a spectral-norm discriminator, plus reconstruction.

Per step, on a batch of (image, grid) pairs:
  1. the generator predicts grids for every image with two noise draws z1, z2 (one forward pass);
  2. the discriminator learns real pairs up, generated pairs down (hinge: relu(1 - D(real)) +
     relu(1 + D(fake)));
  3. the generator learns reconstruction (BCE + Dice) + adversarial_weight * -D(fake), and the
     diversity-sensitive term -min(|G(x, z1) - G(x, z2)| / |z1 - z2|, cap) that keeps z in use.
The reconstruction term makes training stable in few steps; the adversarial and diversity terms
make samples for one image differ plausibly. Inference uses z = 0.

    python -m train.cgan --data DIR [--data DIR2] --out DIR --steps N [--any TrainConfig field]
"""

import contextlib

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from recon.models.cgan import CGANDiscriminator, CGANGenerator
from train.config import TrainConfig
from train.loop import clip_and_step, main, reconstruction_loss


@contextlib.contextmanager
def frozen(module: nn.Module):
    """No gradients into `module`'s parameters inside the block (they still pass through it)."""
    flags = [p.requires_grad for p in module.parameters()]
    module.requires_grad_(False)
    try:
        yield module
    finally:
        for p, flag in zip(module.parameters(), flags):
            p.requires_grad_(flag)


class CGANTask:
    """Generator, discriminator, one Adam optimizer each, and the training step."""

    def __init__(self, config: TrainConfig, device: torch.device, autocast, wrap):
        self.config, self.autocast = config, autocast
        sizes = dict(image_size=config.image_size, resolution=config.resolution,
                     feature_dim=config.feature_dim, base_channels=config.base_channels)
        self.generator = CGANGenerator(latent_dim=config.latent_dim, **sizes).to(device)
        self.discriminator = CGANDiscriminator(**sizes).to(device)
        self.model = self.generator
        self.modules = {"generator": self.generator, "discriminator": self.discriminator}
        self.optimizers = {
            "generator": torch.optim.Adam(self.generator.parameters(), lr=config.lr, betas=config.betas),
            "discriminator": torch.optim.Adam(self.discriminator.parameters(), lr=config.lr_discriminator,
                                              betas=config.betas),
        }
        # DDP wrappers (identity in one process) for the passes whose gradients are averaged
        self.parallel_generator = wrap(self.generator)
        self.parallel_discriminator = wrap(self.discriminator)

    def train_step(self, images: Tensor, voxels: Tensor, step: int, noise: torch.Generator) -> dict[str, Tensor]:
        """One discriminator and one generator update; images (B, 3, S, S), voxels (B, D, D, D) in {0, 1}."""
        config, batch = self.config, images.shape[0]
        draws = 2 if config.diversity_weight else 1
        images = images.repeat(draws, 1, 1, 1)  # (draws * B, 3, S, S): [x; x]
        targets = voxels.repeat(draws, 1, 1, 1)
        z = torch.randn(draws * batch, config.latent_dim, generator=noise, device=noise.device).to(images.device)
        with self.autocast():
            logits = self.parallel_generator(images, z)  # (draws * B, D, D, D)
        fake = torch.sigmoid(logits.float())

        with self.autocast():
            scores = self.parallel_discriminator(torch.cat([voxels, fake.detach()]),
                                                 torch.cat([images[:batch], images]))
        real_scores, fake_scores = scores.float().split([batch, draws * batch])
        d_real, d_fake = F.relu(1 - real_scores).mean(), F.relu(1 + fake_scores).mean()
        self.optimizers["discriminator"].zero_grad(set_to_none=True)
        (d_real + d_fake).backward()
        clip_and_step(self.optimizers["discriminator"], config)

        # through the raw discriminator: its parameters get no gradient here, so DDP's hooks stay quiet
        with frozen(self.discriminator), self.autocast():
            adversarial = -self.discriminator(fake, images).float().mean()
        reconstruction = reconstruction_loss(logits, targets, config)
        loss = reconstruction + config.adversarial_weight * adversarial
        scalars = {"loss_reconstruction": reconstruction, "loss_adversarial": adversarial,
                   "loss_d_real": d_real, "loss_d_fake": d_fake}
        if draws == 2:
            change = (fake[:batch] - fake[batch:]).abs().flatten(1).mean(1)
            spread = (z[:batch] - z[batch:]).abs().mean(1)
            diversity = torch.clamp(change / spread, max=config.diversity_cap).mean()
            loss = loss - config.diversity_weight * diversity
            scalars["output_change_per_z"] = diversity
        self.optimizers["generator"].zero_grad(set_to_none=True)
        loss.backward()
        clip_and_step(self.optimizers["generator"], config)
        scalars["loss_generator"] = loss
        return {key: value.detach() for key, value in scalars.items()}

    @torch.no_grad()
    def fixed_batch_loss(self, images: Tensor, voxels: Tensor) -> float:
        """Reconstruction loss of the z = 0 prediction (what inference returns) on a given batch."""
        z = torch.zeros(images.shape[0], self.config.latent_dim, device=images.device)
        return float(reconstruction_loss(self.generator(images, z), voxels, self.config))


if __name__ == "__main__":
    main(CGANTask, "cgan")
