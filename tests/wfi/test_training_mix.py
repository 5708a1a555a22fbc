"""Training under conditions drawn per frame, with the Geant4 run's cosmic rays mixed in: known answers."""

import hashlib
from pathlib import Path

import numpy as np
import pytest
from astropy.table import Table
from click.testing import CliRunner

from crmask.cli import cli
from crmask_wfi.sim.geant4 import GEANT4_PIXELS_FILE, GEANT4_SUBDIR
from crmask_wfi.sim.geant4_frames import SENSOR_ORIGINS, frame_count, geant4_frames
from crmask_wfi.sim.simulate import ELECTRONS_PER_KEV, LABEL_CR, simulate_frames
from crmask_wfi.training import train
from crmask_wfi.training.config import CamRfTrainConfig
from crmask_wfi.training.dataset import build_dataset, conditioned_counts
from crmask_wfi.training.mix import (
    FrameConditions,
    TrainingMix,
    TrainingMixError,
    geant4_primaries,
    summarise_conditions,
)

torch = pytest.importorskip("torch")

from crmask_wfi.camrf.densenet import DenseNetConfig, FrameDenseNet  # noqa: E402

VARIED = FrameConditions(cr_rate=(1.0, 12.0), xray_rate=(1.0, 50.0), readnoise=(5.0, 10.0),
                         diffusion_sigma_um=(4.0, 16.0))
A = SENSOR_ORIGINS[0]


def digest(*arrays) -> str:
    """SHA-256 of arrays, their dtypes included."""
    h = hashlib.sha256()
    for array in arrays:
        array = np.ascontiguousarray(array)
        h.update(array.dtype.str.encode())
        h.update(array.tobytes())
    return h.hexdigest()


