"""Class activation maps (CAM) of the frame DenseNet on tiled full frames.

For class ``k`` the CAM is ``CAM_k(x, y) = Σ_i w_i^k a_i(x, y)`` (Poliszczuk et al. 2024,
eq. 1), with ``a_i`` the network's last convolutional activations and
``w_i^k`` its classifier weights; averaged over ``(x, y)`` and plus the bias
``b_k`` it gives the class logit. CAMs are bilinearly upsampled from 16×16
to the 64×64 sub-frame.

Full frames (512×512 for a WFI quadrant) are cut into 64×64 sub-frames, as
the network was trained on, and the sub-frames' CAMs are stitched back. An
event filter needs the CAMs only near events, so `compute_cams` can run the
network on a chosen subset of sub-frames: the values it returns there are
the same as on the fully processed frame.

This module imports torch; import it only when CAMs are needed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from crmask.exceptions import InvalidImageError

from .densenet import FrameDenseNet

__all__ = ["TILE", "native_cams", "predict_tiles", "TiledCAMs", "tiles_around", "compute_cams"]

#: Sub-frame size the network classifies, in pixels (Poliszczuk et al. 2024, §2).
TILE = 64


def native_cams(model: FrameDenseNet, frames_kev: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """CAMs at the network's final resolution, and the class logits.

    Parameters
    ----------
    model : FrameDenseNet
    frames_kev : torch.Tensor, shape (batch, 1, H, W)

    Returns
    -------
    cams : torch.Tensor, shape (batch, n_classes, H/4, W/4)
        ``Σ_i w_i^k a_i(x, y)`` without the bias.
    logits : torch.Tensor, shape (batch, n_classes)
        The network's output; equals ``cams.mean((2, 3)) + bias``.
    """
    activations = model.features(frames_kev)
    cams = torch.einsum("kc,bchw->bkhw", model.classifier.weight, activations)
    logits = model.classifier(activations.mean(dim=(2, 3)))
    return cams, logits


def predict_tiles(
    model: FrameDenseNet,
    tiles_kev: np.ndarray,
    *,
    batch_size: int = 256,
    device: str | torch.device = "cpu",
) -> tuple[np.ndarray, np.ndarray]:
    """Upsampled CAMs and class probabilities of sub-frames.

    Parameters
    ----------
    model : FrameDenseNet
        Put in evaluation mode here.
    tiles_kev : numpy.ndarray, shape (n, T, T)
        Sub-frames in keV.
    batch_size : int
        Sub-frames per forward pass.
    device : str or torch.device
        Where to run the network (``"cpu"`` or ``"cuda"``).

    Returns
    -------
    cams : numpy.ndarray, float32, shape (n, n_classes, T, T)
        CAMs bilinearly upsampled to the sub-frame size.
    probabilities : numpy.ndarray, float32, shape (n, n_classes)
        Softmax of the logits.
    """
    model.eval()
    n, size = tiles_kev.shape[0], tiles_kev.shape[-1]
    n_classes = model.config.n_classes
    cams = np.empty((n, n_classes, size, size), dtype=np.float32)
    probabilities = np.empty((n, n_classes), dtype=np.float32)
    with torch.no_grad():
        for start in range(0, n, batch_size):
            batch = torch.as_tensor(
                np.ascontiguousarray(tiles_kev[start:start + batch_size], dtype=np.float32), device=device
            ).unsqueeze(1)
            low, logits = native_cams(model, batch)
            up = F.interpolate(low, size=(size, size), mode="bilinear", align_corners=False)
            cams[start:start + len(batch)] = up.cpu().numpy()
            probabilities[start:start + len(batch)] = torch.softmax(logits, dim=1).cpu().numpy()
    return cams, probabilities


@dataclass
class TiledCAMs:
    """CAMs and class probabilities of (some of) the sub-frames of a frame stack.

    Attributes
    ----------
    cams : numpy.ndarray, float32, shape (m, n_classes, T, T)
        CAMs of the computed sub-frames.
    probabilities : numpy.ndarray, float32, shape (m, n_classes)
        Their class probabilities.
    lookup : numpy.ndarray, int64, shape (n_frames, n_tiles_y, n_tiles_x)
        Row of ``cams`` holding each sub-frame, ``-1`` where not computed.
    shape : tuple of int
        ``(ny, nx)`` of the frames.
    """

    cams: np.ndarray
    probabilities: np.ndarray
    lookup: np.ndarray
    shape: tuple[int, int]

    def _rows(self, frame: np.ndarray, y: np.ndarray, x: np.ndarray) -> np.ndarray:
        rows = self.lookup[frame, y // TILE, x // TILE]
        if np.any(rows < 0):
            raise ValueError("CAMs were not computed for some of the requested sub-frames")
        return rows

    def values(self, frame, y, x, cls: int) -> np.ndarray:
        """CAM of class ``cls`` at pixels ``(frame, y, x)``; NaN outside the frame.

        Parameters
        ----------
        frame, y, x : array-like of int
            Pixel coordinates (broadcast together).
        cls : int
            Class index (see `crmask_wfi.camrf.densenet.FRAME_CLASSES`).
        """
        frame, y, x = np.broadcast_arrays(np.asarray(frame), np.asarray(y), np.asarray(x))
        inside = (y >= 0) & (y < self.shape[0]) & (x >= 0) & (x < self.shape[1])
        out = np.full(frame.shape, np.nan, dtype=np.float32)
        fi, yi, xi = frame[inside], y[inside], x[inside]
        out[inside] = self.cams[self._rows(fi, yi, xi), cls, yi % TILE, xi % TILE]
        return out

    def tile_probabilities(self, frame, y, x) -> np.ndarray:
        """Class probabilities of the sub-frame holding each pixel, shape ``(..., n_classes)``."""
        frame, y, x = np.broadcast_arrays(np.asarray(frame), np.asarray(y), np.asarray(x))
        return self.probabilities[self._rows(frame, y, x)]

    def images(self) -> np.ndarray:
        """Stitch the CAMs into frames, shape ``(n_frames, n_classes, ny, nx)``; NaN where not computed."""
        n, ty, tx = self.lookup.shape
        n_classes = self.cams.shape[1]
        full = np.full((n, n_classes, ty * TILE, tx * TILE), np.nan, dtype=np.float32)
        for f, j, i in zip(*np.nonzero(self.lookup >= 0)):
            full[f, :, j * TILE:(j + 1) * TILE, i * TILE:(i + 1) * TILE] = self.cams[self.lookup[f, j, i]]
        return full[:, :, : self.shape[0], : self.shape[1]]


def tiles_around(shape: tuple[int, int, int], frame, y, x, half_width: int) -> np.ndarray:
    """Sub-frames touched by ``(2 half_width + 1)``-pixel square windows around pixels.

    Parameters
    ----------
    shape : tuple of int
        ``(n_frames, ny, nx)`` of the frame stack.
    frame, y, x : array-like of int
        Window centres.
    half_width : int
        Half the window size (2 for the 5×5 windows of Poliszczuk et al. 2024).

    Returns
    -------
    numpy.ndarray of bool, shape (n_frames, n_tiles_y, n_tiles_x)
    """
    n, ny, nx = shape
    ty, tx = -(-ny // TILE), -(-nx // TILE)
    needed = np.zeros((n, ty, tx), dtype=bool)
    frame, y, x = (np.asarray(a, dtype=np.int64) for a in (frame, y, x))
    for dy in (-half_width, half_width):
        for dx in (-half_width, half_width):
            yy = np.clip(y + dy, 0, ny - 1) // TILE
            xx = np.clip(x + dx, 0, nx - 1) // TILE
            needed[frame, yy, xx] = True
    return needed


def compute_cams(
    model: FrameDenseNet,
    frames_kev: np.ndarray,
    *,
    tiles: np.ndarray | None = None,
    batch_size: int = 256,
    device: str | torch.device = "cpu",
) -> TiledCAMs:
    """Run the network on the 64×64 sub-frames of a stack of frames.

    Parameters
    ----------
    model : FrameDenseNet
    frames_kev : numpy.ndarray, shape (n_frames, ny, nx)
        Frames in keV. Sizes that are not multiples of 64 are padded with
        zeros (no signal) to whole sub-frames.
    tiles : numpy.ndarray of bool, shape (n_frames, n_tiles_y, n_tiles_x), optional
        Sub-frames to process (see `tiles_around`); default: all of them.
    batch_size : int
        Sub-frames per forward pass.
    device : str or torch.device

    Returns
    -------
    TiledCAMs

    Raises
    ------
    InvalidImageError
        If ``frames_kev`` is not a 3-D stack, or pixel values so large that
        the network's outputs overflow to infinity or NaN.
    """
    frames_kev = np.asarray(frames_kev, dtype=np.float32)
    if frames_kev.ndim != 3:
        raise InvalidImageError(f"expected frames of shape (n, ny, nx), got shape {frames_kev.shape}")
    n, ny, nx = frames_kev.shape
    ty, tx = -(-ny // TILE), -(-nx // TILE)
    if tiles is None:
        tiles = np.ones((n, ty, tx), dtype=bool)
    elif tiles.shape != (n, ty, tx):
        raise ValueError(f"tiles must have shape {(n, ty, tx)}, got {tiles.shape}")
    padded = np.pad(frames_kev, ((0, 0), (0, ty * TILE - ny), (0, tx * TILE - nx)))
    grid = padded.reshape(n, ty, TILE, tx, TILE).transpose(0, 1, 3, 2, 4)
    selected = np.nonzero(tiles)
    cams, probabilities = predict_tiles(model, grid[selected], batch_size=batch_size, device=device)
    finite = np.isfinite(cams).reshape(len(cams), -1).all(axis=1) & np.isfinite(probabilities).all(axis=1)
    if not finite.all():
        frame = int(selected[0][np.argmin(finite)])
        raise InvalidImageError(
            f"frame {frame}: the network's class activation maps overflow "
            f"(pixel values up to {np.abs(frames_kev[frame]).max():.3g} keV); mask such pixels"
        )
    lookup = np.full((n, ty, tx), -1, dtype=np.int64)
    lookup[selected] = np.arange(len(selected[0]))
    return TiledCAMs(cams=cams, probabilities=probabilities, lookup=lookup, shape=(ny, nx))
