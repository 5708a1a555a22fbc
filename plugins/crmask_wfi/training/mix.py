"""Training frames drawn under varied conditions, with the Geant4 run's cosmic rays mixed in (issue 13).

A filter that must hold off its simulator is trained and validated on
frames whose conditions vary from frame to frame, over what it must not
depend on: the cosmic-ray rate (nominal to a solar event's), the X-ray rate
(a faint to a bright source), the read noise and the size of the charge
cloud. `FrameConditions` holds their ranges and draws one value of each per
frame; a range of one value is not drawn, so the default ranges give the
nominal simulation with the random draws of a run without conditions.

`TrainingMix` adds the cosmic rays of the shared Geant4 run 0002
(`crmask_wfi.sim.geant4_frames.geant4_frames`): a fraction of the frames
hold its primaries instead of the simulator's, with the simulator's X-rays
and read noise under the same drawn conditions (their cosmic-ray pixels keep
Geant4's charge, without a cloud). The run is split by primary
(`geant4_primaries`): the primaries of even ``PRIMID`` may train a model,
those of odd ``PRIMID`` never do, so that a model can be scored on cosmic
rays it never saw.

`TrainingMix.plan` draws the conditions of every frame of a set (a table, one
row per frame); `TrainingMix.batches` simulates the frames of a plan.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
from astropy.table import Table

from crmask.exceptions import CrmaskError

from ..sim.geant4_frames import frame_count, geant4_frames
from ..sim.physics import DIFFUSION_SIGMA_FULL_UM, READNOISE_E
from ..sim.simulate import DEFAULT_CR_RATE, DEFAULT_XRAY_RATE, SimulatedFrames, simulate_frames
from .dataset import build_dataset

__all__ = [
    "CONDITIONS",
    "FrameConditions",
    "GEANT4_PARTS",
    "TrainingMix",
    "TrainingMixError",
    "geant4_primaries",
    "summarise_conditions",
]

#: The drawn conditions: plan column, `simulate_frames` parameter, distribution ("log" for log-uniform).
CONDITIONS = (
    ("CR_RATE", "cr_rate", "log"),
    ("XRAY_RATE", "xray_rate", "log"),
    ("READNOISE", "readnoise", "uniform"),
    ("DIFFUSION_SIGMA_UM", "diffusion_sigma_um", "log"),
)
_DISTRIBUTION = {name: distribution for _, name, distribution in CONDITIONS}
#: Halves of the Geant4 run by primary: ``PRIMID % 2`` of each.
GEANT4_PARTS = {"training": 0, "held-out": 1}
#: ``SOURCE`` of a plan's frames.
_SIMULATOR, _GEANT4 = "simulator", "geant4"


class TrainingMixError(CrmaskError, ValueError):
    """A training mix that cannot be drawn: a bad range, or too few frames for the Geant4 run's primaries."""


def geant4_primaries(pixels: Table, part: str) -> Table:
    """The pixels of one half of a Geant4 run, split by primary.

    Parameters
    ----------
    pixels : astropy.table.Table
        The run's pixel table (`crmask_wfi.sim.geant4.read_pixels`).
    part : {"training", "held-out"}
        ``"training"``: the primaries of even ``PRIMID``, which may train a
        model; ``"held-out"``: those of odd ``PRIMID``, which never do.

    Returns
    -------
    astropy.table.Table
        The rows of that half's primaries: every pixel of a primary is in
        the same half.
    """
    if part not in GEANT4_PARTS:
        raise TrainingMixError(f"Geant4 part must be one of {', '.join(GEANT4_PARTS)}, got {part!r}")
    return pixels[np.asarray(pixels["PRIMID"], dtype=np.int64) % 2 == GEANT4_PARTS[part]]


