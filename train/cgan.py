"""Conditional GAN training: a projection patch discriminator kept in balance, plus reconstruction
and the object heads (mask, category, camera) on the shared encoder.

Per step, on a batch of (image, grid) pairs:
  1. the generator predicts grids for every image with two noise draws z1, z2 (one encoder pass);
  2. the discriminator (recon.models.cgan.CGANDiscriminator: 4^3 patch scores, conditioned on
     the generator's image features, detached) learns real pairs up and generated pairs down with
     the hinge loss, on grids blurred by Gaussian instance noise that fades out over
     `instance_noise_steps` (early on, real grids are binary and generated ones soft, which a
     discriminator could tell apart without looking at the shape); every `r1_every` steps an R1
     penalty (the squared gradient norm at real grids, Mescheder et al. 2018) keeps it smooth;
  3. the generator learns reconstruction (BCE + Dice) + adversarial_weight * -D(fake) + head losses,
     and the diversity-sensitive term -min(|G(x, z1) - G(x, z2)| / |z1 - z2|, cap) that keeps z
     in use; with `mode_weight` also reconstruction alone of a third draw at z = 0 (the mode,
     what inference returns), which the discriminator never sees. With `noise_modulation` z also
     modulates every decoder stage (recon.models.cgan.NoiseModulation, zero at z = 0); trained alone
     (--train_only noise) it moves the samples while the mode output keeps its bytes.
Logged besides the losses: the discriminator's accuracy on real and on generated patches, and the
adversarial share of the generator's gradient at its output (|g_adv| / (|g_adv| + |g_rec|)).
Inference uses z = 0.

    python -m train.cgan --data DIR [--data DIR2] --out DIR --steps N [--any TrainConfig field]
"""

