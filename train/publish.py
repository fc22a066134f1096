"""Publish a trained model folder to the Hugging Face Hub with its model card.

    python -m train.publish --repo ORG/NAME --weights DIR [--eval DIR] [--credits FILE] [--dry-run]
    python -m train.publish --repo ORG/NAME --weights DIR --local recon/weights/vae   # embed instead

--local writes the same card and files into a local folder (the app's embedded defaults) instead
of uploading them.

The card (README.md) is built from the folder: config.json, train_config.json,
training_summary.json, curve.png, and the evaluation table (results.md from --eval or from the
folder). Only the files in UPLOAD_FILES that exist are uploaded: the resumable checkpoint
(optimizer state, discriminator) and the TensorBoard logs stay local. --dry-run lists exactly
those files with their sizes and writes or sends nothing.
"""

import argparse
import json
import shutil
import sys
from pathlib import Path

REQUIRED_FILES = ("config.json", "model.safetensors")
UPLOAD_FILES = ("README.md", "config.json", "model.safetensors", "train_config.json", "training_summary.json",
                "metrics.jsonl", "curve.png", "results.json", "results.md", "CREDITS.md")
MODEL_TITLES = {"cgan": "conditional GAN", "vae": "variational autoencoder"}
LIMITATIONS = """\
- Trained on furniture of seven categories (bed, bookcase, chair, desk, sofa, table, wardrobe);
  other objects give a shape of the nearest furniture kind.
- One object per photo; in a cluttered room the mask head may pick or cut the wrong piece (a box
  drawn by the user then drives the crop).
- Output is a coarse 32^3 occupancy grid in a canonical frame (upright, front-facing, longest side
  spanning the cube); the size comes from a per-category table, not from the photo.
- Trained on CPU in stages over several sessions, a few hours in all (see how it was trained):
  far from converged. The evaluation is on a whole furniture
  library (Sweet Home 3D's KatorLegaz, 14 pieces in 5 categories) and on real photographs that
  training never saw; real photos of unusual designs can still score lower."""


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {}


def model_card(folder: Path, repo: str, evaluation: str | None = None, credits: str | None = None,
               license: str | None = None, notes: str | None = None) -> str:
    """The README.md text for the model in `folder` (a Hub-style folder written by the trainer)."""
    config = _read_json(folder / "config.json")
    training = _read_json(folder / "train_config.json")
    summary = _read_json(folder / "training_summary.json")
    kind = training.get("model") or (folder.name if folder.name in MODEL_TITLES else "cgan")
    front = ["---", "library_name: recon3d", "pipeline_tag: image-to-3d",
             f"tags: [recon3d, {kind}, voxels, 3d-reconstruction, furniture]"]
    if license:
        front.append(f"license: {license}")
    front.append("---")
    lines = front + [
        "", f"# Recon3D {MODEL_TITLES.get(kind, kind)}", "",
        "Single photo of a piece of furniture -> 3D occupancy grid: float32 probabilities of shape "
        f"({config.get('resolution', 'D')},) * 3, axes and canonical frame as documented in `recon/voxels.py`.",
        "", "```python", "from recon.hub import load_model", "",
        f'model = load_model("{kind}", "{repo}")', "probabilities = model.reconstruct(images)  "
        "# images (B, 3, S, S) in [-1, 1] from recon.images.prepare_image", "```", "",
        "## Model", "", "| setting | value |", "|---|---|",
        *[f"| {key} | {value} |" for key, value in config.items()], "",
    ]
    if training:
        data = ", ".join(Path(root).name for root in training.get("data", [])) or "-"
        lines += ["## Training", "",
                  f"Data roots: {data}. {summary.get('steps', training.get('steps'))} steps at batch "
                  f"{training.get('batch_size')}"
                  f" x {summary.get('world_size', 1)} process(es), Adam lr {training.get('lr')}, betas "
                  f"{training.get('betas')}, seed {training.get('seed')}."]
        if summary.get("images_per_s"):
            lines.append(f"Throughput: {summary['images_per_s']:.0f} images/s on {summary.get('device')}"
                         f" ({summary.get('seconds_this_run', 0) / 60:.1f} min for the last run).")
        lines += ["All settings: `train_config.json`; scalars per step: `metrics.jsonl`.", ""]
    if notes:
        lines += [notes.strip(), ""]
    if (folder / "curve.png").exists():
        lines += ["![training curves](curve.png)", ""]
    if evaluation:
        lines += ["## Evaluation", "", evaluation.strip(), ""]
    if credits:
        lines += ["## Training data credits", "", credits.strip(), ""]
    lines += ["## Limitations", "", LIMITATIONS, ""]
    return "\n".join(lines)