@dataclass(frozen=True)
class FrameConditions:
    """Ranges of the conditions drawn for each frame; a range ``(v, v)`` keeps ``v`` and draws nothing.

    Attributes
    ----------
    cr_rate : tuple of float
        Cosmic-ray primaries per quadrant frame, log-uniform.
    xray_rate : tuple of float
        X-ray photons per quadrant frame, log-uniform.
    readnoise : tuple of float
        Read noise (electrons RMS), uniform.
    diffusion_sigma_um : tuple of float
        Charge-cloud sigma after the full drift (um), log-uniform.
    """

    cr_rate: tuple[float, float] = (DEFAULT_CR_RATE, DEFAULT_CR_RATE)
    xray_rate: tuple[float, float] = (DEFAULT_XRAY_RATE, DEFAULT_XRAY_RATE)
    readnoise: tuple[float, float] = (READNOISE_E, READNOISE_E)
    diffusion_sigma_um: tuple[float, float] = (DIFFUSION_SIGMA_FULL_UM, DIFFUSION_SIGMA_FULL_UM)

    def __post_init__(self) -> None:
        for _, name, distribution in CONDITIONS:
            low, high = (float(v) for v in getattr(self, name))
            positive = low >= 0 if distribution == "uniform" else low > 0
            if not (positive and low <= high < np.inf):
                relation = ">= 0" if distribution == "uniform" else "> 0"
                raise TrainingMixError(
                    f"{name} range must be low <= high with low {relation}, got {(low, high)}")
            object.__setattr__(self, name, (low, high))

    @property
    def varied(self) -> tuple[str, ...]:
        """The parameters whose range holds more than one value (those that are drawn)."""
        return tuple(name for _, name, _ in CONDITIONS if getattr(self, name)[0] < getattr(self, name)[1])

    def draw(self, rng: np.random.Generator, n_frames: int) -> Table:
        """One value of each condition per frame (a fixed one drawn from nothing), in `CONDITIONS` order.

        Returns
        -------
        astropy.table.Table
            ``FRAME`` and the `CONDITIONS` columns, ``n_frames`` rows.
        """
        table = Table({"FRAME": np.arange(n_frames, dtype=np.int64)})
        for column, name, _ in CONDITIONS:
            table[column] = self.draw_one(rng, name, n_frames)
        return table

    def draw_one(self, rng: np.random.Generator, name: str, size: int) -> np.ndarray:
        """``size`` values of one condition (``name`` as in `simulate_frames`)."""
        low, high = getattr(self, name)
        if low == high:
            return np.full(size, low)
        if _DISTRIBUTION[name] == "uniform":
            return rng.uniform(low, high, size)
        return np.exp(rng.uniform(np.log(low), np.log(high), size))

    def simulate_kwargs(self, rows: Table) -> dict[str, float | np.ndarray]:
        """The `simulate_frames` parameters of a plan's rows: one value where fixed, else one per row."""
        return {name: (getattr(self, name)[0] if name not in self.varied else np.asarray(rows[column], float))
                for column, name, _ in CONDITIONS}

    def to_dict(self) -> dict:
        """The ranges and their distributions, for a model card."""
        names = {"log": "log-uniform", "uniform": "uniform"}
        return {name: {"range": list(getattr(self, name)),
                       "distribution": names[distribution] if name in self.varied else "fixed"}
                for _, name, distribution in CONDITIONS}