def hand_made_run(n_primaries: int = 12) -> Table:
    """One 3-pixel track per primary in sensor A, its energy 10 keV x PRIMID (so its charge names it)."""
    rows = [(p, 0, A[0] + 40 * (p % 10) + dx, A[1] + 30 + 40 * (p // 10), 10.0 * p, 1)
            for p in range(1, n_primaries + 1) for dx in range(3)]
    names = ("PRIMID", "DETID", "ACTX", "ACTY", "ENERGY", "PARTYPE")
    return Table(rows=rows, names=names, dtype=(np.int64, np.int64, np.int64, np.int64, float, np.uint8))


# --- the defaults reproduce the training draws of a run without conditions ------------------------------


#: Digests of the frames of the run of seed 2024 before training conditions existed (commit bfc6595): the
#: DenseNet's first 4 x 6 sub-frames (`train._subframes`), and the events of the first 25 forest frames in
#: chunks of 10 (`train.collect_events`), their columns that do not depend on the network.
SUBFRAMES_DIGEST = "4690ba1f885fe87ab9822bf753be5973846a2962a1e0b666182b34615872fd88"
EVENTS_DIGEST = "13824c5e545fce253f6850d5bbc25787bae7f0541d58c81fd917cc7f5bc522a9"


def events_digest(events: Table) -> str:
    columns = ("FRAME", "X", "Y", "ENERGY", "GRADE", "CLASSIC_FLAG", "IN_BAND")
    return digest(*(np.asarray(events[c]) for c in columns), np.asarray(events["TRUE_CLASS"]).astype("U5"))


@pytest.fixture(scope="module")
def tiny_net():
    torch.manual_seed(0)
    return FrameDenseNet(DenseNetConfig(initial_features=8, growth_rate=4, layers_per_block=(2, 2))).eval()


def test_default_conditions_give_the_sub_frames_of_a_run_without_them():
    config = CamRfTrainConfig(out=Path("o"), work=Path("w"))
    assert config.conditions == FrameConditions() and config.conditions.varied == ()
    mixes = train.training_mixes(config)
    children = np.random.SeedSequence(2024).spawn(10)
    frames, classes = train._subframes(mixes["subframes"], 6, children[0], children[5])
    assert digest(frames, classes) == SUBFRAMES_DIGEST


def test_default_conditions_give_the_forest_frames_of_a_run_without_them(tiny_net):
    mix = train.training_mixes(CamRfTrainConfig(out=Path("o"), work=Path("w")))["forest"]
    plan = mix.plan(25, np.random.default_rng(np.random.SeedSequence(2024).spawn(10)[7]))
    assert set(plan["SOURCE"]) == {"simulator"} and set(plan["CR_RATE"]) == {1.0} and set(plan["READNOISE"]) == {7.0}
    forest_seed = np.random.SeedSequence(2024).spawn(5)[2]
    events = train.collect_events(tiny_net, 25, forest_seed, chunk=10, progress=False, mix=mix, plan=plan)
    assert events_digest(events) == EVENTS_DIGEST
    # and without a mix, as collect_events was called before
    events = train.collect_events(tiny_net, 25, np.random.SeedSequence(2024).spawn(5)[2], chunk=10, progress=False)
    assert events_digest(events) == EVENTS_DIGEST


def test_one_rate_gives_the_draws_of_generator_choice():
    """The conditioned counts of one rate are those of the former ``rng.choice(k, p=pmf)``."""
    present = np.arange(500) % 3 > 0
    rate = 0.7
    k = np.arange(1, 64)
    log_pmf = k * np.log(rate) - rate - np.cumsum(np.log(k))
    pmf = np.exp(log_pmf - log_pmf.max())
    expected = np.zeros(500, dtype=np.int64)
    expected[present] = np.random.default_rng(3).choice(k, size=int(present.sum()), p=pmf / pmf.sum())
    np.testing.assert_array_equal(conditioned_counts(np.random.default_rng(3), rate, present), expected)
    per_entry = conditioned_counts(np.random.default_rng(3), np.full(500, rate), present)
    np.testing.assert_array_equal(per_entry, expected)


def test_per_entry_rates_condition_each_entry():
    rates = np.where(np.arange(20000) % 2 == 0, 1 / 64, 4.0)
    counts = conditioned_counts(np.random.default_rng(0), rates, np.ones(20000, bool))
    assert np.mean(counts[::2] == 2) == pytest.approx(1 / 128, abs=0.003)  # zero-truncated Poisson(1/64)
    assert np.mean(counts[1::2]) == pytest.approx(4 / (1 - np.exp(-4)), rel=0.02)  # its mean, for 4
    with pytest.raises(ValueError, match="positive event rate"):
        conditioned_counts(np.random.default_rng(0), np.array([1.0, 0.0]), np.array([True, True]))


# --- parameters per frame ----------------------------------------------------------------------------------


def test_one_value_per_frame_gives_the_frames_of_that_value():
    kwargs = dict(shape=(128, 128), xray_rate=40.0, cr_rate=6.0, readnoise=7.0, diffusion_sigma_um=8.0)
    one = simulate_frames(5, seed=7, **kwargs)
    each = simulate_frames(5, seed=7, **{name: np.full(5, value) if name != "shape" else value
                                         for name, value in kwargs.items()})
    for name in ("signal", "label", "event_id"):
        np.testing.assert_array_equal(getattr(each, name), getattr(one, name))
    assert each.meta["readnoise"] == "per frame" and one.meta["readnoise"] == 7.0


def test_each_frame_gets_its_own_read_noise_rates_and_charge_cloud():
    noise = np.array([0.0, 5.0, 10.0])
    sim = simulate_frames(3, shape=(256, 256), xray_rate=0.0, cr_rate=0.0, readnoise=noise, seed=1)
    assert sim.signal.std(axis=(1, 2)) == pytest.approx(noise, abs=0.1)
    sim = simulate_frames(3, shape=(256, 256), xray_rate=np.array([0.0, 0.0, 400.0]),
                          cr_rate=np.array([0.0, 200.0, 0.0]), readnoise=0.0, seed=2)
    assert set(sim.truth["FRAME"][sim.truth["KIND"] == "xray"]) == {2}
    assert set(sim.truth["FRAME"][sim.truth["KIND"] == "cr"]) == {1}
    # a wider cloud spreads a 6 keV photon over more pixels
    wide = simulate_frames(2, shape=(128, 128), xray_rate=4000.0, cr_rate=0.0, readnoise=0.0, spectrum=6.0,
                           diffusion_sigma_um=np.array([2.0, 30.0]), seed=3)
    pixels_per_photon = [np.count_nonzero(f) / np.sum(wide.truth["FRAME"] == i) for i, f in enumerate(wide.signal)]
    assert pixels_per_photon[1] > 1.5 * pixels_per_photon[0]


def test_per_frame_values_are_checked():
    with pytest.raises(ValueError, match="readnoise must be a finite number >= 0 or 3 of them"):
        simulate_frames(3, shape=(32, 32), readnoise=np.array([1.0, 2.0]))
    with pytest.raises(ValueError, match="cr_rate must be a finite number >= 0 or 2 of them"):
        simulate_frames(2, shape=(32, 32), cr_rate=np.array([1.0, -1.0]))
    assert frame_count(hand_made_run(), 3.0) == 4  # 12 crossings at 3 per quadrant frame
    with pytest.raises(ValueError, match="xray_rate must be a finite number >= 0 or 4 of them"):
        geant4_frames(hand_made_run(), cr_rate=3.0, xray_rate=np.ones(3))


def test_balanced_sub_frames_keep_each_frames_conditions():
    """Read noise 0 for the empty and X-ray frames, 30 e- for the CR and mixed ones: it shows in each class."""
    noise = np.repeat([0.0, 0.0, 30.0, 30.0], 10)
    data = build_dataset(10, seed=4, readnoise=noise, xray_rate=np.repeat([1.0, 50.0, 1.0, 50.0], 10))
    from crmask_wfi.sim.simfile import frame_classes

    classes = frame_classes(data.label)
    quiet = data.signal[np.isin(classes, (0, 1))]
    assert np.all(quiet[quiet != 0] > 0)  # no noise: only (positive) charge
    empty = data.signal[classes == 0]
    assert not empty.any()
    assert data.signal[classes == 2][data.label[classes == 2] == 0].std() == pytest.approx(30.0, rel=0.05)


# --- conditions drawn per frame ----------------------------------------------------------------------------


def test_conditions_fall_in_their_ranges_and_fixed_ones_draw_nothing():
    rng = np.random.default_rng(5)
    drawn = VARIED.draw(rng, 4000)
    for column, (low, high) in (("CR_RATE", (1, 12)), ("XRAY_RATE", (1, 50)), ("READNOISE", (5, 10)),
                                ("DIFFUSION_SIGMA_UM", (4, 16))):
        values = np.asarray(drawn[column])
        assert values.min() >= low and values.max() <= high
        assert values.min() < low + 0.02 * (high - low) and values.max() > high - 0.05 * (high - low)
    # log-uniform: the geometric middle is the median; uniform: the middle
    assert np.median(drawn["CR_RATE"]) == pytest.approx(np.sqrt(12), rel=0.05)
    assert np.median(drawn["XRAY_RATE"]) == pytest.approx(np.sqrt(50), rel=0.06)
    assert np.median(drawn["DIFFUSION_SIGMA_UM"]) == pytest.approx(8.0, rel=0.05)
    assert np.median(drawn["READNOISE"]) == pytest.approx(7.5, abs=0.1)
    state = rng.bit_generator.state
    fixed = FrameConditions().draw(rng, 10)
    assert rng.bit_generator.state == state
    assert fixed["CR_RATE"].tolist() == [1.0] * 10 and fixed["DIFFUSION_SIGMA_UM"].tolist() == [8.0] * 10
    summary = summarise_conditions(drawn)
    assert summary["cr_rate"]["min"] >= 1 and summary["cr_rate"]["max"] <= 12


@pytest.mark.parametrize("bad", [{"readnoise": (10.0, 5.0)}, {"cr_rate": (0.0, 2.0)}, {"xray_rate": (1.0, np.inf)}])
def test_bad_ranges_are_named(bad):
    with pytest.raises(TrainingMixError, match=next(iter(bad))):
        FrameConditions(**bad)


def test_the_config_makes_the_ranges_and_refuses_bad_ones_in_one_line(tmp_path):
    config = CamRfTrainConfig(out=tmp_path, work=tmp_path, cr_rate_max=12, xray_rate_max=50, readnoise_min=5,
                              readnoise_max=10, diffusion_scale_min=0.5, diffusion_scale_max=2)
    assert config.conditions == VARIED
    assert set(config.conditions.varied) == {"cr_rate", "xray_rate", "readnoise", "diffusion_sigma_um"}
    result = CliRunner().invoke(cli, ["train", "wfi-cam-rf", "--out", str(tmp_path), "--work", str(tmp_path),
                                      "--readnoise-min", "10", "--readnoise-max", "5"])
    assert result.exit_code == 2 and "readnoise range must be low <= high" in result.output
    assert "Traceback" not in result.output


def test_a_plan_draws_every_frame_in_range_and_puts_geant4_placements_last():
    pixels = hand_made_run()  # 12 crossings of sensor A: 12 quadrant frames at rate 1, 4 at rate 12
    mix = TrainingMix(VARIED, geant4_fraction=0.3, geant4_pixels=pixels)
    plan = mix.plan(200, np.random.default_rng(8))
    source = np.asarray(plan["SOURCE"]).astype(str)
    n_geant4 = int(np.sum(source == "geant4"))
    assert 60 <= n_geant4 < 60 + frame_count(pixels, 1.0) and np.all(source[: 200 - n_geant4] == "simulator")
    assert plan["FRAME"].tolist() == list(range(200))
    for placement in np.unique(plan["PLACEMENT"][source == "geant4"]):
        rows = plan[plan["PLACEMENT"] == placement]
        assert len(set(rows["CR_RATE"])) == 1 and len(rows) == frame_count(pixels, rows["CR_RATE"][0])
    assert np.all((plan["CR_RATE"] >= 1) & (plan["CR_RATE"] <= 12))
    record = mix.record(plan)
    assert record["frames"] == 200 and record["geant4_frames"] == n_geant4
    assert record["geant4_placements"] == len(np.unique(plan["PLACEMENT"][source == "geant4"]))
    assert 5 <= record["readnoise"]["min"] <= record["readnoise"]["median"] <= record["readnoise"]["max"] <= 10
    with pytest.raises(TrainingMixError, match="cannot hold one placement"):
        TrainingMix(FrameConditions(), geant4_fraction=0.5, geant4_pixels=pixels).plan(8, np.random.default_rng(0))


def test_the_frames_of_a_plan_follow_its_conditions():
    pixels = hand_made_run()
    mix = TrainingMix(VARIED, geant4_fraction=0.5, geant4_pixels=pixels)
    plan = mix.plan(24, np.random.default_rng(2))
    frames = list(mix.batches(plan, np.random.SeedSequence(1), chunk=5))
    assert sum(len(f) for f in frames) == 24
    source = np.asarray(plan["SOURCE"]).astype(str)
    start = 0
    for sim in frames:
        rows = plan[start:start + len(sim)]
        assert set(np.asarray(rows["SOURCE"]).astype(str)) == {sim.meta.get("source", "simulator")}
        start += len(sim)
    geant4 = [f for f in frames if f.meta.get("source") == "geant4"]
    cr_charge = sum(float(np.sum(f.signal[f.label == LABEL_CR])) for f in geant4)
    placements = len(np.unique(plan["PLACEMENT"][source == "geant4"]))
    assert cr_charge == pytest.approx(placements * float(np.sum(pixels["ENERGY"])) * ELECTRONS_PER_KEV, rel=1e-4)


# --- the Geant4 split ----------------------------------------------------------------------------------


def test_the_split_puts_every_primary_in_one_half():
    pixels = hand_made_run()
    training, held_out = geant4_primaries(pixels, "training"), geant4_primaries(pixels, "held-out")
    assert set(training["PRIMID"]) == {2, 4, 6, 8, 10, 12} and set(held_out["PRIMID"]) == {1, 3, 5, 7, 9, 11}
    assert len(training) + len(held_out) == len(pixels)
    with pytest.raises(TrainingMixError, match="Geant4 part"):
        geant4_primaries(pixels, "test")


def test_no_held_out_primary_reaches_the_training_or_validation_frames(tmp_path):
    """Each primary's track carries 10 keV x PRIMID: the charge in the frames names the primaries there."""
    run = tmp_path / GEANT4_SUBDIR / GEANT4_PIXELS_FILE
    run.parent.mkdir()
    hand_made_run().write(run, format="fits")
    config = CamRfTrainConfig(out=tmp_path, work=tmp_path, geant4_fraction=0.5, data=tmp_path, cr_rate_max=12)
    mixes = train.training_mixes(config)
    for name, parity in (("forest", 0), ("roc", 0), ("test", 1)):
        assert set(np.asarray(mixes[name].geant4_pixels["PRIMID"]) % 2) == {parity}, name
        plan = mixes[name].plan(40, np.random.default_rng(1))
        found = set()
        for sim in mixes[name].batches(plan, np.random.SeedSequence(3), chunk=40):
            if sim.meta.get("source") == "geant4":
                kev = sim.signal[sim.label == LABEL_CR] / ELECTRONS_PER_KEV
                found |= set(np.unique(np.rint(kev / 10.0)).astype(int))
        assert found and {p % 2 for p in found} == {parity}, (name, found)
    for name in ("subframes", "val_subframes"):
        assert mixes[name].geant4_pixels["PRIMID"].tolist() == mixes["forest"].geant4_pixels["PRIMID"].tolist()


def test_a_geant4_fraction_without_the_data_folder_is_one_line(tmp_path, monkeypatch, capsys):
    import crmask.cli

    monkeypatch.delenv("CRMASK_DATA", raising=False)
    with pytest.raises(SystemExit) as info:
        crmask.cli.main(["train", "wfi-cam-rf", "--out", str(tmp_path), "--work", str(tmp_path),
                         "--geant4-fraction", "0.2"])
    assert info.value.code == 2
    assert capsys.readouterr().err.startswith("crmask: error: no data folder: give --data DIR")


# --- what the card records -----------------------------------------------------------------------------


def test_lost_xrays_are_counted_by_group_of_frames():
    plan = Table({"FRAME": [0, 1, 2, 3], "SOURCE": ["simulator", "simulator", "geant4", "geant4"],
                  "CR_RATE": [1.0, 8.0, 1.0, 12.0]})
    events = Table({"FRAME": [0, 0, 1, 1, 2, 3, 3, 3], "ENERGY": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 0.1, 7.0],
                    "TRUE_CLASS": ["xray", "xray", "xray", "cr", "xray", "xray", "xray", "cr"],
                    "CR_FLAG": [False, True, True, True, False, False, True, True]})
    groups = train.lost_xray_by_frame_group(events, plan)
    assert {name: (g["frames"], g["xray_events"], g["lost"]) for name, g in groups.items()} == {
        "all frames": (4, 5, 2), "simulator frames": (2, 3, 2), "Geant4 frames": (2, 2, 0),
        "CR rate < 6x": (2, 3, 1), "CR rate >= 6x": (2, 2, 1)}
    assert groups["simulator frames"]["lost_xray"] == pytest.approx(2 / 3)
    low, high = groups["all frames"]["lost_xray_interval95"]
    assert low < 0.4 < high


def test_the_card_records_the_mix_and_the_early_stopping(tmp_path):
    from types import SimpleNamespace

    from crmask_wfi.camrf.model_io import DENSENET_FILE, FOREST_FILE

    run = tmp_path / GEANT4_SUBDIR / GEANT4_PIXELS_FILE
    run.parent.mkdir()
    hand_made_run().write(run, format="fits")
    config = CamRfTrainConfig(out=tmp_path, work=tmp_path, geant4_fraction=0.25, data=tmp_path, cr_rate_max=12,
                              readnoise_min=5, readnoise_max=10, patience=2, subframes_per_class=5,
                              val_subframes_per_class=2)
    for file in (DENSENET_FILE, FOREST_FILE):
        (tmp_path / file).write_bytes(b"weights")
    mixes = train.training_mixes(config)
    seeds = dict(zip(train._SETS, np.random.SeedSequence(1).spawn(5)))
    plans = {name: mixes[name].plan(60, np.random.default_rng(seeds[name])) for name in ("forest", "roc", "test")}
    record = train._mix_record(config, mixes, plans, seeds)
    forest = SimpleNamespace(feature_names=("ENERGY",), training={"n_trees": 1}, n_nodes=3, max_depth=1)
    labels = np.array([True, False, False])
    card = train._model_card(config, None, None, {"val_loss": [1.0, 0.5], "kept_epoch": 2}, forest,
                             (0.5, 0.9, 0.01), Table({"band": ["all"]}), labels, labels, 1.0, 2.0,
                             mix_record=record | {"validation_groups": {"all frames": {"lost": 0}}})
    data = card["training_data"]
    assert data["conditions"]["cr_rate"] == {"range": [1.0, 12.0], "distribution": "log-uniform"}
    assert data["conditions"]["readnoise"] == {"range": [5.0, 10.0], "distribution": "uniform"}
    assert data["conditions"]["xray_rate"]["distribution"] == "fixed"
    assert data["sets"]["subframes"]["frames"] == 20 and data["sets"]["val_subframes"]["frames"] == 8
    assert 5 <= data["sets"]["subframes"]["readnoise"]["min"] <= data["sets"]["subframes"]["readnoise"]["max"] <= 10
    assert data["sets"]["forest"]["geant4_frames"] >= 15
    assert data["geant4"]["primaries"] == {"training": 6, "held-out": 6}
    assert "odd PRIMID (held out)" in data["geant4"]["split"]
    assert card["training"]["patience"] == 2 and card["training"]["densenet_history"]["kept_epoch"] == 2
    assert card["threshold_choice"]["validation_groups"] == {"all frames": {"lost": 0}}
    assert "validation frames of the training mix" in card["threshold_choice"]["validation_frames"]
    assert "drawn per frame" in card["summary"] and "Geant4 run 0002" in card["summary"]
