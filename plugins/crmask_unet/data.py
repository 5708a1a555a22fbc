"""Training data for the U-Nets: paired (image, CR mask) patches.

Sources, all returning `Sample` patches in electrons:

* `DarkFrameSource` builds pairs from clean images and dark frames as
  Bhavanam et al. (2022, §2.1.1) do: the CR mask of a dark ``D`` is
  ``D > median(D) + 3 sigma_D``, dilated by 3x3, and the contaminated image
  is ``C = U + k_c * sigma_U / sigma_D * D * M`` with ``k_c = 1/8``.
* `FramePool` crops patches from whole frames with exact truth: the
  realistic synthetic frames of `synthetic_pool` (``crmask.data.synthetic``, with
  real ITL CR footprints from ``crmask.data.footprints``), or real frames with
  real footprints injected (`real_samples`): there stars, galaxies, traces,
  echelle orders, sky lines, defects and the real noise are the negatives,
  the frame's own cosmic rays are left out of the loss, and the SPRAT
  repeat-derived masks are real positives.
* `MixedSource` draws from several sources with fixed probabilities.

`augment_sky` is deepCR's sky-level augmentation (Bhavanam et al. §2.3).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Protocol, Sequence

import numpy as np
from scipy import ndimage

from .config import HOT_PIXELS

__all__ = [
    "Sample",
    "PatchSource",
    "robust_sigma",
    "dark_frame_mask",
    "inject_dark_crs",
    "DarkFrameSource",
    "FramePool",
    "synthetic_pool",
    "add_long_slit",
    "augment_sky",
    "real_samples",
    "draw_density",
    "MixedSource",
    "grow_truth",
]


@dataclass(frozen=True)
class Sample:
    """One training patch.

    Attributes
    ----------
    image : numpy.ndarray
        Contaminated image in electrons (float32).
    mask : numpy.ndarray
        CR truth (bool).
    ignore : numpy.ndarray
        Pixels left out of the loss (bool): faint CR charge below the truth
        threshold, neither clean nor a CR.
    clean : numpy.ndarray
        The same patch without cosmic rays (for the median-weighted loss).
    sky : float
        Sky level in electrons (for the sky augmentation).
    significance : numpy.ndarray or None
        Significance of each truth pixel (injected charge over the noise;
        infinite for real labelled cosmic rays), where known: the
        validation counts the significant cosmic rays with it
        (`crmask.bench.metrics.event_completeness`).
    bad : numpy.ndarray or None
        The frame's known defects (bool), which a detector is handed as its
        bad-pixel mask, as a reduction's bad-pixel mask would be; `None`
        where none are known. Training shows them to the network as they
        are; the choices made for a detector after training (threshold, wing
        growth, isolated hits, bright rescaling) hand them over, as the
        detector is used.
    """

    image: np.ndarray
    mask: np.ndarray
    ignore: np.ndarray
    clean: np.ndarray
    sky: float
    significance: np.ndarray | None = None
    bad: np.ndarray | None = None

    def transformed(self, code: int) -> "Sample":
        """Apply one of the 8 symmetries of the square (bit 0: flip y, bit 1: flip x, bit 2: transpose)."""

        def op(a: np.ndarray) -> np.ndarray:
            if code & 1:
                a = a[::-1]
            if code & 2:
                a = a[:, ::-1]
            if code & 4:
                a = a.T
            return np.ascontiguousarray(a)

        return replace(self, image=op(self.image), mask=op(self.mask), ignore=op(self.ignore), clean=op(self.clean),
                       significance=None if self.significance is None else op(self.significance),
                       bad=None if self.bad is None else op(self.bad))


class PatchSource(Protocol):
    """Anything that draws training patches."""

    def sample(self, rng: np.random.Generator, size: int) -> Sample:
        """Return one ``size`` x ``size`` `Sample` drawn with ``rng``."""


def robust_sigma(values: np.ndarray, nsigma: float = 3.0, iterations: int = 5) -> float:
    """Standard deviation of ``values`` after iterative ``nsigma`` clipping around the median."""
    data = np.asarray(values, dtype=np.float64).ravel()
    data = data[np.isfinite(data)]
    for _ in range(iterations):
        median, std = np.median(data), data.std()
        kept = data[np.abs(data - median) <= nsigma * std]
        if kept.size == data.size or kept.size < 2:
            break
        data = kept
    return float(data.std())


def dark_frame_mask(dark: np.ndarray, nsigma: float = 3.0, dilate: int = 3) -> np.ndarray:
    """CR mask of a dark frame: ``D > median(D) + nsigma * sigma_D``, dilated by a ``dilate`` square.

    ``sigma_D`` is the clipped standard deviation of the dark, i.e. of its
    non-CR pixels.
    """
    dark = np.asarray(dark, dtype=np.float64)
    mask = dark > np.median(dark) + nsigma * robust_sigma(dark)
    if dilate > 1:
        mask = ndimage.binary_dilation(mask, structure=np.ones((dilate, dilate), dtype=bool))
    return mask


def inject_dark_crs(
    clean: np.ndarray, dark: np.ndarray, k_c: float = 1 / 8, nsigma: float = 3.0
) -> tuple[np.ndarray, np.ndarray]:
    """Contaminate ``clean`` with the cosmic rays of ``dark`` (Bhavanam et al. 2022, §2.1.1).

    Parameters
    ----------
    clean : numpy.ndarray
        CR-free image ``U``.
    dark : numpy.ndarray
        Dark frame ``D`` of the same shape.
    k_c : float
        Scaling factor (1/8 in the paper).
    nsigma : float
        Detection threshold on the dark, in units of ``sigma_D``.

    Returns
    -------
    image, mask : numpy.ndarray
        ``C = U + k_c * sigma_U / sigma_D * D * M`` and the dilated mask ``M``.
    """
    clean = np.asarray(clean, dtype=np.float32)
    dark = np.asarray(dark, dtype=np.float32)
    if clean.shape != dark.shape:
        raise ValueError(f"clean image {clean.shape} and dark frame {dark.shape} differ in shape")
    mask = dark_frame_mask(dark, nsigma)
    sigma_d = robust_sigma(dark[~mask]) if (~mask).any() else 0.0
    sigma_u = robust_sigma(clean)
    if sigma_d <= 0 or sigma_u <= 0:
        raise ValueError("clean image and dark frame need non-zero background noise")
    image = clean + np.float32(k_c * sigma_u / sigma_d) * dark * mask
    return image.astype(np.float32), mask


def _crop_origin(rng: np.random.Generator, shape: tuple[int, ...], size: int) -> tuple[int, int]:
    ny, nx = shape
    if ny < size or nx < size:
        raise ValueError(f"frame of shape {shape} is smaller than the patch size {size}")
    return int(rng.integers(0, ny - size + 1)), int(rng.integers(0, nx - size + 1))


class DarkFrameSource:
    """Random patches of clean images contaminated with random dark-frame patches.

    Parameters
    ----------
    clean_images : sequence of numpy.ndarray
        CR-free images in electrons (e.g. cleaned science frames).
    darks : sequence of numpy.ndarray
        Dark frames with cosmic rays.
    k_c : float
        See `inject_dark_crs`.
    """

    def __init__(self, clean_images: Sequence[np.ndarray], darks: Sequence[np.ndarray], k_c: float = 1 / 8):
        if not clean_images or not darks:
            raise ValueError("DarkFrameSource needs at least one clean image and one dark frame")
        self.clean_images = [np.asarray(c, dtype=np.float32) for c in clean_images]
        self.darks = [np.asarray(d, dtype=np.float32) for d in darks]
        self.k_c = k_c

    @staticmethod
    def _crop(rng: np.random.Generator, array: np.ndarray, size: int) -> np.ndarray:
        y, x = _crop_origin(rng, array.shape, size)
        return array[y : y + size, x : x + size]

    def sample(self, rng: np.random.Generator, size: int) -> Sample:
        clean = self._crop(rng, self.clean_images[rng.integers(len(self.clean_images))], size)
        dark = self._crop(rng, self.darks[rng.integers(len(self.darks))], size)
        image, mask = inject_dark_crs(clean, dark, self.k_c)
        return Sample(image=image, mask=mask, ignore=np.zeros_like(mask), clean=clean.copy(),
                      sky=float(np.median(clean)))


class FramePool:
    """Random, randomly flipped patches of whole frames with known truth.

    Parameters
    ----------
    samples : sequence of Sample
        Whole frames in electrons with their truth.
    """

    def __init__(self, samples: Sequence[Sample]):
        if not samples:
            raise ValueError("FramePool needs at least one frame")
        self.samples = list(samples)

    def sample(self, rng: np.random.Generator, size: int) -> Sample:
        frame = self.samples[rng.integers(len(self.samples))]
        y, x = _crop_origin(rng, frame.image.shape, size)
        window = (slice(y, y + size), slice(x, x + size))
        patch = Sample(image=frame.image[window], mask=frame.mask[window], ignore=frame.ignore[window],
                       clean=frame.clean[window], sky=frame.sky,
                       significance=None if frame.significance is None else frame.significance[window])
        return patch.transformed(int(rng.integers(8)))


class MixedSource:
    """Draw each patch from one of several sources, chosen with fixed probabilities.

    Parameters
    ----------
    sources : sequence of PatchSource
    weights : sequence of float
        Relative probabilities (normalised here).
    """

    def __init__(self, sources: Sequence[PatchSource], weights: Sequence[float]):
        if not sources or len(sources) != len(weights):
            raise ValueError("MixedSource needs one weight per source and at least one source")
        weights = np.asarray(weights, dtype=np.float64)
        if np.any(weights < 0) or not weights.sum() > 0:
            raise ValueError(f"MixedSource weights must be non-negative with a positive sum, got {weights.tolist()}")
        self.sources = list(sources)
        self.weights = weights / weights.sum()

    def sample(self, rng: np.random.Generator, size: int) -> Sample:
        return self.sources[int(rng.choice(len(self.sources), p=self.weights))].sample(rng, size)


def draw_density(rng: np.random.Generator, high: float, low: float | None = None) -> float:
    """A cosmic-ray density: ``high``, or log-uniform in [``low``, ``high``] when ``low`` is given and lower.

    Real exposures hold from a few to a few hundred cosmic rays per
    megapixel. A network that only sees crowded patches learns crowded
    statistics: a group-normalised one, which normalises every tile by its
    own content, then amplifies the noise of a tile without cosmic rays into
    false detections. Drawing the density per frame puts sparse patches in
    training. Nothing is drawn without ``low``, so older runs keep their
    random streams.
    """
    if low is None or low >= high:
        return high
    if low <= 0:
        raise ValueError(f"the lowest cosmic-ray density must be positive, got {low}")
    return float(np.exp(rng.uniform(np.log(low), np.log(high))))


def real_samples(frames, footprints, seed: int, realisations: int = 4, cr_density: float = 1000.0,
                 cr_density_low: float | None = None, brighten: tuple[float, float] | None = None) -> list[Sample]:
    """Real frames with real cosmic-ray footprints injected, as training or validation frames.

    Every frame is converted to electrons and gets ``realisations``
    independent injections (``crmask.data.footprints.inject_footprints``, seed
    ``(seed, frame index, realisation)``). Truth is the injected cosmic rays
    (pixels 3 sigma above the noise) plus the frame's real labels where it
    has them (the SPRAT repeat masks); each sample carries the truth's
    significance (`Sample.significance`) and the frame's defects
    (`Sample.bad`). Left out of the loss: the frame's own unlabelled cosmic
    rays and doubtful pixels (``own_crs``), its defects, and faint injected
    charge.

    Parameters
    ----------
    frames : sequence of crmask.bench.sources.RealFrame
        Real frames (``crmask.bench.sources.load_real_frames``).
    footprints : crmask.data.footprints.FootprintLibrary
        Footprints to inject (a training or validation split, never the test one).
    seed : int
        Seed of every injection.
    realisations : int
        Injections per frame.
    cr_density : float
        Injected cosmic rays per megapixel.
    cr_density_low : float, optional
        With it, each realisation draws its density log-uniformly between
        this and ``cr_density`` (`draw_density`).
    brighten : tuple of float, optional
        ``(fraction, factor)``: a fraction of the injected cosmic rays made
        up to ``factor`` times brighter (`crmask.data.footprints.place_charge`).

    Returns
    -------
    list of Sample
    """
    from crmask.data.footprints import inject_footprints

    samples = []
    for index, frame in enumerate(frames):
        electrons = np.asarray(frame.data, dtype=np.float32) * np.float32(frame.gain)
        satlevel = None if frame.satlevel is None else frame.satlevel * frame.gain
        sky = float(np.median(electrons))
        for k in range(realisations):
            rng = np.random.default_rng((seed, index, k))
            n = int(rng.poisson(draw_density(rng, cr_density, cr_density_low) * electrons.size / 1e6))
            inj = inject_footprints(electrons, footprints, n, gain=1.0, readnoise=frame.readnoise, rng=rng,
                                    satlevel=satlevel, brighten=brighten)
            truth = inj.mask if frame.labels is None else inj.mask | frame.labels
            ignore = (inj.faint | frame.own_crs | frame.defects) & ~truth
            significance = inj.significance
            if frame.labels is not None:  # real cosmic rays found in the repeats at 5 sigma
                significance = np.where(frame.labels, np.float32(np.inf), significance)
            samples.append(Sample(image=inj.data, mask=truth, ignore=ignore, clean=electrons, sky=sky,
                                  significance=significance, bad=frame.defects))
    return samples


def add_long_slit(shape: tuple[int, int], seeing: float, rng: np.random.Generator) -> np.ndarray:
    """Photon-noisy long-slit structures in electrons: spectral traces and sky emission lines.

    One to three traces run along x (slightly tilted, Gaussian profile of
    the seeing across, continuum varying smoothly along), and up to 20 sky
    lines run across the whole slit (along y, 1-2.5 px wide). Peaks are
    log-uniform, 50-30000 e- for traces and 20-5000 e- for lines.
    """
    ny, nx = shape
    yy = np.arange(ny, dtype=np.float64)[:, None]
    xx = np.arange(nx, dtype=np.float64)[None, :]
    light = np.zeros(shape)
    sigma = seeing / 2.355
    for _ in range(int(rng.integers(1, 4))):
        centre = rng.uniform(0, ny) + rng.uniform(-0.01, 0.01) * xx
        peak = np.exp(rng.uniform(np.log(50.0), np.log(3e4)))
        continuum = 1 + 0.5 * np.sin(2 * np.pi * xx / rng.uniform(50, 500) + rng.uniform(0, 2 * np.pi))
        light += peak * continuum * np.exp(-0.5 * ((yy - centre) / sigma) ** 2)
    for _ in range(int(rng.integers(0, 21))):
        width = rng.uniform(1.0, 2.5)
        peak = np.exp(rng.uniform(np.log(20.0), np.log(5e3)))
        light += peak * np.exp(-0.5 * ((xx - rng.uniform(0, nx)) / width) ** 2) * np.ones((ny, 1))
    return rng.poisson(light).astype(np.float32)


def synthetic_pool(
    n_frames: int,
    shape: tuple[int, int],
    seed: int,
    footprints=None,
    cr_density: float = 1000.0,
    spectra_fraction: float = 0.0,
    cr_density_low: float | None = None,
    hot_pixels: str = "clean",
    galaxy_fraction: float = 0.0,
) -> FramePool:
    """A `FramePool` of realistic synthetic frames (``crmask.data.synthetic.make_frame``).

    Every frame draws its own instrument and sky: seeing 1.5-5 px (Moffat or
    Gaussian PSF), sky 30-3000 e-, gain 1-4 e-/adu, read noise 3-10 e-, so
    that the network sees a wide range of contrast between sources, noise
    and cosmic rays. The CR-free ``clean`` image replaces truth pixels by a
    5x5 median of their surroundings.

    Faint cosmic-ray pixels are left out of the loss (``ignore``), and so are
    the hot pixels with ``hot_pixels="ignore"``. In one exposure a hot pixel
    and a one-pixel cosmic ray look the same; a dark frame or a bad-pixel
    mask (``CCDData.mask``, which every detector honours) tells them apart,
    not the image. Taught as clean pixels (``"clean"``, how every shipped
    model was trained), they make a network pass over isolated one-pixel
    hits of a few thousand electrons, the brightest cosmic rays there are;
    left out, they let it flag lone warm pixels that no defect mask lists
    (``docs/learned_detectors.rst``).

    Parameters
    ----------
    n_frames : int
        Number of frames.
    shape : tuple of int
        Frame shape.
    seed : int
        Seed of the frames (the same seed gives the same pool).
    footprints : crmask.data.footprints.FootprintLibrary, optional
        Real CR footprints to inject (use the training split only).
    cr_density : float
        Cosmic rays per megapixel; higher than real exposures to ease the
        class imbalance.
    spectra_fraction : float
        Fraction of frames that also get long-slit structures (see
        `add_long_slit`), so that traces and sky lines are not taken for
        cosmic-ray tracks.
    cr_density_low : float, optional
        With it, each frame draws its density log-uniformly between this and
        ``cr_density`` (`draw_density`).
    hot_pixels : {"clean", "ignore"}
        Whether the hot pixels are clean pixels or left out of the loss.
    galaxy_fraction : float
        Fraction of the imaging frames (those without long-slit structures)
        given resolved spiral galaxies (``FrameSpec.resolved_galaxies = 1``,
        `crmask.data.synthetic.resolved_spiral`): star-forming knots, arms
        and dust lanes that are not cosmic rays, and cosmic rays on them; the
        long-slit frames stay ``spectra_fraction`` of all. With 0 no random
        number is drawn for it, so the pool is the same as before the option
        existed.
    """
    from crmask.data.synthetic import FrameSpec, make_frame

    if hot_pixels not in HOT_PIXELS:
        raise ValueError(f"hot_pixels must be one of {HOT_PIXELS}, got {hot_pixels!r}")

    rng = np.random.default_rng(seed)
    samples = []
    for _ in range(n_frames):
        # with galaxies, whether the frame is a long-slit one is drawn first: galaxies go to imaging frames only
        spectrum = rng.random() < spectra_fraction if galaxy_fraction > 0 else None
        galaxy = spectrum is False and rng.random() < galaxy_fraction
        spec = FrameSpec(
            seeing=float(rng.uniform(1.5, 5.0)),
            psf=str(rng.choice(["moffat", "gaussian"])),
            sky=float(np.exp(rng.uniform(np.log(30.0), np.log(3000.0)))),
            gain=float(rng.uniform(1.0, 4.0)),
            readnoise=float(rng.uniform(3.0, 10.0)),
            cr_density=draw_density(rng, cr_density, cr_density_low),
            resolved_galaxies=1.0 if galaxy else 0.0,
        )
        frame = make_frame(shape, spec, rng=rng, footprints=footprints)
        electrons = np.asarray(frame.ccd.data, dtype=np.float32) * np.float32(spec.gain)
        if spectrum is None:  # without galaxies it is drawn here, as before the option existed
            spectrum = rng.random() < spectra_fraction
        if spectrum:
            electrons += add_long_slit(shape, spec.seeing, rng)
        touched = frame.crmask | frame.faint
        clean = electrons.copy()
        clean[touched] = ndimage.median_filter(electrons, size=5)[touched]
        ignore = frame.faint | (frame.hot & ~frame.crmask) if hot_pixels == "ignore" else frame.faint
        samples.append(Sample(image=electrons, mask=frame.crmask, ignore=ignore, clean=clean,
                              sky=float(spec.sky + spec.dark)))
    return FramePool(samples)


def augment_sky(sample: Sample, rng: np.random.Generator, low: float = -0.9, high: float = 3.0,
                noise: bool = False) -> Sample:
    """deepCR's sky augmentation: add ``a * sky`` with ``a`` uniform in [``low``, ``high``].

    Emulates an exposure ``(1 + a)`` times as long with sources ``1 + a``
    times fainter (Zhang & Bloom 2020; Bhavanam et al. 2022, §2.3). With
    ``noise``, a positive offset also brings its Poisson noise (Gaussian of
    variance equal to the offset, in electrons), as a real brighter sky
    would; this is what changes noise-unit input (a noiseless offset does
    not), so negative offsets are then left out.
    """
    offset = float(rng.uniform(low, high) * sample.sky)
    if noise:
        offset = offset if offset > 0 else 0.0  # max() would keep a negative zero
        extra = np.float32(offset) + rng.normal(0.0, np.sqrt(offset), sample.image.shape).astype(np.float32)
    else:
        extra = np.float32(offset)
    return replace(sample, image=sample.image + extra, clean=sample.clean + extra, sky=sample.sky + offset)


def grow_truth(sample: Sample, nsigma: float, iterations: int = 3) -> Sample:
    """Grow a sample's truth into the neighbours that stand ``nsigma`` above their local background.

    Real cosmic-ray masks made from repeats are seeds grown into their
    significant neighbours (the SPRAT masks: 5 sigma seeds grown at 2 sigma,
    ``../shared/data/README.md``), so they hold the faint wings of each
    track; truth from injected charge does not, because the footprint
    catalogue stops at its own detection threshold. This gives injected
    cosmic rays the same definition: up to ``iterations`` rings of
    8-connected neighbours are added where the image is ``nsigma`` above its
    local background (`crmask.growth.local_significance`, the measure the
    detectors' wing growth uses), with the background noise of the clean
    image.

    Parameters
    ----------
    sample : Sample
        A whole frame with its truth.
    nsigma : float
        Significance a neighbour needs.
    iterations : int
        Rings grown at most.

    Returns
    -------
    Sample
        The sample with the grown truth; pixels added to it leave ``ignore``.
    """
    from crmask.ccd import pixel_noise
    from crmask.growth import local_significance

    good = ~(sample.mask | sample.ignore)
    sigma = pixel_noise(sample.clean, good)
    level = float(np.median(sample.clean[good])) if good.any() else 0.0
    truth = sample.mask.copy()
    square = np.ones((3, 3), dtype=bool)
    for _ in range(iterations):
        ring = ndimage.binary_dilation(truth, structure=square) & ~truth
        if not ring.any():
            break
        ys, xs = np.nonzero(ring)
        keep = local_significance(sample.image, (ys, xs), sigma, level) >= nsigma
        if not keep.any():
            break
        truth[ys[keep], xs[keep]] = True
    return replace(sample, mask=truth, ignore=sample.ignore & ~truth)


def split_footprints(path: str, part: str):
    """Training or validation footprints of a catalogue, never the reserved test ones.

    Footprints with ``fp_id % 5 == 0`` are reserved for benchmarks
    (``crmask.data.footprints``); of the others, ``fp_id % 5 == 1`` validate
    (``part="val"``) and the rest train (``part="train"``).
    """
    from crmask.data.footprints import load_footprints

    if part not in ("train", "val"):
        raise ValueError(f"part must be 'train' or 'val', got {part!r}")
    library = load_footprints(path, subset="train")
    is_val = library.fp_id % 5 == 1
    return library.select(np.flatnonzero(is_val if part == "val" else ~is_val))


def synthetic_training_data(
    footprints_path: str,
    seed: int,
    n_train: int = 32,
    n_val: int = 8,
    frame_size: int = 512,
    cr_density: float = 1000.0,
    spectra_fraction: float = 0.0,
    cr_density_low: float | None = None,
    hot_pixels: str = "clean",
    galaxy_fraction: float = 0.0,
) -> tuple[FramePool, list[Sample]]:
    """Synthetic training pool and validation frames with disjoint real CR footprints.

    The validation frames use seed ``seed + 1`` and the validation
    footprints (see `split_footprints`), at a quarter of the training CR
    density, closer to real exposures. ``cr_density_low`` applies to the
    training frames only (`draw_density`), ``hot_pixels`` and ``galaxy_fraction`` to both (`synthetic_pool`).
    """
    pool = synthetic_pool(n_train, (frame_size, frame_size), seed,
                          split_footprints(footprints_path, "train"), cr_density, spectra_fraction, cr_density_low,
                          hot_pixels, galaxy_fraction)
    val = synthetic_pool(n_val, (frame_size, frame_size), seed + 1,
                         split_footprints(footprints_path, "val"), cr_density / 4, spectra_fraction,
                         hot_pixels=hot_pixels, galaxy_fraction=galaxy_fraction)
    return pool, val.samples
