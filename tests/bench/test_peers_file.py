"""benchmarks/peers/peers.py: the bench-only ccdproc peer loads as a detector file and equals ``lacosmic``."""

from pathlib import Path

import numpy as np

import crmask
from crmask.bench.runner import load_detector_file
from crmask.testing import conformance_image

PEERS = Path(__file__).resolve().parents[2] / "benchmarks" / "peers" / "peers.py"


def test_peer_ccdproc_is_the_only_peer_and_equals_lacosmic(fresh_registry):
    classes = load_detector_file(PEERS)
    assert set(classes) == {"peer-ccdproc"}  # the published networks are installed detectors now
    ccd, truth = conformance_image()
    peer = classes["peer-ccdproc"](sigclip=4.0).detect(ccd)
    np.testing.assert_array_equal(peer.mask, crmask.get_detector("lacosmic", sigclip=4.0).detect(ccd).mask)
    assert (peer.mask & truth).sum() == truth.sum()
