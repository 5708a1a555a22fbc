"""The four U-Net detectors: ``deepcr``, ``att-deepcr``, ``cosmic-conn``, ``att-cosmic-conn``.

They share one implementation, `UNetDetector`, which builds the network the
weights file describes; the subclasses only give the detector's name (the
architecture of the weights it accepts) and its default model.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from crmask import Detector, MaskResult, Param, PreparedImage
from crmask.ccd import background_noise
from crmask.detector import CALIBRATION_PARAMS
from crmask.devices import device_param, resolve_device
from crmask.growth import background_statistics, grow_probability
from crmask.inpaint import interpolate_bad_pixels
from crmask.isolated import PEAK_RATIO, isolated_hits
from crmask.threads import torch_threads
from crmask.tiling import apply_tiled

from .bright import EXTENT_SIGMA
from .mirrors import MIRRORS
from .weights import SCHEMES, LoadedWeights, WeightsError, file_sha256, load_weights, resolve_weights

__all__ = ["UNetDetector", "DeepCR", "AttDeepCR", "CosmicCoNN", "AttCosmicCoNN", "normalise", "background_noise",
           "ELECTRON_LIMIT", "TILE_MULTIPLE"]

#: ``tile`` and ``overlap`` must be multiples of this (the pooling factor of depth-3 models; deeper models
#: are checked against their own when they run).
TILE_MULTIPLE = 4
#: Default most pixels (context included) that a group-normalised network normalises together
#: (``block_pixels``): 2048 x 2048, about 1.2 GB at width 8.
BLOCK_PIXELS = 2 ** 22


#: Pixel values are clipped to +-this many electrons before normalisation: a hundred times the full well of
#: the largest CCD pixels (about 1e6 e-), so no real pixel is changed.
ELECTRON_LIMIT = 1e8


def normalise(electrons: np.ndarray, bad: np.ndarray, scheme: str, scale: float) -> np.ndarray:
    """Turn an image in electrons into network input.

    Bad pixels are first interpolated from the good pixels beside them
    (`crmask.inpaint.interpolate_bad_pixels`), so that they continue the
    scene around them: a masked line through a galaxy set to the image
    median would be a dark groove whose edges the network takes for cosmic
    rays.
    The median and the noise are those of the whole image, so tiles of one
    image see the same input.

    Parameters
    ----------
    electrons : numpy.ndarray
        2-D image in electrons.
    bad : numpy.ndarray
        Pixels to ignore (bool).
    scheme : {"scale", "median", "noise"}
        ``"scale"`` (deepCR): divide by ``scale``. ``"median"``
        (Cosmic-CoNN): subtract the median, then divide by ``scale``.
        ``"noise"``: background-subtracted image in units of its per-pixel
        noise, ``(x - b) / sqrt(sigma_b**2 + max(x - b - 2 sigma_b, 0))``
        with ``b`` the median, ``sigma_b`` the background noise
        (`crmask.ccd.background_noise`) and the Poisson noise of the charge of sources
        (anything more than 2 sigma_b above the background);
        the same scene looks the same at any exposure level, gain or read
        noise. ``scale`` is unused.

        Values beyond +-`ELECTRON_LIMIT` electrons are clipped to it first
        (corrupt pixels such as 1e30); the result is float32.
    scale : float
        Electrons per unit of input for ``"scale"`` and ``"median"``.
    """
    if scheme not in SCHEMES:
        raise ValueError(f"normalisation scheme must be one of {SCHEMES}, got {scheme!r}")
    # clipped far above any detector's full well, in one pass into float32: values such as 1e30 would otherwise
    # reach the network as inf or as activations that swamp their neighbours
    data = np.clip(electrons, -ELECTRON_LIMIT, ELECTRON_LIMIT, out=np.empty(np.shape(electrons), np.float32),
                   casting="unsafe")
    good = ~bad
    median = np.float32(np.median(data[good])) if good.any() else np.float32(0.0)
    if bad.any():
        data = interpolate_bad_pixels(data, bad)  # with no good pixel at all: zeros, the median taken above
    if scheme == "noise":
        data -= median
        sigma = np.float32(background_noise(data, good))
        variance = np.maximum(data - 2 * sigma, 0)
        variance += sigma**2
        np.sqrt(variance, out=variance)
        data /= variance
        return data
    if scheme == "median":
        data -= median
    data /= np.float32(scale)
    return data


class UNetDetector(Detector):
    """Cosmic-ray detection with a U-Net (deepCR / Cosmic-CoNN, optional attention gates).

    The image is converted to electrons, normalised as the original detector
    does it (see `normalise`), and passed through the network tile by tile
    (``tile`` pixels square with ``overlap`` pixels of context on every side,
    by default the network's receptive radius, so memory is bounded by the
    tile size). The result holds the CR
    probability map and the mask ``probability >= threshold``.

    With batch normalisation (deepCR) the network is local, so tiled and
    whole-image inference agree exactly away from the image border. Group
    normalisation (Cosmic-CoNN) normalises each feature map with statistics
    of the whole input, so such a network sees the whole image at once when
    it has at most ``block_pixels`` pixels, as in validation during training,
    where its epoch and threshold were chosen; a larger image is cut into
    square blocks of at most ``block_pixels`` pixels (context included), each
    normalised on its own. Their results do not depend on ``tile``, which
    sets the tiles of batch-normalised networks only. Weights that carry
    fixed group statistics (`crmask_unet.group_statistics`) normalise every
    image alike and run in tiles, as batch-normalised ones do.

    Structures brighter than anything in training are shown to the network
    again dimmed (`crmask_unet.bright.rescale_bright`, `bright_rule`).
    After the network, the probability is grown into the faint wings of
    what it found (`crmask.growth.grow_probability`, `wing_growth`), and
    isolated one-pixel hits, which the networks pass over, get probability
    1 (`crmask.isolated.isolated_hits`, `hit_rule`): each as the model card
    chose on real validation frames, unless the parameters say otherwise.

    References
    ----------
    Zhang, K. & Bloom, J. S. 2020, ApJ, 889, 24 (deepCR).
    Xu, C., McCully, C., Dong, B., Howell, D. A. & Sen, P. 2023, PASP, 135, 024504 (Cosmic-CoNN).
    Bhavanam, S. R. et al. 2022, Astronomy and Computing, 40, 100625 (attention gates).
    """

    summary = "U-Net cosmic-ray detector"
    requires = ("torch", "safetensors")
    needs = ("gain",)
    #: Shipped model (``arch.tag``, see `crmask.list_models`) loaded when ``weights`` is not given; its
    #: ``arch`` is the detector's name, the architecture every weights file the detector loads must have.
    default_weights: ClassVar[str] = ""

    parameters: ClassVar[dict[str, Param]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        if cls.default_weights:
            cls.parameters = cls._declare()
        super().__init_subclass__(**kwargs)  # checks the declarations

    @classmethod
    def _declare(cls) -> dict[str, Param]:
        """Parameter declarations, with the subclass's default weights."""
        return {
            "weights": Param(cls.default_weights, "Shipped model name (crmask models) or path to a "
                             ".safetensors file", type=str),
            "threshold": Param(None, "CR probability threshold; default: the model card's threshold",
                               low=0.0, high=1.0, allow_none=True),
            "tile": Param(512, "Tile side in pixels (a multiple of 4)", type=int, low=32, high=8192),
            "overlap": Param(None, "Context pixels on each tile side (a multiple of 4); default: the model's "
                             "receptive radius, with which tiled inference equals whole-image inference",
                             type=int, low=0, high=1024, allow_none=True),
            "device": device_param(),
            "threads": Param(None, "CPU threads for inference and wing growth; default: torch's setting",
                             type=int, low=1, high=1024, allow_none=True),
            "progress": Param(False, "Show per-tile progress on stderr when inference takes over "
                              "crmask.tiling.PROGRESS_DELAY seconds", type=bool),
            "block_pixels": Param(BLOCK_PIXELS, "Group-norm models without fixed statistics: most pixels normalised "
                                  "together (the whole image when it has fewer; else square blocks, context included)",
                                  type=int, low=64 * 64, high=2 ** 31),
            "mirrors": Param(None, "Mirror images the probability is averaged over (test-time augmentation): "
                             "'none', the image and its 'left-right', 'up-down' or 'half-turn' mirror image, or "
                             "'all' four; each image costs one network pass; default: the model card's, else 'none'",
                             type=str, choices=tuple(MIRRORS), allow_none=True),
            "wings": Param(True, "Grow detections into their faint wings (crmask.growth.grow_probability) as the "
                           "model card chose; False: never", type=bool),
            "wing_sigma": Param(None, "Significance above the local background a neighbour needs to be grown "
                                "into; default: the model card's (no growth when it has none)",
                                type=float, low=0.0, allow_none=True),
            "wing_weight": Param(None, "Fraction of a neighbour's probability a grown pixel gets; default: the "
                                 "model card's, else 0.5", type=float, low=0.0, high=1.0, low_open=True,
                                 allow_none=True),
            "hits": Param(True, "Flag isolated one-pixel hits (crmask.isolated.isolated_hits) beside the network, "
                          "as the model card chose; False: never", type=bool),
            "hit_sigma": Param(None, "Significance above the local background an isolated one-pixel hit needs; "
                               "default: the model card's (none flagged when it has none)",
                               type=float, low=0.0, low_open=True, allow_none=True),
            "hit_ratio": Param(None, "How many times its brightest neighbour's excess a hit's excess must be; "
                               f"default: the model card's, else {PEAK_RATIO:g}", type=float, low=1.0,
                               allow_none=True),
            "bright": Param(True, "Show structures brighter than training to the network again dimmed "
                            "(crmask_unet.bright.rescale_bright), as the model card chose; False: never", type=bool),
            "bright_sigma": Param(None, "Noise units from which a structure is brighter than training (noise-unit "
                                  "models only); default: the model card's (none rescaled when it has none)",
                                  type=float, low=EXTENT_SIGMA, low_open=True, allow_none=True),
            "bright_target": Param(None, "Noise units the brightest pixel of a dimmed structure reads; default: half "
                                   "of bright_sigma when that is given, else the model card's, else half of the "
                                   "card's bright_sigma", type=float, low=0.0, low_open=True, allow_none=True),
            "gain": CALIBRATION_PARAMS["gain"],
            "gain_key": CALIBRATION_PARAMS["gain_key"],
        }

    def __init__(self, **params: Any) -> None:
        self._loaded: tuple[LoadedWeights, Any] | None = None
        super().__init__(**params)

    def _check_params(self) -> None:
        p = self.params
        # an unknown name, another detector's model or a missing file fails here, once, not at every detect
        resolve_weights(p["weights"], self.name)
        for key in ("tile", "overlap"):
            if p[key] is not None and p[key] % TILE_MULTIPLE:
                raise ValueError(f"parameter {key!r} must be a multiple of {TILE_MULTIPLE}, got {p[key]}")
        if p["overlap"] is not None and p["tile"] <= 2 * p["overlap"]:
            raise ValueError(f"parameters 'tile' ({p['tile']}) and 'overlap' ({p['overlap']}) need tile > 2 * overlap")
        if p["device"] == "cuda":
            resolve_device("cuda")  # a missing GPU fails here, once, not at every detect
        self._loaded = None  # weights or device may have changed: load again on next use

    def fingerprint(self) -> str:
        """SHA-256 of the weights file: results of other weights under the same name are not reused."""
        return file_sha256(resolve_weights(self.params["weights"], self.name)[0])

    def _device(self):
        import torch

        return torch.device(resolve_device(self.params["device"]))

    def model(self):
        """Return ``(weights, network)``: the loaded weights and the network, prepared for inference.

        The network's batch normalisations are folded into its convolutions
        and it runs in the channels-last memory format
        (`crmask_unet.inference.prepare_for_inference`).
        """
        if self._loaded is None:
            from .inference import prepare_for_inference

            loaded = load_weights(self.params["weights"])
            if loaded.detector != self.name:
                raise WeightsError(
                    f"weights {self.params['weights']!r} are a {loaded.detector!r} model; detector {self.name!r} "
                    f"needs {self.name!r} weights"
                )
            self._loaded = (loaded, prepare_for_inference(loaded.network()).to(self._device()))
        return self._loaded

    def overlap(self) -> int:
        """Context pixels on each tile side: the ``overlap`` parameter, else the model's receptive radius."""
        if self.params["overlap"] is not None:
            return self.params["overlap"]
        config = self.model()[0].config
        return -(-config.receptive_radius // config.multiple) * config.multiple

    def probability(self, electrons: np.ndarray, bad: np.ndarray | None = None) -> np.ndarray:
        """CR probability map of an image in electrons (float32, image shape).

        Parameters
        ----------
        electrons : numpy.ndarray
            2-D image in electrons.
        bad : numpy.ndarray, optional
            Boolean mask of pixels to ignore: the network sees them
            interpolated from their neighbours, and their probability is 0.
        """
        import torch

        from .bright import rescale_bright
        from .inference import predict_mirrored

        loaded, network = self.model()
        multiple = loaded.config.multiple
        p = self.params
        overlap = self.overlap()
        for key, value in (("tile", p["tile"]), ("overlap", overlap)):
            if value % multiple:
                raise ValueError(f"parameter {key!r} must be a multiple of {multiple} for this model, got {value}")
        if p["tile"] <= 2 * overlap:
            raise ValueError(f"parameter 'tile' ({p['tile']}) must exceed twice the model's receptive radius "
                             f"({overlap}); use a larger tile")
        if bad is None:
            bad = np.zeros(electrons.shape, dtype=bool)
        data = normalise(electrons, bad, loaded.normalisation.scheme, loaded.normalisation.scale)
        device = next(network.parameters()).device
        mirrors = self.mirrors()

        def run_stack(stack: np.ndarray, mirrors: str = mirrors) -> np.ndarray:
            _, ny, nx = stack.shape
            pad = ((0, 0), (0, -ny % multiple), (0, -nx % multiple))
            padded = np.pad(stack, pad, mode="reflect" if min(ny, nx) > 1 else "edge")
            tensor = torch.from_numpy(np.ascontiguousarray(padded)).to(device)[:, None]
            return predict_mirrored(network, tensor, mirrors)[:, 0, :ny, :nx].cpu().numpy()

        def run_dimmed(stack: np.ndarray) -> np.ndarray:
            # bright structures' windows (rescale_bright, at most a tile's pixels at once) without mirror images,
            # each one decision made once; a window larger than a tile is tiled as the image is
            if stack[0].size > p["tile"] ** 2:
                return np.stack([infer(window, "none") for window in stack])
            return run_stack(stack, "none")

        def infer(array: np.ndarray, mirrors: str = mirrors) -> np.ndarray:
            def run(tile: np.ndarray) -> np.ndarray:
                return run_stack(tile[None], mirrors)[0]

            if loaded.config.norm == "group" and loaded.group_statistics is None:
                if array.size <= p["block_pixels"]:
                    return run(array)
                block = math.isqrt(p["block_pixels"]) // multiple * multiple
                if block <= 2 * overlap:
                    raise ValueError(f"parameter 'block_pixels' ({p['block_pixels']}) gives blocks of {block} pixels, "
                                     f"not more than twice the context ({overlap}); use a larger value")
                return apply_tiled(run, array, block, overlap, progress=p["progress"])
            return apply_tiled(run, array, p["tile"], overlap, progress=p["progress"])

        with torch_threads(p["threads"]):
            prob = infer(data)
            bright = self.bright_rule()
            if bright is not None:
                rescale_bright(prob, data, run_dimmed, bright["nsigma"], bright["target"], overlap, p["tile"] ** 2)
        prob[bad] = 0.0
        return prob

    def cpu_threads(self) -> int:
        """CPU threads the detector computes with: the ``threads`` parameter, else torch's setting."""
        if self.params["threads"] is not None:
            return int(self.params["threads"])
        import torch

        return torch.get_num_threads()

    def mirrors(self) -> str:
        """Mirror images the probability is averaged over: the ``mirrors`` parameter, else the model card's."""
        if self.params["mirrors"] is not None:
            return self.params["mirrors"]
        return self.model()[0].mirrors

    def _rule(self, switch: str, card: dict[str, float] | None, params: dict[str, str],
              defaults: dict[str, float]) -> dict[str, float] | None:
        """A rule applied beside the network: `None` when parameter ``switch`` is off or no ``nsigma`` is set,
        else each value from its parameter (``params`` maps keys to parameter names), the model card's entry
        ``card``, or ``defaults``."""
        if not self.params[switch]:
            return None
        card = card or {}
        rule = {key: self.params[name] if self.params[name] is not None else card.get(key, defaults.get(key))
                for key, name in params.items()}
        if rule["nsigma"] is None:
            return None
        return {key: float(value) for key, value in rule.items() if value is not None}

    def wing_growth(self) -> dict[str, float] | None:
        """The wing growth ``{"nsigma", "weight"}`` detection applies: parameters over the model card, or `None`."""
        return self._rule("wings", self.model()[0].wings, {"nsigma": "wing_sigma", "weight": "wing_weight"},
                          {"weight": 0.5})

    def hit_rule(self) -> dict[str, float] | None:
        """The isolated-hit rule ``{"nsigma", "ratio"}`` detection applies (`crmask.isolated.isolated_hits`):
        parameters over the model card, or `None`."""
        return self._rule("hits", self.model()[0].hits, {"nsigma": "hit_sigma", "ratio": "hit_ratio"},
                          {"ratio": PEAK_RATIO})

    def bright_rule(self) -> dict[str, float] | None:
        """The rescaling of bright structures ``{"nsigma", "target"}`` the network's map gets
        (`crmask_unet.bright.rescale_bright`): parameters over the model card, or `None`.

        Raises
        ------
        ValueError
            If it is asked of a model whose input is not in noise units.
        """
        loaded = self.model()[0]
        rule = self._rule("bright", loaded.bright, {"nsigma": "bright_sigma", "target": "bright_target"}, {})
        if rule is None:
            return None
        if self.params["bright_sigma"] is not None and self.params["bright_target"] is None:
            rule["target"] = rule["nsigma"] / 2  # the card's target goes with the card's bright_sigma only
        if loaded.normalisation.scheme != "noise":
            raise ValueError(f"bright structures are rescaled in noise units; weights {loaded.source!r} take "
                             f"{loaded.normalisation.scheme!r} input (leave bright_sigma unset)")
        rule.setdefault("target", rule["nsigma"] / 2)
        if rule["target"] > rule["nsigma"]:
            raise ValueError(f"parameter 'bright_target' ({rule['target']:g}) must not exceed bright_sigma "
                             f"({rule['nsigma']:g})")
        return rule

    def _detect(self, image: PreparedImage) -> MaskResult:
        loaded, _ = self.model()
        threshold = self.params["threshold"]
        if threshold is None:
            threshold = loaded.threshold if loaded.threshold is not None else 0.5
        # A value beyond ELECTRON_LIMIT is no pixel a detector can read (3e38 adu): the network sees it
        # interpolated from its neighbours, as a bad pixel, so that it disturbs no neighbour, and the pixel itself
        # is flagged.
        electrons = image.in_electrons  # a new array at each access: once
        corrupt = (np.abs(electrons) > ELECTRON_LIMIT) & ~image.bad
        unreadable = image.bad | corrupt
        prob = self.probability(electrons, unreadable)  # 0 at every unreadable pixel
        prob[corrupt] = 1.0
        wings, hits = self.wing_growth(), self.hit_rule()
        if wings is not None or hits is not None:
            sigma, level = background_statistics(electrons, ~unreadable)
        if wings is not None:
            prob = grow_probability(prob, electrons, nsigma=wings["nsigma"], weight=wings["weight"], bad=unreadable,
                                    sigma=sigma, level=level, workers=self.cpu_threads())
        if hits is not None:  # after the growth: a lone pixel has no wings to grow into
            prob[isolated_hits(electrons, nsigma=hits["nsigma"], ratio=hits["ratio"], bad=unreadable, sigma=sigma,
                               level=level, workers=self.cpu_threads())] = 1.0
        if not np.isfinite(prob).all():
            raise FloatingPointError(
                f"the network gave {int(np.sum(~np.isfinite(prob)))} non-finite probabilities; "
                f"check the weights {loaded.source!r}")
        return MaskResult(
            mask=prob >= threshold,
            probability=prob,
            threshold=float(threshold),
            meta={"weights": loaded.source, "wings": wings, "hits": hits, "bright": self.bright_rule(),
                  "mirrors": self.mirrors(), "model": {"arch": loaded.arch, **loaded.config.to_dict()}},
        )


class DeepCR(UNetDetector):
    """deepCR (Zhang & Bloom 2020): U-Net with batch normalisation."""

    name = "deepcr"
    summary = "deepCR U-Net (batch norm), tiled CPU/GPU inference"
    default_weights = "deepcr.general-16"


class AttDeepCR(UNetDetector):
    """deepCR with an attention gate at every skip connection (Bhavanam et al. 2022)."""

    name = "att-deepcr"
    summary = "deepCR U-Net with attention gates"
    default_weights = "att-deepcr.general"


class CosmicCoNN(UNetDetector):
    """Cosmic-CoNN (Xu et al. 2023): U-Net with group normalisation."""

    name = "cosmic-conn"
    summary = "Cosmic-CoNN U-Net (group norm), tiled CPU/GPU inference"
    default_weights = "cosmic-conn.general"


class AttCosmicCoNN(UNetDetector):
    """Cosmic-CoNN with an attention gate at every skip connection (Bhavanam et al. 2022)."""

    name = "att-cosmic-conn"
    summary = "Cosmic-CoNN U-Net with attention gates"
    default_weights = "att-cosmic-conn.general"
