"""Evaluation next to the baselines (train/evaluate.py, train/baselines.py) on tiny real data: cutout
renders of procedural furniture, generated backgrounds and untrained tiny models."""

import json

import numpy as np
import pytest
import scipy.ndimage
import torch
from PIL import Image

from recon.hub import save_weights
from recon.models.cgan import CGANGenerator
from recon.models.vae import VoxelVAE
from train.baselines import SilhouetteRetrieval, fit_category_means, fit_mean_shape, pool_mask
from train.evaluate import BASELINES, CONDITIONS, evaluate, main, markdown_table, pool_to_32
from train.evaluate import test_photos as composite_photos  # (a name pytest would collect)

SIZES = dict(image_size=32, resolution=32, latent_dim=8, feature_dim=16, base_channels=4, decoder_channels=4)
CATEGORIES = ("chair", "table")


def box(side: int, lo: int, hi: int) -> np.ndarray:
    grid = np.zeros((side,) * 3, np.float32)
    grid[lo:hi, lo:hi, lo:hi] = 1
    return grid


def test_mean_shape_threshold_is_chosen_on_the_training_grids():
    # two small boxes and one large: the mean is 1 in the small box, 1/3 in the shell around it
    grids = np.stack([box(32, 12, 20), box(32, 12, 20), box(32, 4, 28)])
    mean = fit_mean_shape(grids)
    assert np.array_equal(mean.grid, grids[0] >= 0.5)  # keeping the shell would cost the two small ones more
    assert mean.level > 1 / 3 and mean.training_iou > 0.67
    per_category = fit_category_means(grids, ["chair", "chair", "bed"])
    assert np.array_equal(per_category["bed"].grid, grids[2] >= 0.5)
    assert per_category["bed"].training_iou == 1.0


def test_silhouette_retrieval_returns_the_shape_of_the_best_matching_mask():
    masks = np.zeros((3, 64, 64), bool)
    masks[0, 10:50, 10:20] = True  # tall thin
    masks[1, 30:40, 5:60] = True  # wide flat
    masks[2, 10:50, 10:50] = True  # square
    grids = np.stack([box(32, 0, 4), box(32, 4, 8), box(32, 8, 12)])
    retrieval = SilhouetteRetrieval(masks, grids)
    query = np.zeros((128, 128), bool)
    query[62:82, 12:118] = True  # wide flat, at another image size
    assert retrieval.nearest(query) == 1
    assert np.array_equal(retrieval.predict(query), grids[1])
    assert pool_mask(query).shape == (32, 32)


def test_64_predictions_are_any_pooled_to_32():
    grid = torch.zeros(1, 64, 64, 64)
    grid[0, 5, 9, 63] = 0.7  # one thin voxel survives pooling
    pooled = pool_to_32(grid)
    assert pooled.shape == (1, 32, 32, 32) and pooled[0, 2, 4, 31] == 0.7 and pooled.sum() == 0.7


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    """Two roots of cutout renders (chairs and tables, 3 models each, 3 views) from different seeds,
    a background folder of generated pictures in synthetic/, and two tiny untrained models saved
    as the app loads them: {"train", "test", "backgrounds", "models": {name: (kind, folder)}}."""
    from train.data.generate import generate_dataset

    folder = tmp_path_factory.mktemp("evaluation")
    roots = {}
    for name, seed in (("train", 0), ("test", 1)):
        roots[name] = folder / name
        generate_dataset(roots[name], per_category=3, views=3, seed=seed, resolution=64, categories=CATEGORIES,
                         cutout=True)
    rng = np.random.default_rng(0)
    (folder / "backgrounds" / "synthetic").mkdir(parents=True)
    noise = rng.integers(0, 256, (96, 128, 3), dtype=np.uint8)
    gradient = np.broadcast_to(np.linspace(40, 220, 128, dtype=np.uint8)[None, :, None], (96, 128, 3))
    Image.fromarray(noise).save(folder / "backgrounds" / "synthetic" / "noise.jpg")
    Image.fromarray(np.ascontiguousarray(gradient)).save(folder / "backgrounds" / "synthetic" / "gradient.jpg")
    torch.manual_seed(0)
    models = {}
    for name, kind, model in (("cGAN", "cgan", CGANGenerator(**SIZES)), ("VAE", "vae", VoxelVAE(**SIZES))):
        models[name] = (kind, str(save_weights(model.eval(), folder / kind)))
    return {"train": [str(roots["train"])], "test": [str(roots["test"])],
            "backgrounds": str(folder / "backgrounds"), "models": models}