import contextlib

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from recon.models.cgan import CGANDiscriminator, CGANGenerator
from train.config import TrainConfig
from train.loop import (build_model_kwargs, clip_and_step, head_accuracy, head_losses, main, reconstruction_loss,
                        restrict_training, start_from_pretrained)


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
        self.generator = CGANGenerator(latent_dim=config.latent_dim, noise_modulation=config.noise_modulation,
                                       **build_model_kwargs(config)).to(device)
        start_from_pretrained(self.generator, config)
        restrict_training(self.generator, config)
        self.discriminator = CGANDiscriminator(config.resolution, config.feature_dim,
                                               config.decoder_channels).to(device)
        self.model = self.generator
        self.modules = {"generator": self.generator, "discriminator": self.discriminator}
        self.optimizers = {
            "generator": torch.optim.Adam([p for p in self.generator.parameters() if p.requires_grad],
                                          lr=config.lr, betas=config.betas),
            "discriminator": torch.optim.Adam(self.discriminator.parameters(), lr=config.lr_discriminator,
                                              betas=config.betas),
        }
        # DDP wrappers (identity in one process) for the passes whose gradients are averaged
        self.parallel_generator = wrap(self.generator)
        self.parallel_discriminator = wrap(self.discriminator)

    def noise_level(self, step: int) -> float:
        fade = self.config.instance_noise_steps
        return self.config.instance_noise * max(0.0, 1.0 - step / fade) if fade else 0.0

    def train_step(self, batch: dict[str, Tensor], step: int, noise: torch.Generator) -> dict[str, Tensor]:
        """One discriminator and one generator update on a batch (train.loop's keys); with
        adversarial_weight 0 the generator's alone (the discriminator neither runs nor learns)."""
        config, images, voxels = self.config, batch["pixels"], batch["voxels"]
        size = images.shape[0]
        draws = 2 if config.diversity_weight else 1
        targets = voxels.repeat(draws, 1, 1, 1)
        z = torch.randn(draws * size, config.latent_dim, generator=noise, device=noise.device).to(images.device)
        drawn = z
        if config.mode_weight:  # one more draw per image at z = 0, the mode (reconstruction only)
            drawn = torch.cat([z, torch.zeros(size, config.latent_dim, device=images.device)])
        with self.autocast():
            logits, heads, features = self.parallel_generator(images, drawn, all_outputs=True)  # (len(drawn), D, D, D)
        mode_logits = None
        if config.mode_weight:
            logits, mode_logits = logits[:draws * size], logits[draws * size:]
        fake = torch.sigmoid(logits.float())
        if not logits.requires_grad:  # nothing trained shapes the grid (e.g. train_only heads): no game to play
            return self.heads_step(batch, heads)
        scalars = {}
        loss = 0.0
        if config.adversarial_weight:  # weight 0 (e.g. the encoder alone, a regressor's step): no critic runs
            adversarial, critic_scalars = self.critic_step(fake, voxels, features, step, noise, draws)
            scalars.update(critic_scalars)
            loss = config.adversarial_weight * adversarial
        reconstruction = reconstruction_loss(logits, targets, config)
        auxiliary = head_losses(heads, batch, config)
        loss = loss + reconstruction + sum(auxiliary.values())
        if mode_logits is not None:
            mode_reconstruction = reconstruction_loss(mode_logits, voxels, config)
            loss = loss + config.mode_weight * mode_reconstruction
            scalars["loss_mode_reconstruction"] = mode_reconstruction
        if config.adversarial_weight and step % config.log_every == 0:  # how much of the push on the output is adversarial
            (g_adv,) = torch.autograd.grad(config.adversarial_weight * adversarial, logits, retain_graph=True)
            (g_rec,) = torch.autograd.grad(reconstruction, logits, retain_graph=True)
            adv_norm, rec_norm = g_adv.norm(), g_rec.norm()
            scalars["adversarial_share"] = adv_norm / (adv_norm + rec_norm + 1e-12)
        scalars.update({"loss_reconstruction": reconstruction, **auxiliary})
        if draws == 2:
            change = (fake[:size] - fake[size:]).abs().flatten(1).mean(1)
            spread = (z[:size] - z[size:]).abs().mean(1)
            diversity = torch.clamp(change / spread, max=config.diversity_cap).mean()
            loss = loss - config.diversity_weight * diversity
            scalars["output_change_per_z"] = diversity
        self.optimizers["generator"].zero_grad(set_to_none=True)
        loss.backward()
        clip_and_step(self.optimizers["generator"], config)
        scalars["loss_generator"] = loss
        scalars.update(head_accuracy(heads, batch))
        return {key: value.detach() for key, value in scalars.items()}

    def critic_step(self, fake: Tensor, voxels: Tensor, features: Tensor, step: int, noise: torch.Generator,
                    draws: int) -> tuple[Tensor, dict[str, Tensor]]:
        """One discriminator update on real and generated grids; returns the generator's adversarial
        term (through the frozen discriminator) and the critic's scalars."""
        config = self.config
        condition = features.detach().float()
        sigma = self.noise_level(step)

        def blurred(grids: Tensor) -> Tensor:
            if not sigma:
                return grids
            # from `noise` (checkpointed, per rank), so a resumed run draws what an uninterrupted one would
            return grids + sigma * torch.randn(grids.shape, generator=noise, device=noise.device).to(grids.device)

        real = blurred(voxels)
        penalise = config.r1_weight > 0 and config.r1_every > 0 and step % config.r1_every == 0
        real.requires_grad_(penalise)
        with self.autocast():
            real_scores = self.parallel_discriminator(real, condition).float()
            fake_scores = self.parallel_discriminator(blurred(fake.detach()), condition.repeat(draws, 1)).float()
        d_real, d_fake = F.relu(1 - real_scores).mean(), F.relu(1 + fake_scores).mean()
        d_loss = d_real + d_fake
        scalars = {"loss_d_real": d_real, "loss_d_fake": d_fake,
                   "d_accuracy_real": (real_scores > 0).float().mean(),
                   "d_accuracy_fake": (fake_scores < 0).float().mean(), "instance_noise": torch.tensor(sigma)}
        if penalise:
            (gradient,) = torch.autograd.grad(real_scores.sum(), real, create_graph=True)
            r1 = gradient.square().flatten(1).sum(1).mean()
            d_loss = d_loss + config.r1_weight / 2 * config.r1_every * r1  # lazy: scaled by its interval
            scalars["r1_penalty"] = r1
        self.optimizers["discriminator"].zero_grad(set_to_none=True)
        d_loss.backward()
        clip_and_step(self.optimizers["discriminator"], config)

        # through the raw discriminator: its parameters get no gradient here, so DDP's hooks stay quiet
        with frozen(self.discriminator), self.autocast():
            adversarial = -self.discriminator(blurred(fake), condition.repeat(draws, 1)).float().mean()
        scalars["loss_adversarial"] = adversarial
        return adversarial, scalars

    def heads_step(self, batch: dict[str, Tensor], heads: dict[str, Tensor]) -> dict[str, Tensor]:
        """The generator's update when only the object heads train: their losses alone."""
        auxiliary = head_losses(heads, batch, self.config)
        loss = sum(auxiliary.values())
        self.optimizers["generator"].zero_grad(set_to_none=True)
        loss.backward()
        clip_and_step(self.optimizers["generator"], self.config)
        scalars = {**auxiliary, "loss_generator": loss, **head_accuracy(heads, batch)}
        return {key: value.detach() for key, value in scalars.items()}

    @torch.no_grad()
    def fixed_batch_loss(self, images: Tensor, voxels: Tensor) -> float:
        """Reconstruction loss of the z = 0 prediction (what inference returns) on a given batch."""
        z = torch.zeros(images.shape[0], self.config.latent_dim, device=images.device)
        return float(reconstruction_loss(self.generator(images, z), voxels, self.config))


if __name__ == "__main__":
    main(CGANTask, "cgan")
