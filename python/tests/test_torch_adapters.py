"""ulpgate.torch on the CPU: a group quantizer written in plain PyTorch (s = amax / 448 in fp32,
x / s, clamp, cast to float8_e4m3fn; ue8m0 scales by exponent bits) judged through the adapters on
every scale layout of the vllm profile; skipped where PyTorch is not installed."""
import pytest

torch = pytest.importorskip("torch")

import ulpgate  # noqa: E402
import ulpgate.torch as ut  # noqa: E402

CASES = [c for c in ulpgate.cases("quant.group/vllm/e4m3fn/*") if "/normal_sigma" in c]


def pow2_by_exponent_bits(s):
    """vLLM's ue8m0 rounding: the exponent plus one where the mantissa is not zero."""
    bits = s.view(torch.int32)
    e = (bits >> 23) + ((bits & 0x7FFFFF) != 0).to(torch.int32)
    return (e << 23).view(torch.float32)


def torch_group_quant(call):
    x = ut.input(call, "x")
    assert x.dtype in (torch.bfloat16, torch.float32, torch.float16)
    gs, dtype = call.params["group_size"], ut.fp8_dtype(call)
    g = x.float().reshape(x.shape[0], -1, gs)
    s = torch.clamp(g.abs().amax(dim=-1), min=1e-10) / call.params["fp8_max"]
    if call.params["ue8m0"]:
        s = pow2_by_exponent_bits(s)
    q = (g / s[..., None]).clamp(-call.params["fp8_max"], call.params["fp8_max"]).to(dtype)
    ut.write(call, "codes", q.reshape(x.shape))
    ut.write_scales(call, s)


def test_the_catalog_covers_every_layout():
    layouts = {c.split("/")[6] for c in CASES}
    assert {"row", "col", "col-tma", "ue8m0-packed", "row.ue8m0"} <= layouts, layouts


@pytest.mark.parametrize("case", CASES, ids=str)
def test_a_torch_group_quantizer_follows_vllm_through_the_adapters(case):
    r = ulpgate.judge(case, torch_group_quant).check()
    assert r.verdict in ("exact", "within-budget")


def test_scales_written_and_read_back_through_each_layout():
    seen = {}

    def kernel(call):
        torch_group_quant(call)
        seen[call.params["scale_layout"]] = (ut.read_scales(call), call.outputs["scales"].numpy().copy())

    for case in CASES:
        ulpgate.judge(case, kernel)
    assert {"row", "col", "col-tma", "ue8m0-packed"} <= set(seen)
    for layout, (scales, storage) in seen.items():
        assert scales.dtype == torch.float32 and torch.isfinite(scales).all() and (scales > 0).all(), layout
    # col stores the transpose of row's bytes: the same logical scales land at other offsets.
    lay = ulpgate.scale_layout("col", 3, 2)
    assert lay.offsets.tolist() == [[0, 12], [4, 16], [8, 20]] and lay.scale_bytes == 4


def test_write_checks_the_size_and_fp8_codes_are_float8():
    def kernel(call):
        assert ut.output(call, "codes").dtype == torch.float8_e4m3fn
        ut.write(call, "codes", torch.zeros(3, dtype=torch.float8_e4m3fn))

    r = ulpgate.judge(CASES[0], kernel)
    assert r.verdict == "error" and "bytes written" in r.story


def test_a_refused_shape_is_the_verdict_error_with_the_rule():
    def kernel(call):
        raise ut.Refused("K must be a multiple of 512")

    r = ulpgate.judge(CASES[0], kernel)
    assert r.verdict == "error" and "K must be a multiple of 512" in r.story