def test_test_photos_are_seeded_composites_with_their_visible_mask(library):
    from train.data.photo_backgrounds import BackgroundBank

    banks = {"photo": BackgroundBank(library["backgrounds"], ("synthetic",))}
    white = composite_photos(library["test"], "white", banks)
    assert len(white) == 2 * 3 * 3
    again = composite_photos(library["test"], "white", banks)
    assert all(np.array_equal(np.asarray(a.photo), np.asarray(b.photo)) for a, b in zip(white, again))
    real = composite_photos(library["test"], "real", banks)
    for photo in white + real:
        assert photo.mask.shape == (64, 64) and photo.mask.any() and photo.truth.shape == (32, 32, 32)
        assert photo.category in CATEGORIES and 0 <= photo.azimuth < 360
    # white: outside the object the photo stays white; real: the generated pictures show through
    for photo in white[:6]:
        # past the anti-aliased edge (thin legs shrunk below a pixel stay faint grey lines, off the mask)
        around = scipy.ndimage.binary_dilation(photo.mask, iterations=2)
        assert np.mean(np.asarray(photo.photo)[~around].min(axis=1) >= 245) > 0.98
    assert np.asarray(real[0].photo)[~real[0].mask].std() > 10


@pytest.fixture(scope="module")
def evaluated(library):
    """Both tiny models and the baselines on the first 4 test photos under both conditions."""
    return evaluate(library["models"], library["train"], library["test"], library["backgrounds"],
                    max_images=4, device="cpu")


def test_evaluate_scores_models_and_baselines_under_both_conditions(evaluated):
    results = evaluated
    assert set(results["conditions"]) == set(CONDITIONS) == {"white", "real"}
    for table in results["conditions"].values():
        assert set(table) == {*BASELINES, "cGAN", "VAE"}
        for method in table.values():
            assert method["count"] == 4
            for name in ("iou", "f1", "f2"):
                assert 0 <= method["mean_over_images"][name] <= 1
        for name in ("cGAN", "VAE"):
            model = table[name]
            assert 0 <= model["mask_iou"] <= 1 and 0 <= model["category_accuracy"] <= 1
            assert 0 <= model["crispness"] <= 1 and np.isfinite(model["fvd"]) and model["fvd"] >= 0
            assert np.isfinite(model["fvd_samples"]) and model["fvd_samples"] >= 0
            assert len(model["fvd_samples_draws"]) == len(model["fvd_draws"])
            assert 0 <= model["azimuth_error_median"] <= 180
        assert table["VAE"]["latent_dim"] == 8 and "active_latent_units" in table["VAE"]
    assert set(results["generators"]) == {"VAE"} and results["generators"]["VAE"]["fvd"] >= 0
    assert results["protocol"]["baselines"]["training models"] == 6
    markdown = markdown_table(results)
    for text in ("**white background** (4 photos)", "**real background**", "| silhouette retrieval |",
                 "| per-category mean shape |", "| cGAN |", "| VAE |", "synthetic", "VAE as a generator"):
        assert text in markdown, text