@dataclass(frozen=True)
class TrainingMix:
    """Where the frames of a training set come from and under which conditions.

    Attributes
    ----------
    conditions : FrameConditions
        Ranges of the per-frame conditions.
    geant4_fraction : float
        Fraction of a set's 512 x 512 frames that hold the cosmic rays of
        ``geant4_pixels`` instead of the simulator's (0: none).
    geant4_pixels : astropy.table.Table or None
        The Geant4 primaries to mix in (a `geant4_primaries` half); needed
        when ``geant4_fraction`` > 0.
    """

    conditions: FrameConditions = field(default_factory=FrameConditions)
    geant4_fraction: float = 0.0
    geant4_pixels: Table | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not 0.0 <= self.geant4_fraction < 1.0:
            raise TrainingMixError(f"geant4_fraction must be in [0, 1), got {self.geant4_fraction!r}")
        if self.geant4_fraction > 0 and self.geant4_pixels is None:
            raise TrainingMixError("a Geant4 fraction needs the Geant4 run's pixels")

    def plan(self, n_frames: int, rng: np.random.Generator) -> Table:
        """The source and the conditions of each of ``n_frames`` frames.

        The Geant4 frames, whole placements of every primary of
        ``geant4_pixels`` (`~crmask_wfi.sim.geant4_frames.geant4_frames`), come
        after the simulator's until they make ``geant4_fraction`` of the frames
        (they may pass it by less than one placement). A placement's
        cosmic-ray rate is drawn once (it sets how many frames the primaries
        fill); the other conditions are drawn for every frame.

        Parameters
        ----------
        n_frames : int
        rng : numpy.random.Generator
            Draws the conditions (nothing is drawn from it for a fixed
            condition and no Geant4 frames).

        Returns
        -------
        astropy.table.Table
            One row per frame: ``FRAME``, ``SOURCE`` (``simulator`` or
            ``geant4``), ``PLACEMENT`` (the Geant4 placement, -1 for the
            simulator) and the `CONDITIONS` columns.

        Raises
        ------
        TrainingMixError
            If ``n_frames`` cannot hold one placement of the Geant4 primaries.
        """
        rates: list[float] = []
        sizes: list[int] = []
        target = int(round(self.geant4_fraction * n_frames))
        while sum(sizes) < target:
            rate = float(self.conditions.draw_one(rng, "cr_rate", 1)[0])
            size = frame_count(self.geant4_pixels, rate)
            if sum(sizes) + size > n_frames:
                break
            rates.append(rate)
            sizes.append(size)
        if target and not sizes:
            smallest = frame_count(self.geant4_pixels, self.conditions.cr_rate[1])
            raise TrainingMixError(
                f"{n_frames} frames cannot hold one placement of the Geant4 primaries ({smallest} frames at "
                "the highest CR rate); ask for more frames or set the Geant4 fraction to 0")
        n_geant4 = sum(sizes)
        table = self.conditions.draw(rng, n_frames)
        n_simulated = n_frames - n_geant4
        table["CR_RATE"][n_simulated:] = np.repeat(rates, sizes)
        table["SOURCE"] = np.repeat([_SIMULATOR, _GEANT4], [n_simulated, n_geant4])
        table["PLACEMENT"] = np.concatenate([np.full(n_simulated, -1),
                                             np.repeat(np.arange(len(sizes)), sizes)])
        return table[["FRAME", "SOURCE", "PLACEMENT", *(column for column, _, _ in CONDITIONS)]]

    def batches(self, plan: Table, seed: np.random.SeedSequence, chunk: int = 200
                ) -> Iterator[SimulatedFrames]:
        """The frames of a `plan`, in its order, at most ``chunk`` at a time.

        The simulator's frames come in chunks of ``chunk``, each simulated
        from its own child of ``seed`` (`numpy.random.SeedSequence.spawn`);
        each Geant4 placement from the next child.
        """
        source = np.asarray(plan["SOURCE"]).astype(str)
        n_simulated = int(np.sum(source == _SIMULATOR))
        n_chunks = -(-n_simulated // chunk)
        placements = np.unique(np.asarray(plan["PLACEMENT"])[source == _GEANT4])
        children = seed.spawn(n_chunks + len(placements))
        for index, child in enumerate(children[:n_chunks]):
            rows = plan[index * chunk:min((index + 1) * chunk, n_simulated)]
            yield simulate_frames(len(rows), seed=np.random.default_rng(child),
                                  **self.conditions.simulate_kwargs(rows))
        for placement, child in zip(placements, children[n_chunks:]):
            rows = plan[np.asarray(plan["PLACEMENT"]) == placement]
            kwargs = self.conditions.simulate_kwargs(rows)
            frames = geant4_frames(self.geant4_pixels, seed=np.random.default_rng(child),
                                   cr_rate=float(rows["CR_RATE"][0]),
                                   **{name: value for name, value in kwargs.items() if name != "cr_rate"})
            if len(frames) != len(rows):  # the plan was drawn for other pixels
                raise TrainingMixError(f"plan placement {placement} has {len(rows)} frames, the Geant4 "
                                       f"primaries fill {len(frames)}")
            for start in range(0, len(frames), chunk):
                yield frames.subset(np.arange(start, min(start + chunk, len(frames))))

    def subframes(self, n_per_class: int, seed: np.random.SeedSequence, rng: np.random.Generator
                  ) -> tuple[SimulatedFrames, Table]:
        """Class-balanced 64 x 64 sub-frames (`~crmask_wfi.training.dataset.build_dataset`), conditions drawn.

        The Geant4 run is not used here: its primaries are whole quadrant
        frames, not balanced sub-frames.

        Parameters
        ----------
        n_per_class : int
        seed : numpy.random.SeedSequence
            Seeds the frames.
        rng : numpy.random.Generator
            Draws the conditions of each frame to draw (`FrameConditions.draw`).

        Returns
        -------
        frames : SimulatedFrames
        conditions : astropy.table.Table
            The conditions drawn for the frames to draw, the empty ones first,
            then the X-ray, CR and mixed ones (``FRAME`` numbers them in that order).
        """
        conditions = self.conditions.draw(rng, 4 * n_per_class)
        frames = build_dataset(n_per_class, seed=np.random.default_rng(seed),
                               **self.conditions.simulate_kwargs(conditions))
        return frames, conditions

    def record(self, plan: Table) -> dict:
        """What a plan holds, for a model card: frames by source, placements, and each condition's spread."""
        source = np.asarray(plan["SOURCE"]).astype(str)
        record = {
            "frames": len(plan),
            "geant4_frames": int(np.sum(source == _GEANT4)),
            "geant4_placements": len(np.unique(np.asarray(plan["PLACEMENT"])[source == _GEANT4])),
        }
        return record | summarise_conditions(plan)


def summarise_conditions(table: Table) -> dict:
    """Minimum, median and maximum of each condition column of a plan or `FrameConditions.draw` table."""
    return {name: {statistic: float(function(np.asarray(table[column])))
                   for statistic, function in (("min", np.min), ("median", np.median), ("max", np.max))}
            for column, name, _ in CONDITIONS if len(table)}
