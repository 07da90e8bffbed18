"""Every option of every config group composes and instantiates; bad configs fail with one clear line."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hydra.errors import ConfigCompositionException, MissingConfigException
from hydra.utils import instantiate
from omegaconf.errors import ConfigAttributeError

from ganlab.assembly import build_callbacks, build_module
from ganlab.config import CONFIG_DIR, ConfigError, validate

CONF = Path(CONFIG_DIR)
# every folder of conf/ is a group of ganlab-train, except Hydra's own settings and ganlab-eval's
GROUPS = sorted(p.name for p in CONF.iterdir() if p.is_dir() and p.name not in {"hydra", "eval", "sweep"})
APPENDED = {"regularizers", "g_terms"}  # groups without a default entry: selected with +group=option
OPTIONS = [(g, f.stem) for g in GROUPS for f in sorted((CONF / g).glob("*.yaml"))]
# options that need files from outside the package (downloaded datasets, Inception/DINOv2/CLIP weights)
NEEDS_FILES = {("dataset", "cifar10"), ("dataset", "folder"), ("metrics", "fd_dinov2"), ("metrics", "cmmd_clip")} | {
    ("experiment", f.stem) for f in (CONF / "experiment").glob("*_cifar10.yaml")}


def _pairs(group: str, option: str) -> list[str]:
    """Overrides making a group option compose with a matching rest (e.g. DCGAN G with DCGAN D)."""
    extra = {("generator", "dcgan"): ["discriminator=dcgan"], ("discriminator", "dcgan"): ["generator=dcgan"],
             ("dataset", "folder"): ["dataset.source.path=/nonexistent"],
             ("dataset", "ring"): ["metrics=none", "generator.out_activation=none"],
             ("dataset", "grid"): ["metrics=none", "generator.out_activation=none"],
             ("metrics", "modes"): ["dataset=ring", "generator.out_activation=none"],
             # the R3GAN defaults are the paper's 20M-parameter CIFAR-10 nets: narrower ones for the test
             ("generator", "r3gan"): ["generator.widths=[16,16,16,16]"],
             ("discriminator", "r3gan"): ["discriminator.widths=[16,16,16,16]"],
             ("experiment", "r3gan_cifar10"): ["generator.widths=[16,16,16,16]"],
             # R3GAN's ramps schedule gamma of r1 and r2 and ADA's p (with its feedback off)
             ("schedules", "r3gan"): ["+regularizers=[r1,r2]", "augment=ada", "augment.ada.target=null"]}
    plus = "+" if group in APPENDED else ""
    return [f"{plus}{group}={option}", *extra.get((group, option), [])]


def test_groups_found():
    found = {g for g, _ in OPTIONS}
    assert found == set(GROUPS), f"missing config groups: {set(GROUPS) - found}"
    assert {"model", "game", "regularizers", "g_terms", "dataset"} <= found and len(OPTIONS) >= 25


@pytest.mark.parametrize(("group", "option"), OPTIONS, ids=[f"{g}={o}" for g, o in OPTIONS])
def test_option_composes_and_instantiates(compose_cfg, group, option):
    cfg = compose_cfg(*_pairs(group, option))
    validate(cfg)
    model = build_module(cfg)
    n = 2 * cfg.get("pack", 1)  # PacGAN: one logit per pack of m samples
    z = torch.randn(n, model.z_dim)
    y = torch.arange(n) if model.num_classes else None
    fake = model.generator.eval()(z, y)
    logits = model.discriminator.eval()(fake, y)
    assert logits.shape == (2,)
    res = cfg.dataset.resolution
    assert fake.shape[1:] == ((cfg.dataset.channels,) if res is None else (cfg.dataset.channels, res, res))
    instantiate(cfg.datamodule)  # lazy: reads no data yet
    no_gpu = {"accelerator": "cpu"} if (group, option) == ("trainer", "gpu") and not torch.cuda.is_available() else {}
    instantiate(cfg.trainer, logger=False, enable_progress_bar=False, **no_gpu)
    if (group, option) in NEEDS_FILES:
        # offline, a pretrained feature extractor must fail with a message naming the config key
        key = r"paths\.(inception|dinov2_vitl14|clip_vitl14_336)_weights|feature.weights"
        with pytest.raises(ConfigError, match=key):
            build_callbacks(cfg)
    else:
        callbacks = build_callbacks(cfg)
        assert callbacks


def test_unknown_key_is_hydras_error(compose_cfg):
    with pytest.raises(ConfigCompositionException, match="lrr"):
        compose_cfg("optim.d.lrr=0.1")


def test_unknown_group_option_lists_valid_ones(compose_cfg):
    with pytest.raises(MissingConfigException, match="hinge") as e:
        compose_cfg("loss=hingee")
    assert "nonsaturating" in str(e.value)  # the error lists the available options


@pytest.mark.parametrize(
    ("override", "keys"),
    [
        ("generator.resolution=64", ["generator.resolution=64", "dataset.resolution=32"]),
        ("discriminator.channels=3", ["discriminator.channels=3", "dataset.channels=1"]),
        ("datamodule.batches_per_step=2", ["batches_per_step=2", "game.n_critic=1"]),
        ("+optim.n_critic=5", ["optim.n_critic is now game.n_critic", "use game.n_critic=5"]),
    ],
)
def test_mismatch_is_one_line_naming_keys(compose_cfg, override, keys):
    cfg = compose_cfg(override)
    with pytest.raises(ConfigError) as e:
        validate(cfg)
    message = str(e.value)
    assert "\n" not in message
    for key in keys:
        assert key in message


def test_n_critic_is_the_games_and_the_old_key_is_refused_in_one_line(compose_cfg):
    from ganlab.config import check_overrides

    with pytest.raises(ConfigError, match=r"^model.game: game.n_critic=0; valid: an integer >= 1$"):
        build_module(compose_cfg("game.n_critic=0"))
    for override in ("optim.n_critic=5", "+optim.n_critic=5", "optim.n_gen=2"):
        with pytest.raises(ConfigError) as e:
            check_overrides(["seed=1", override])
        key = override.lstrip("+").split("=")[0]
        assert str(e.value) == (f"{key} is now game.{key[6:]} (the game owns its schedule, conf/game/); "
                                f"use game.{key[6:]}={override.split('=')[1]}")
    check_overrides(["game.n_critic=5", "optim.d.lr=1e-4"])  # today's keys pass


def test_bad_dcgan_resolution_is_one_line(compose_cfg):
    cfg = compose_cfg("generator=dcgan", "discriminator=dcgan", "dataset.resolution=28")
    validate(cfg)  # consistent, but not a power of two
    with pytest.raises(ConfigError, match=r"^model.generator: generator.resolution=28: DCGAN needs a power of two"):
        build_module(cfg)


def test_toy_data_without_metrics_is_refused(compose_cfg):
    with pytest.raises(ConfigError, match=r"^dataset 'ring' has no feature extractor .*metrics.callbacks.evaluation"
                                          r".metrics.features; use metrics=none"):
        validate(compose_cfg("dataset=ring"))
    # and the metric object itself refuses it when built, before training starts
    with pytest.raises(ConfigError, match=r"^metrics.callbacks.evaluation.metrics.features: feature=None: "
                                          r".*feature=null.*use metrics=none"):
        build_callbacks(compose_cfg("dataset=ring"))


def test_interpolation_carries_dataset_shape(compose_cfg):
    cfg = compose_cfg("dataset.resolution=64", "dataset.channels=3", "generator=dcgan", "discriminator=dcgan")
    assert (cfg.generator.resolution, cfg.generator.channels) == (64, 3)
    assert (cfg.discriminator.resolution, cfg.discriminator.channels) == (64, 3)
    assert cfg.datamodule.batches_per_step == cfg.game.n_critic


def test_wgan_gp_adds_penalty_and_the_game_sets_n_critic(compose_cfg):
    cfg = compose_cfg("loss=wgan_gp", "optim=rmsprop", "game.n_critic=5")
    model = build_module(cfg)
    assert type(model.loss).__name__ == "Wasserstein"
    assert list(model.regularizers) == ["gp"] and model.regularizers["gp"].weight == 10.0
    assert model.game.n_critic == 5 and cfg.datamodule.batches_per_step == 5
    assert compose_cfg("optim=rmsprop").game.n_critic == 1  # the optimizer group no longer owns it
    for preset in ("wgan_mnist5k", "wgan_gp_mnist5k", "sngan_mnist5k"):  # presets still set it, on the game
        cfg = compose_cfg(f"experiment={preset}")
        assert cfg.game.n_critic == 5 and cfg.datamodule.batches_per_step == 5 and "n_critic" not in cfg.optim
    # the default loss has no regularizer left over
    assert compose_cfg().regularizers == {}


def test_experiment_preset_is_a_delta(compose_cfg):
    cfg = compose_cfg("experiment=dcgan_mnist5k")
    assert cfg.generator._target_.endswith("DCGANGenerator")
    assert cfg.dataset.name == "mnist5k"  # untouched keys keep their defaults


def test_missing_key_access_is_attribute_error(compose_cfg):
    cfg = compose_cfg()
    with pytest.raises(ConfigAttributeError):
        _ = cfg.optim.nope


def test_integer_betas_from_the_command_line_become_floats(compose_cfg):
    model = build_module(compose_cfg("optim.beta1=0", "optim.beta2=0.9"))
    opt = model.d_optimizer(model.discriminator.parameters())  # Adam rejects mixed int/float betas
    assert opt.defaults["betas"] == (0.0, 0.9) and isinstance(opt.defaults["betas"][0], float)


@pytest.mark.parametrize(("overrides", "message"), [
    (["seed=abc"], "seed=abc; valid: an integer in [0, 4294967295]"),
    (["seed=-1"], "seed=-1; valid: an integer in [0, 4294967295]"),
    (["seed=4294967296"], "seed=4294967296; valid: an integer in [0, 4294967295]"),
    (["metrics.num_samples=1"], "metrics.num_samples=1; valid: an integer >= 2"),
    (["trainer=ddp", "trainer.devices=5", "metrics.num_samples=4", "metrics.batch_size=4"],
     "metrics.num_samples=4 for 5 processes; valid: num_samples >= 5"),
    (["pack=2", "discriminator.channels=1"], "discriminator.channels=1 does not match dataset.channels=1 x pack=2"),
])
def test_settings_that_would_fail_after_training_started_are_refused_first(compose_cfg, overrides, message):
    with pytest.raises(ConfigError) as e:
        validate(compose_cfg(*overrides))
    assert str(e.value).startswith(message) and "\n" not in str(e.value)


def test_ddp_evaluation_that_splits_over_the_ranks_is_accepted(compose_cfg):
    validate(compose_cfg("trainer=ddp", "trainer.devices=2", "metrics.num_samples=1000"))  # two batches of 500
    validate(compose_cfg("trainer=ddp", "trainer.devices=8"))  # 2,000 in batches of 500: smaller per-rank batches


@pytest.mark.parametrize(("n", "batch", "world"), [(2000, 500, 5), (2000, 500, 8), (2000, 500, 3), (9, 4, 4),
                                                   (7, 100, 7), (2000, 500, 1)])
def test_evaluation_batches_cover_every_sample_once_and_every_rank(n, batch, world):
    from ganlab.data.datamodule import IndexBatches

    shares = [IndexBatches(n, batch, r, world) for r in range(world)]
    assert all(len(s) >= 1 for s in shares)  # no rank idles (it would wait at the gather forever)
    seen = torch.cat([b for s in shares for b in s]).sort().values
    assert torch.equal(seen, torch.arange(n))
    assert max(b.numel() for s in shares for b in s) <= batch


def test_simultaneous_game_refuses_several_updates_per_step(compose_cfg):
    with pytest.raises(ConfigError, match=r"^model.game: game=simultaneous with game.n_critic=2, game.n_gen=1"):
        build_module(compose_cfg("game=simultaneous", "game.n_critic=2"))