def test_silhouette_retrieval_finds_the_same_views_when_they_were_in_training(library):
    results = evaluate({}, library["train"], library["train"], library["backgrounds"], conditions=("white",),
                       max_images=8)
    table = results["conditions"]["white"]
    assert table["silhouette retrieval"]["count"] == 8
    retrieval = table["silhouette retrieval"]["mean_over_images"]["iou"]
    assert retrieval > 0.9 and retrieval > table["global mean shape"]["mean_over_images"]["iou"]


def test_command_line_writes_results_of_named_models(library, tmp_path, capsys):
    (kind, weights) = library["models"]["VAE"]
    out = tmp_path / "eval"
    main(["--train-data", library["train"][0], "--test-data", library["test"][0], "--backgrounds-eval",
          library["backgrounds"], "--model", f"tiny VAE={kind}:{weights}", "--out", str(out), "--conditions",
          "white", "--max-images", "2", "--device", "cpu"])
    results = json.loads((out / "results.json").read_text())
    assert set(results["conditions"]) == {"white"} and "tiny VAE" in results["conditions"]["white"]
    assert (out / "results.md").read_text() == markdown_table(results)
    assert "| tiny VAE |" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["--train-data", "a", "--test-data", "b", "--backgrounds-eval", "c", "--model", "x=gan:y",
              "--out", str(out)])


def test_results_of_one_process_per_model_merge_per_condition(tmp_path):
    from train.evaluate import merge_results

    def part(name, model, value):
        folder = tmp_path / name
        folder.mkdir()
        results = {"protocol": {"every": 1}, "conditions": {
            "white": {"silhouette retrieval": {"x": 1}, model: {"x": value}},
            "real": {"silhouette retrieval": {"x": 2}, model: {"x": value + 1}}},
            "generators": {model: {"fvd": value}} if model == "VAE" else {}}
        (folder / "results.json").write_text(json.dumps(results))
        return str(folder)

    merged = merge_results([part("a", "cGAN", 10), part("b", "VAE", 20)])
    assert set(merged["conditions"]["white"]) == {"silhouette retrieval", "cGAN", "VAE"}
    assert merged["conditions"]["real"]["cGAN"] == {"x": 11} and merged["conditions"]["real"]["VAE"] == {"x": 21}
    assert merged["generators"] == {"VAE": {"fvd": 20}}


def test_by_default_the_models_find_the_object_together(evaluated):
    """--crop joint (the default) without --finder: one mask per photo from both heads, so both
    models score the same mask IoU, and the protocol says so."""
    assert evaluated["protocol"]["crop"] == "joint" and "together" in evaluated["protocol"]["pipeline"]
    for table in evaluated["conditions"].values():
        assert table["cGAN"]["mask_iou"] == table["VAE"]["mask_iou"]


def test_the_joint_finders_doubt_is_kept_per_photo_and_splits_the_figures(evaluated):
    """The joint run keeps each photo's rival share (the app's hint to click) and each model's
    per-photo mask IoU; doubt_split sets the flagged photos against the rest."""
    from train.evaluate import doubt_split

    for condition, table in evaluated["conditions"].items():
        rivals = evaluated["photos"][condition]["rival"]
        assert len(rivals) == table["cGAN"]["count"] and all(0 <= r <= 1 for r in rivals)
        assert np.mean(table["VAE"]["photo_mask_iou"]) == pytest.approx(table["VAE"]["mask_iou"])
    results = {"photos": {"real": {"rival": [0.9, 0.0, 0.5, 0.1]}},
               "conditions": {"real": {"retrieval": {"photo_iou": [0.2, 0.4, 0.4, 0.6]},
                                       "M": {"photo_iou": [0.1, 0.5, 0.3, 0.7], "photo_mask_iou": [0.2, 0.9, 0.4, 1.0]}}}}
    split = doubt_split(results, "real")
    assert split["flagged"] == 2 and split["photos"] == 4
    assert split["mask_iou"]["M"] == pytest.approx((0.3, 0.95)) and split["iou"]["retrieval"] == pytest.approx((0.3, 0.5))
    results["photos"]["real"]["rival"] = [0.0] * 4
    assert doubt_split(results, "real") == {}
    assert doubt_split({"photos": {"real": {}}, "conditions": {}}, "real") == {}


