"""U-Net architecture: published parameter counts, attention gates, input checks."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from crmask_unet.model import UNet, UNetConfig, count_parameters  # noqa: E402
from crmask_unet.parts import AttentionGate  # noqa: E402

# Bhavanam et al. (2022), Table 3: trainable parameters of the UNet-3-32 models.
TABLE_3 = {
    ("batch", False): 467_233,  # deepCR
    ("batch", True): 472_887,  # Att deepCR
    ("group", False): 465_953,  # Cosmic-CoNN
    ("group", True): 471_219,  # Att Cosmic-CoNN
}


@pytest.mark.parametrize(("norm", "attention"), sorted(TABLE_3))
def test_default_configurations_match_published_parameter_counts(norm, attention):
    model = UNet(UNetConfig(depth=3, width=32, norm=norm, attention=attention))
    assert count_parameters(model) == TABLE_3[norm, attention]


def test_gate_parameters_are_the_difference_between_attention_and_plain_models():
    for norm in ("batch", "group"):
        plain = count_parameters(UNet(UNetConfig(norm=norm)))
        gated = count_parameters(UNet(UNetConfig(norm=norm, attention=True)))
        gates = sum(count_parameters(AttentionGate(f, f // 2, norm)) for f in (32, 64))
        assert gated - plain == gates


def test_group_norm_has_no_learnable_parameters_and_eight_groups():
    model = UNet(UNetConfig(norm="group"))
    norms = [m for m in model.modules() if isinstance(m, torch.nn.GroupNorm)]
    assert norms and all(m.num_groups == 8 and not m.affine for m in norms)


@pytest.mark.parametrize("depth", [1, 2, 4])
def test_depth_and_width_are_parameters(depth):
    model = UNet(UNetConfig(depth=depth, width=4, norm="none"))
    size = 2 ** (depth - 1) * 3
    out = model(torch.zeros(2, 1, size, size))
    assert out.shape == (2, 1, size, size)
    assert len(model.downs) == len(model.ups) == depth - 1


def test_attention_gate_scales_skip_features_by_coefficients_in_0_1():
    gate = AttentionGate(8, 4, "none")
    x, g = torch.randn(1, 8, 6, 6), torch.randn(1, 8, 6, 6)
    alpha = gate.attention(x, g)
    assert alpha.shape == (1, 1, 6, 6) and bool(((alpha > 0) & (alpha < 1)).all())
    torch.testing.assert_close(gate(x, g), x * alpha)


def test_input_size_not_a_multiple_of_the_pooling_factor_is_explained():
    model = UNet(UNetConfig(depth=3, width=4))
    with pytest.raises(ValueError, match="multiples of 4"):
        model(torch.zeros(1, 1, 30, 32))


@pytest.mark.parametrize("bad", [{"depth": 0}, {"width": 3}, {"norm": "layer"}])
def test_invalid_configuration_is_rejected(bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        UNetConfig(**bad)


def test_group_eps_is_a_variance_floor_that_survives_saving(tmp_path):
    from crmask_unet.weights import Normalisation, load_weights, save_weights

    torch.manual_seed(0)
    sky = torch.randn(1, 1, 64, 64)  # noise-unit sky without cosmic rays
    spread = {}
    for eps in (1e-5, 1.0):
        model = UNet(UNetConfig(depth=2, width=8, norm="group", group_eps=eps)).eval()
        with torch.no_grad():
            first = model.inc[1](model.inc[0](sky))  # the first group normalisation's output
        spread[eps] = float(first.std())
        path = save_weights(tmp_path / f"eps{eps}.safetensors", model, "cosmic-conn", Normalisation("noise"))
        assert load_weights(str(path)).config.group_eps == eps
    assert spread[1e-5] == pytest.approx(1.0, abs=0.01)  # per-tile statistics: the noise becomes unit variance
    assert spread[1.0] < 0.7  # the floor keeps it at its own, smaller scale
    with pytest.raises(ValueError, match="group_eps must be positive"):
        UNetConfig(group_eps=0.0)