def upload_list(folder: Path) -> list[Path]:
    """The files of `folder` that would be uploaded; raises FileNotFoundError if a required one is missing."""
    missing = [name for name in REQUIRED_FILES if not (folder / name).is_file()]
    if missing:
        raise FileNotFoundError(f"{folder} lacks {', '.join(missing)}: is it a trained model folder?")
    return [folder / name for name in UPLOAD_FILES if (folder / name).is_file() or name == "README.md"]


def publish(repo: str, folder: Path, card: str, private: bool = False) -> str:
    """Write README.md into `folder`, create `repo` if needed and upload the listed files; returns the commit URL."""
    from huggingface_hub import HfApi

    (folder / "README.md").write_text(card)
    api = HfApi()
    api.create_repo(repo, repo_type="model", private=private, exist_ok=True)
    names = [path.name for path in upload_list(folder)]
    commit = api.upload_folder(folder_path=str(folder), repo_id=repo, repo_type="model", allow_patterns=names,
                               commit_message="Upload Recon3D weights and model card")
    return str(commit)


def copy_local(folder: Path, destination: Path, card: str, extra: list[Path] = ()) -> list[Path]:
    """Write the card and copy the upload list (plus `extra` files, e.g. results.md) into `destination`."""
    destination.mkdir(parents=True, exist_ok=True)
    (destination / "README.md").write_text(card)
    written = [destination / "README.md"]
    for path in [p for p in upload_list(folder) if p.name != "README.md"] + list(extra):
        shutil.copyfile(path, destination / path.name)
        written.append(destination / path.name)
    return written


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Push a trained Recon3D model folder and its card to the Hub.")
    parser.add_argument("--repo", required=True, help="ORG/NAME on the Hub")
    parser.add_argument("--weights", required=True, type=Path, help="folder written by train.cgan / train.vae")
    parser.add_argument("--eval", type=Path, help="folder with results.md from train.evaluate")
    parser.add_argument("--credits", type=Path, help="Markdown file crediting the training data")
    parser.add_argument("--license", help="licence id for the card's metadata, e.g. cc-by-4.0")
    parser.add_argument("--notes", type=Path, help="Markdown file added to the card after the training section")
    parser.add_argument("--private", action="store_true")
    parser.add_argument("--dry-run", action="store_true", help="list what would be uploaded; no writes, no network")
    parser.add_argument("--local", type=Path, help="write card and files into this folder instead of uploading")
    args = parser.parse_args(argv)

    folder = args.weights
    evaluation_file = (args.eval or folder) / "results.md"
    credits_file = args.credits or folder / "CREDITS.md"
    card = model_card(folder, args.repo,
                      evaluation_file.read_text() if evaluation_file.exists() else None,
                      credits_file.read_text() if credits_file.exists() else None, args.license,
                      args.notes.read_text() if args.notes else None)
    try:
        files = upload_list(folder)
    except FileNotFoundError as error:
        raise SystemExit(f"error: {error}") from None
    if args.dry_run:
        sys.stdout.write(f"dry run: would upload to https://huggingface.co/{args.repo}\n")
        for path in files:
            size = len(card.encode()) if path.name == "README.md" else path.stat().st_size
            note = "  (model card, generated)" if path.name == "README.md" else ""
            sys.stdout.write(f"{path.name}\t{size}{note}\n")
        return
    if args.local:
        extra = [path for path in (evaluation_file, credits_file) if path.is_file()]
        for path in copy_local(folder, args.local, card, extra):
            sys.stdout.write(f"{path}\n")
        return
    sys.stdout.write(publish(args.repo, folder, card, args.private) + "\n")


if __name__ == "__main__":
    main()