def test_one_model_alone_finds_the_object_with_its_own_head(library):
    """--crop joint (the default) with a single model is its own head, never the true mask."""
    alone = {"VAE": library["models"]["VAE"]}
    runs = {crop: evaluate(alone, library["train"], library["test"], library["backgrounds"], conditions=("real",),
                           max_images=2, device="cpu", crop=crop)["conditions"]["real"]["VAE"]["mask_iou"]
            for crop in ("joint", "head", "true")}
    assert runs["joint"] == runs["head"] < runs["true"] == 1.0, runs


def test_a_named_finder_finds_the_object_for_every_model(library):
    """--finder VAE (the app's way): the VAE's head alone finds the object and both models are
    cropped by it, so both score the VAE's own-head mask IoU; a finder that is no model is refused."""
    both = evaluate(library["models"], library["train"], library["test"], library["backgrounds"],
                    conditions=("real",), max_images=3, device="cpu", finders=("VAE",))
    alone = evaluate({"VAE": library["models"]["VAE"]}, library["train"], library["test"], library["backgrounds"],
                     conditions=("real",), max_images=3, device="cpu", crop="head")
    table = both["conditions"]["real"]
    assert table["cGAN"]["photo_mask_iou"] == table["VAE"]["photo_mask_iou"] \
        == alone["conditions"]["real"]["VAE"]["photo_mask_iou"]
    together = evaluate(library["models"], library["train"], library["test"], library["backgrounds"],
                        conditions=("real",), max_images=3, device="cpu")
    assert together["conditions"]["real"]["VAE"]["photo_mask_iou"] != table["VAE"]["photo_mask_iou"]
    assert "the mask head of VAE finds the object for every model" in both["protocol"]["pipeline"]
    with pytest.raises(ValueError, match="finder GAN is not among the models"):
        evaluate(library["models"], library["train"], library["test"], library["backgrounds"],
                 conditions=("real",), max_images=1, device="cpu", finders=("GAN",))


def test_a_click_taken_by_both_heads_gives_both_models_one_mask(library):
    """--crop joint-click: the app's click, the models' heads together keeping the piece under it;
    one model alone takes the click with its own head (--crop click)."""
    both = evaluate(library["models"], library["train"], library["test"], library["backgrounds"],
                    conditions=("real",), max_images=2, device="cpu", crop="joint-click")
    table = both["conditions"]["real"]
    assert table["cGAN"]["mask_iou"] == table["VAE"]["mask_iou"]
    assert "click" in both["protocol"]["pipeline"] and "together" in both["protocol"]["pipeline"]
    alone = {"VAE": library["models"]["VAE"]}
    runs = {crop: evaluate(alone, library["train"], library["test"], library["backgrounds"], conditions=("real",),
                           max_images=2, device="cpu", crop=crop)["conditions"]["real"]["VAE"]["mask_iou"]
            for crop in ("joint-click", "click")}
    assert runs["joint-click"] == runs["click"], runs


