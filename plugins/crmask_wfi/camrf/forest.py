"""Balanced random forest for the event classifier, stored without pickle.

Training uses imbalanced-learn's `~imblearn.ensemble.BalancedRandomForestClassifier`
(Chen, Liaw & Breiman 2004, the class-wise bootstrap of Poliszczuk et al. 2024, §3.3: each
tree sees a with-replacement sample of the minority class and an equally
large with-replacement sample of the majority class), Gini impurity and
``max_features`` features tried per split.

Prediction does not need scikit-learn: `ForestModel` holds each tree's node
arrays and walks them with numpy. The shipped file is a safetensors file
(`save` / `load`) with these tensors, for ``T`` trees of ``N`` nodes in all:

=================  =======  ======  ==========================================
tensor             dtype    shape   meaning
=================  =======  ======  ==========================================
``tree_offsets``   int64    (T+1,)  first node of each tree; tree ``t`` owns
                                    nodes ``tree_offsets[t]:tree_offsets[t+1]``
``children_left``  int16    (N,)    left child, index within the tree; -1 at
                   or int32         a leaf (scikit-learn's convention); int16
                                    when every tree has fewer than 32768 nodes
``children_right`` as left  (N,)    right child, as above
``feature``        int8     (N,)    feature tested at the node; -2 at a leaf
``threshold``      float32  (N,)    go left when ``x[feature] <= threshold``
``p_positive``     float32  (N,)    fraction of the positive class (CR) among
                                    the node's training samples
=================  =======  ======  ==========================================

and string metadata ``format`` (`FOREST_FORMAT`), ``format_version``
(`FOREST_FORMAT_VERSION`, checked on load), ``feature_names`` (JSON list) and
``training`` (JSON: library versions and fit parameters).

scikit-learn compares features cast to float32 with float64 thresholds.
`from_sklearn` stores the largest float32 not above each threshold, which
gives the same decision for every float32 input, so the numpy forest
reproduces ``predict_proba`` up to float32 rounding of the leaf fractions.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from crmask.exceptions import WeightsError

__all__ = ["FOREST_FORMAT", "FOREST_FORMAT_VERSION", "ForestModel", "fit_balanced_forest"]

#: Value of the ``format`` metadata key of a forest file.
FOREST_FORMAT = "crmask-wfi-forest"
#: Version of the layout described in the module docstring.
FOREST_FORMAT_VERSION = 1

_TENSORS = ("tree_offsets", "children_left", "children_right", "feature", "threshold", "p_positive")


def fit_balanced_forest(
    features: np.ndarray,
    is_positive: np.ndarray,
    *,
    n_trees: int = 1000,
    max_features: int = 3,
    seed: int = 0,
    n_jobs: int = 1,
):
    """Fit imbalanced-learn's balanced random forest (Gini, class-wise bootstrap).

    Parameters
    ----------
    features : numpy.ndarray, shape (n, n_features)
    is_positive : numpy.ndarray of bool, shape (n,)
        True for the minority (cosmic-ray) class.
    n_trees : int
        Trees in the ensemble (Poliszczuk et al. 2024: 1000).
    max_features : int
        Features tried at each split (Poliszczuk et al. 2024: 3).
    seed : int
        Random state of the bootstrap and the feature draws.
    n_jobs : int
        Parallel jobs for fitting.

    Returns
    -------
    imblearn.ensemble.BalancedRandomForestClassifier
        The fitted forest; convert it with `ForestModel.from_sklearn`.
    """
    from imblearn.ensemble import BalancedRandomForestClassifier

    is_positive = np.asarray(is_positive, dtype=bool)
    if is_positive.all() or not is_positive.any():
        raise ValueError("the training events must contain both classes (X-ray and cosmic ray)")
    forest = BalancedRandomForestClassifier(
        n_estimators=n_trees,
        criterion="gini",
        max_features=max_features,
        sampling_strategy="all",
        replacement=True,
        bootstrap=False,
        random_state=seed,
        n_jobs=n_jobs,
    )
    forest.fit(np.asarray(features, dtype=np.float32), is_positive.astype(np.int64))
    return forest


def _float32_floor(values: np.ndarray) -> np.ndarray:
    """Largest float32 not above each float64 value."""
    rounded = values.astype(np.float32)
    above = rounded.astype(np.float64) > values
    rounded[above] = np.nextafter(rounded[above], np.float32(-np.inf))
    return rounded


@dataclass
class ForestModel:
    """A random forest evaluated with numpy (see the module docstring for the arrays).

    Attributes
    ----------
    tree_offsets, children_left, children_right, feature, threshold, p_positive : numpy.ndarray
        The node arrays.
    feature_names : tuple of str
        Names of the input features, in column order.
    training : dict
        How the forest was fitted (library versions, parameters).
    """

    tree_offsets: np.ndarray
    children_left: np.ndarray
    children_right: np.ndarray
    feature: np.ndarray
    threshold: np.ndarray
    p_positive: np.ndarray
    feature_names: tuple[str, ...]
    training: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        n_nodes = int(self.tree_offsets[-1])
        for name in _TENSORS[1:]:
            if getattr(self, name).shape != (n_nodes,):
                raise ValueError(f"forest array {name!r} must have shape ({n_nodes},)")
        # Global child indices; a leaf points to itself so every walk can run to full depth.
        owner = np.repeat(np.arange(self.n_trees), np.diff(self.tree_offsets))
        base = self.tree_offsets[owner]
        leaf = self.children_left < 0
        index = np.arange(n_nodes)
        self._left = np.where(leaf, index, base + self.children_left.astype(np.int64))
        self._right = np.where(leaf, index, base + self.children_right.astype(np.int64))
        self._feature = np.where(leaf, 0, self.feature).astype(np.intp)
        self._threshold = np.where(leaf, np.float32(np.inf), self.threshold).astype(np.float32)
        self._depth = self._max_depth()

    @property
    def n_trees(self) -> int:
        """Number of trees."""
        return len(self.tree_offsets) - 1

    @property
    def max_depth(self) -> int:
        """Largest number of splits from a root to a leaf."""
        return self._depth

    @property
    def n_nodes(self) -> int:
        """Number of nodes in all trees."""
        return int(self.tree_offsets[-1])

    def _max_depth(self) -> int:
        nodes = self.tree_offsets[:-1].copy()
        depth = 0
        while True:
            nxt = self._left[nodes]
            moving = nxt != nodes
            nxt_r = self._right[nodes]
            if not moving.any():
                return depth
            # Follow both children of every internal node, breadth first.
            nodes = np.unique(np.concatenate([nxt[moving], nxt_r[moving]]))
            depth += 1

    @classmethod
    def from_sklearn(cls, forest, feature_names, training: dict | None = None) -> "ForestModel":
        """Export a fitted scikit-learn / imbalanced-learn forest classifier.

        Parameters
        ----------
        forest : sklearn.ensemble.RandomForestClassifier-like
            Binary classifier with ``estimators_`` whose classes are ``[0, 1]``.
        feature_names : sequence of str
        training : dict, optional
            Provenance stored with the forest.
        """
        if list(forest.classes_) != [0, 1]:
            raise ValueError(f"expected a binary forest with classes [0, 1], got {list(forest.classes_)}")
        trees = [estimator.tree_ for estimator in forest.estimators_]
        sizes = [tree.node_count for tree in trees]
        values = [tree.value[:, 0, :] for tree in trees]
        index_type = np.int16 if max(sizes) <= np.iinfo(np.int16).max else np.int32
        if forest.n_features_in_ > np.iinfo(np.int8).max:
            raise ValueError(f"at most {np.iinfo(np.int8).max} features are supported, got {forest.n_features_in_}")
        return cls(
            tree_offsets=np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64),
            children_left=np.concatenate([t.children_left for t in trees]).astype(index_type),
            children_right=np.concatenate([t.children_right for t in trees]).astype(index_type),
            feature=np.concatenate([t.feature for t in trees]).astype(np.int8),
            threshold=_float32_floor(np.concatenate([t.threshold for t in trees])),
            p_positive=np.concatenate([v[:, 1] / v.sum(axis=1) for v in values]).astype(np.float32),
            feature_names=tuple(feature_names),
            training=dict(training or {}),
        )

    def predict_proba(self, features: np.ndarray, *, chunk: int = 4096) -> np.ndarray:
        """Positive-class (CR) probability: the mean of the trees' leaf fractions.

        Parameters
        ----------
        features : numpy.ndarray, shape (n, n_features)
            Finite values, columns in `feature_names` order.
        chunk : int
            Samples evaluated at once (bounds memory to ``chunk × n_trees``).

        Returns
        -------
        numpy.ndarray, float64, shape (n,)
        """
        x = np.asarray(features, dtype=np.float32)
        if x.ndim != 2 or x.shape[1] != len(self.feature_names):
            raise ValueError(
                f"features must have shape (n, {len(self.feature_names)}) "
                f"for columns {list(self.feature_names)}, got {x.shape}"
            )
        if not np.isfinite(x).all():
            raise ValueError("features contain NaN or infinite values")
        out = np.empty(len(x), dtype=np.float64)
        roots = self.tree_offsets[:-1]
        for start in range(0, len(x), chunk):
            block = x[start:start + chunk]
            rows = np.arange(len(block))[:, None]
            nodes = np.broadcast_to(roots, (len(block), self.n_trees)).copy()
            for _ in range(self._depth):
                go_left = block[rows, self._feature[nodes]] <= self._threshold[nodes]
                nodes = np.where(go_left, self._left[nodes], self._right[nodes])
            out[start:start + chunk] = self.p_positive[nodes].astype(np.float64).mean(axis=1)
        return out

    def save(self, path: str | Path) -> None:
        """Write the forest as a safetensors file (format in the module docstring)."""
        from safetensors.numpy import save_file

        metadata = {
            "format": FOREST_FORMAT,
            "format_version": str(FOREST_FORMAT_VERSION),
            "feature_names": json.dumps(list(self.feature_names)),
            "training": json.dumps(self.training, sort_keys=True),
        }
        tensors = {name: np.ascontiguousarray(getattr(self, name)) for name in _TENSORS}
        save_file(tensors, str(path), metadata=metadata)

    @classmethod
    def load(cls, path: str | Path) -> "ForestModel":
        """Read a forest written by `save`, checking its format and version.

        Raises
        ------
        WeightsError
            If the file is not a crmask forest has another format version or lacks arrays.
        """
        from safetensors import safe_open

        with safe_open(str(path), framework="numpy") as handle:
            metadata = handle.metadata() or {}
            if metadata.get("format") != FOREST_FORMAT:
                raise WeightsError(f"{path} is not a {FOREST_FORMAT} file (format={metadata.get('format')!r})")
            version = metadata.get("format_version")
            if version != str(FOREST_FORMAT_VERSION):
                raise WeightsError(
                    f"{path} has forest format version {version}; this crmask reads version "
                    f"{FOREST_FORMAT_VERSION}"
                )
            missing = [name for name in _TENSORS if name not in handle.keys()]
            if missing:
                raise WeightsError(f"{path} lacks forest array(s) {missing}")
            arrays = {name: handle.get_tensor(name) for name in _TENSORS}
        return cls(
            **arrays,
            feature_names=tuple(json.loads(metadata["feature_names"])),
            training=json.loads(metadata.get("training", "{}")),
        )