def test_intervals_of_runs_per_model_merge_into_the_joint_runs(library, tmp_path):
    """A process of its own for one model draws the same resamples of the test pieces, so results
    merged from one process per model give the joint run's intervals, paired FVD difference included
    (each model finding the object with its own head: --crop head; --crop joint needs them together)."""
    import copy

    from train.evaluate import interval_summary, merge_results, write_results

    evaluated = evaluate(library["models"], library["train"], library["test"], library["backgrounds"],
                         conditions=("white",), max_images=4, device="cpu", crop="head")
    alone = evaluate({"cGAN": library["models"]["cGAN"]}, library["train"], library["test"], library["backgrounds"],
                     conditions=("white",), max_images=4, device="cpu", crop="head")
    assert alone["conditions"]["white"]["cGAN"]["fvd_draws"] == evaluated["conditions"]["white"]["cGAN"]["fvd_draws"]
    vae_part = copy.deepcopy(evaluated)
    for table in vae_part["conditions"].values():
        del table["cGAN"]
    write_results(alone, tmp_path / "cgan")
    write_results(vae_part, tmp_path / "vae")
    merged = merge_results([str(tmp_path / "cgan"), str(tmp_path / "vae")])

    summary = interval_summary(evaluated, "white")
    assert summary == interval_summary(merged, "white")
    assert summary["pieces"] == 2 and summary["draws"] == 200
    table = evaluated["conditions"]["white"]
    retrieval = table["silhouette retrieval"]["mean_over_categories"]["iou"]
    for name in ("cGAN", "VAE"):
        value, low, high = summary["ratio"][name]
        assert value == pytest.approx(table[name]["mean_over_categories"]["iou"] / retrieval)
        assert 0 <= low <= high and summary["fvd"][name][1] <= summary["fvd"][name][2]
    difference, low, high = summary["fvd_difference"]["cGAN - VAE"]
    assert difference == pytest.approx(summary["fvd"]["cGAN"][0] - summary["fvd"]["VAE"][0]) and low <= high
    difference, low, high = summary["fvd_samples_difference"]["cGAN - VAE"]
    assert difference == pytest.approx(table["cGAN"]["fvd_samples"] - table["VAE"]["fvd_samples"]) and low <= high
    assert "90 % intervals (200 resamples of the 2 test pieces" in markdown_table(merged)
    assert "FVD of samples cGAN" in markdown_table(merged)


def test_photos_record_the_other_furniture_drawn_around_them(library):
    from train.data.photo_backgrounds import BackgroundBank

    banks = {"photo": BackgroundBank(library["backgrounds"], ("synthetic",))}
    assert all(photo.others == 0 for photo in composite_photos(library["test"], "white", banks))
    counts = [photo.others for photo in composite_photos(library["test"], "real", banks)]
    assert set(counts) <= {0, 1, 2} and 0 in counts and max(counts) > 0  # half the photos, one or two pieces


def test_the_split_by_other_furniture_averages_each_side():
    from train.evaluate import markdown_table, others_split

    results = {"protocol": {"test": "t", "pipeline": "p"}, "photos": {
        "real": {"piece": ["a", "b", "c", "d"], "category": ["chair"] * 4, "others": [0, 2, 1, 0]},
        "white": {"piece": ["a", "b", "c", "d"], "category": ["chair"] * 4, "others": [0, 0, 0, 0]}}}
    method = {"categories": {"chair": {"iou": 0.5, "f1": 0.5, "f2": 0.5, "count": 4}}, "count": 4,
              "mean_over_images": {"iou": 0.5, "f1": 0.5, "f2": 0.5},
              "mean_over_categories": {"iou": 0.5, "f1": 0.5, "f2": 0.5}}
    results["conditions"] = {condition: {"silhouette retrieval": dict(method, photo_iou=[0.6, 0.2, 0.4, 0.8])}
                             for condition in ("real", "white")}
    split = others_split(results, "real")
    assert split["with"] == 2 and split["without"] == 2
    assert split["iou"]["silhouette retrieval"] == pytest.approx((0.3, 0.7))
    assert others_split(results, "white") == {}
    assert "beside the object (2 photos) / without (2), IoU mean over images: silhouette retrieval 0.300 / 0.700" \
        in markdown_table(results)


def test_a_users_box_is_the_objects_extent_with_a_margin_inside_the_photo():
    from train.evaluate import user_box

    mask = np.zeros((50, 80), bool)
    mask[10:30, 20:60] = True  # 40 wide, 20 high
    assert user_box(mask) == (18, 9, 62, 31)
    assert user_box(mask, margin=0.0) == (20, 10, 60, 30)
    edge = np.zeros((50, 80), bool)
    edge[0:50, 70:80] = True
    assert user_box(edge) == (69, 0, 80, 50)  # clipped to the photo


def test_the_box_crop_keeps_the_found_object_inside_the_users_box(library):
    from train.evaluate import _object_mask, test_photos, user_box
    from train.data.photo_backgrounds import BackgroundBank
    from recon.pipeline import Reconstructor

    banks = {"photo": BackgroundBank(library["backgrounds"], ("synthetic",))}
    reconstructor = Reconstructor(*library["models"]["VAE"], device="cpu")
    for photo in test_photos(library["test"], "real", banks)[:3]:
        x0, y0, x1, y1 = user_box(photo.mask)
        found = _object_mask(reconstructor, photo, "box", user_box(photo.mask))
        outside = np.ones_like(found)
        outside[y0:y1, x0:x1] = False
        assert found.any() and not (found & outside).any()
    results = evaluate({"VAE": library["models"]["VAE"]}, library["train"], library["test"], library["backgrounds"],
                       conditions=("real",), max_images=2, device="cpu", crop="box")
    assert results["protocol"]["crop"] == "box" and 0 < results["conditions"]["real"]["VAE"]["mask_iou"] <= 1


def test_a_users_click_lands_inside_the_thickest_part_of_the_object():
    from train.evaluate import user_click

    mask = np.zeros((50, 80), bool)
    mask[10:40, 10:40] = True  # a 30 x 30 block ...
    mask[20:24, 40:78] = True  # ... with a thin arm to the right
    x, y = user_click(mask)
    assert mask[int(y), int(x)] and 20 <= x <= 30 and 20 <= y <= 30
    edge = np.zeros((50, 80), bool)
    edge[0:10, 0:80] = True  # touching the photo's border: the border counts as the edge
    x, y = user_click(edge)
    assert 4 <= y <= 6


def _banks(library):
    from train.data.photo_backgrounds import BackgroundBank

    return {"photo": BackgroundBank(library["backgrounds"], ("synthetic",))}


def _block(y0, x0, y1, x1, size=100):
    mask = np.zeros((size, size), bool)
    mask[y0:y1, x0:x1] = True
    return mask


def test_a_decoy_is_another_piece_the_centre_prior_would_keep():
    from train.evaluate import decoy_in_view

    centred, corner = _block(35, 35, 65, 65), _block(0, 0, 30, 30)
    assert not decoy_in_view(centred, (corner,))
    assert decoy_in_view(corner, (centred,))  # same size, nearer the centre
    assert not decoy_in_view(corner, ())
    assert not decoy_in_view(_block(30, 10, 70, 50), (_block(45, 52, 55, 62),))  # nearer, but far smaller
    # only the other piece's own pixels count: where it overlaps the object, the object shows
    assert not decoy_in_view(centred, (_block(35, 35, 65, 66),))


def test_decoys_split_the_figures(library):
    from train.evaluate import decoy_split, markdown_table

    results = evaluate(library["models"], library["train"], library["test"], library["backgrounds"],
                       conditions=("real",), max_images=6, device="cpu", crop="head")
    decoys = results["photos"]["real"]["decoy"]
    assert len(decoys) == 6 and all(isinstance(d, bool) for d in decoys)
    photos = composite_photos(library["test"], "real", _banks(library))[:6]
    assert decoys == [p.decoy for p in photos] and not any(p.decoy for p in photos if p.others == 0)
    results["photos"]["real"]["decoy"] = [True, False, False, True, False, False]
    split = decoy_split(results, "real")
    iou = np.array(results["conditions"]["real"]["cGAN"]["photo_iou"])
    assert split["decoys"] == 2 and split["iou"]["cGAN"] == pytest.approx((iou[[0, 3]].mean(), iou[[1, 2, 4, 5]].mean()))
    assert "is a decoy" in markdown_table(results)
