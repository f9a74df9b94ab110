"""The Python package over libulpgate.so, without a GPU or PyTorch: a per-token FP8 quantizer
written in numpy the way the vllm profile says (spec/quant.md), judged case by case; kernels that
are wrong, raise, or leave outputs unwritten get the suite's verdicts and stories."""
import numpy as np
import pytest

import ulpgate

TOKEN_CASES = ulpgate.cases("quant.token/vllm/*")


def e4m3fn_codes(q):
    """float32 values (already clamped to +-448) to e4m3fn codes, round to nearest even."""
    codes = np.arange(0x7F, dtype=np.uint8)  # non-negative finite codes, 0x7f is NaN
    exp, man = codes >> 3, (codes & 7).astype(np.float64)
    values = np.where(exp == 0, man / 8 * 2.0**-6, (1 + man / 8) * 2.0 ** (exp.astype(np.float64) - 7))
    mag = np.abs(q.astype(np.float64))
    hi = np.clip(np.searchsorted(values, mag), 1, len(values) - 1)
    lo = hi - 1
    d_lo, d_hi = mag - values[lo], values[hi] - mag
    pick = np.where((d_hi < d_lo) | ((d_hi == d_lo) & (hi % 2 == 0)), hi, lo)
    out = codes[pick] | np.where(np.signbit(q), 0x80, 0).astype(np.uint8)
    return np.where(np.isnan(q), np.uint8(0x7F), out).astype(np.uint8)


def as_float32(t):
    x = t.numpy()
    return (x.astype(np.uint32) << 16).view(np.float32) if t.dtype == "bf16" else x.astype(np.float32)


def vllm_token_quant(call):
    """vLLM's dynamic per-token quantization: s = max(amax, 1e-10) / 448, q = x / s, clamp, cast
    (amax ignores NaN; the clamp is fminf(fmaxf(q, -max), max))."""
    assert call.op == "quant.token" and call.params["scale_layout"] == "token"
    x = as_float32(call.inputs["x"])
    fp8_max = np.float32(call.params["fp8_max"])
    amax = np.fmax.reduce(np.abs(x), axis=1, initial=np.float32(0)).astype(np.float32)
    s = np.maximum(amax, np.float32(1e-10)) / fp8_max
    with np.errstate(invalid="ignore", divide="ignore"):
        q = np.fmin(np.fmax(x / s[:, None], -fp8_max), fp8_max)  # C's fmaxf/fminf: NaN becomes -max
    call.outputs["codes"].numpy()[...] = e4m3fn_codes(q)
    call.outputs["scales"].numpy()[: 4 * len(s)] = s.astype(np.float32).view(np.uint8)


def test_the_package_loads_the_library_it_carries():
    import os
    from pathlib import Path

    lib = ulpgate.library()
    if not os.environ.get("ULPGATE_LIBRARY"):
        assert Path(lib.path) == Path(ulpgate.__file__).with_name("libulpgate.so")


def test_the_catalog_has_token_cases():
    assert len(TOKEN_CASES) >= 4
    assert all(c.startswith("quant.token/vllm/") for c in TOKEN_CASES)


@pytest.mark.parametrize("case", [c for c in TOKEN_CASES if "/e4m3fn/" in c], ids=str)
def test_a_numpy_kernel_of_the_vllm_profile_passes(case):
    r = ulpgate.judge(case, vllm_token_quant).check()
    assert r.max_ulp == 0 and r.backend == "plugin:python@host-w32" and r.digest != 0


def test_the_call_describes_tensors_and_parameters():
    seen = {}

    def kernel(call):
        seen.update(op=call.op, profile=call.profile, arch=call.arch, params=dict(call.params),
                    inputs={k: (t.dtype, t.shape) for k, t in call.inputs.items()},
                    outputs={k: (t.dtype, t.shape) for k, t in call.outputs.items()})
        vllm_token_quant(call)

    case = next(c for c in TOKEN_CASES if "/bf16/" in c and "/e4m3fn/" in c)
    m, k = (int(v) for v in case.split("/")[4].split("x"))
    ulpgate.judge(case, kernel).check()
    assert seen["op"] == "quant.token" and seen["profile"] == "vllm" and seen["arch"] == "host-w32"
    assert seen["inputs"] == {"x": ("bf16", (m, k))}
    assert seen["outputs"]["codes"] == ("bytes", (m, k)) and seen["outputs"]["scales"][0] == "bytes"
    assert seen["params"]["format"] == "e4m3fn" and seen["params"]["fp8_max"] == 448.0


def test_numpy_takes_the_tensors_through_dlpack():
    def kernel(call):
        x = call.inputs["x"]
        if x.dtype == "fp32":  # numpy has no bf16: those travel as Tensor.numpy() bits
            assert np.array_equal(np.from_dlpack(x), x.numpy())
        vllm_token_quant(call)

    for case in TOKEN_CASES:
        if "/e4m3fn/" in case:
            ulpgate.judge(case, kernel).check()


def test_e4m3fn_codes_under_e4m3fnuz_are_diagnosed():
    case = next(c for c in TOKEN_CASES if "/e4m3fnuz/" in c and "normal_sigma" in c)
    r = ulpgate.judge(case, vllm_token_quant)
    assert r.verdict == "layout" and "e4m3fn bytes read as e4m3fnuz" in r.story


def test_a_wrong_rounding_gets_a_story():
    def truncating(call):
        vllm_token_quant(call)
        codes = call.outputs["codes"].numpy()
        codes[...] = np.where((codes & 0x7F) > 0, codes - 1, codes)  # one code toward zero

    case = next(c for c in TOKEN_CASES if "normal" in c and "/e4m3fn/" in c)
    r = ulpgate.judge(case, truncating)
    assert not r.passed and r.verdict == "over-budget"
    assert "over budget" in r.story and "ulpgate repro " + case in r.story
    with pytest.raises(AssertionError, match="FAIL " + case.replace(".", r"\.")):
        r.check()


def test_an_exception_is_the_verdict_error_with_its_message():
    def raising(call):
        raise RuntimeError("my kernel has no K = %d" % call.inputs["x"].shape[1])

    r = ulpgate.judge(TOKEN_CASES[0], raising)
    assert r.verdict == "error" and "RuntimeError: my kernel has no K =" in r.story


def test_outputs_left_unwritten_are_caught_by_the_poison():
    r = ulpgate.judge(TOKEN_CASES[0], lambda call: None)
    assert not r.passed


def test_bad_ids_and_unsupported_cases_are_errors():
    with pytest.raises(ValueError, match="case id"):
        ulpgate.judge("not-a-case", vllm_token_quant)
    allreduce = ulpgate.cases("allreduce/*")[0]
    with pytest.raises(ValueError, match="all-reduce's ranks in host memory only"):
        ulpgate.judge(allreduce, vllm_token_quant, arch="sm90")


def to_dtype_bits(total, dtype):
    """float32 sums rounded once to dtype (round to nearest even), as element bits."""
    if dtype == "fp32":
        return total
    if dtype == "fp16":
        return total.astype(np.float16)
    u = total.view(np.uint32).astype(np.uint64)
    rounded = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)
    return np.where(np.isnan(total), (u >> 16).astype(np.uint16) | 0x40, rounded)


def one_shot_allreduce(call, calls=None):
    """The custom one-shot all-reduce in numpy: fp32 sums in rank order, rounded once; like the
    kernel, it refuses a view that does not fill its storage's tail or is not whole 16-byte packs."""
    world, lo, n = call.params["world"], call.params["offset"], call.params["count"]
    src = "y" if call.params["in_place"] else "x"
    storage = call.outputs["y.r0"]
    refuses = lo + n != storage.shape[0] or n * storage.nbytes // storage.shape[0] % 16
    if calls is not None:
        calls.append("refused" if refuses else "reduced")
    if refuses:
        raise ulpgate.Refused("takes weakly contiguous tensors of whole 16-byte packs")
    ranks = [as_float32(call.inputs.get(f"{src}.r{r}") or call.outputs[f"{src}.r{r}"])[lo:lo + n] for r in range(world)]
    total = np.zeros(n, np.float32)
    with np.errstate(invalid="ignore", over="ignore"):
        for x in ranks:
            total = total + x
        for r in range(world):
            call.outputs[f"y.r{r}"].numpy()[lo:lo + n] = to_dtype_bits(total, storage.dtype)


ONE_SHOT = [c for c in ulpgate.cases("allreduce/custom-1shot/*") if "/w8/" not in c or "fp32" in c][:24]


@pytest.mark.parametrize("case", ONE_SHOT, ids=str)
def test_a_numpy_one_shot_allreduce_is_exact(case):
    calls = []
    r = ulpgate.judge(case, lambda call: one_shot_allreduce(call, calls)).check()
    assert r.verdict == "exact"
    # A reduced case is asked twice (a repeat must give the same bits); a refusal once.
    assert calls in (["reduced", "reduced"], ["refused"])


def test_the_catalog_sample_has_refusals_and_in_place_cases():
    assert any("+" in c for c in ONE_SHOT) and any("/in-place/" in c for c in ONE_SHOT)


def test_an_allreduce_refusal_passes_only_where_the_spec_allows_it():
    allowed = ulpgate.judge("allreduce/custom-1shot/bf16/w2/4096@24+40/out-of-place/normal/s1", one_shot_allreduce)
    assert allowed.passed

    def refusing(call):
        raise ulpgate.Refused("takes nothing today")

    must = ulpgate.judge("allreduce/custom-1shot/bf16/w2/6152/out-of-place/normal/s1", refusing)
    assert must.verdict == "error" and "refused an input it must reduce" in must.story and "takes nothing today" in must.story


def test_ranks_that_disagree_are_caught():
    def rank1_off_by_one_ulp(call):
        one_shot_allreduce(call)
        call.outputs["y.r1"].numpy().view(np.uint32)[call.params["offset"]] ^= 1

    r = ulpgate.judge("allreduce/custom-1shot/fp32/w2/3076/out-of-place/normal/s1", rank1_off_by_one_ulp)
    assert r.verdict == "over-budget" and "rank 1 differs from rank 0 at 1 of 3076 elements" in r.story


def e4m3fn_values(codes):
    """e4m3fn codes to their float64 values (no NaN among GEMM test codes)."""
    c = codes.astype(np.int64)
    exp, man = (c >> 3) & 15, (c & 7).astype(np.float64)
    mag = np.where(exp == 0, man / 8 * 2.0**-6, (1 + man / 8) * 2.0 ** (exp - 7.0))
    return np.where(c & 0x80, -mag, mag)


def fp32_fma_tensor_gemm(call):
    """gemm.tensor (cublaslt: D = acc * fl(sa * sb)) with acc += a_k b_k in fp32, K ascending:
    an fp8 product is exact in fp32, so each fp32 add is fmaf's one rounding."""
    a = e4m3fn_values(call.inputs["a"].numpy())
    b = e4m3fn_values(call.inputs["b"].numpy())
    sa = call.inputs["scale_a"].numpy().view(np.float32)[0]
    sb = call.inputs["scale_b"].numpy().view(np.float32)[0]
    acc = np.zeros((a.shape[0], b.shape[0]), dtype=np.float32)
    for k in range(a.shape[1]):
        acc = acc + np.outer(a[:, k], b[:, k]).astype(np.float32)
    call.outputs["d"].numpy()[...] = acc * np.float32(sa * sb)


def test_a_gemm_kernel_that_claims_nothing_is_identified():
    case = next(c for c in ulpgate.cases("gemm.tensor/cublaslt/e4m3fn.e4m3fn/fp32/*") if "/normal/" in c)
    r = ulpgate.judge(case, fp32_fma_tensor_gemm).check()
    assert r.verdict == "exact" and "exact: 3040 elements, max 0 ulp: outputs follow fp32-fma (fp32 FMA, one chain over all K)" in r.story

    def zeros(call):
        call.outputs["d"].numpy()[...] = 0

    unexplained = ulpgate.judge(case, zeros)
    assert unexplained.verdict == "over-budget" and "no known accumulation reproduces the outputs" in unexplained.story
    wrong = ulpgate.judge(case, fp32_fma_tensor_gemm, model="sm90")
    assert wrong.verdict == "over-budget" and "outputs follow fp32-fma" in wrong.story and "claims sm90" in wrong.story


def test_reveal_finds_the_order_of_a_python_gemm_kernel():
    case = "gemm.tensor/cublaslt/e4m3fn.e4m3fn/fp32/2x16x300/normal/s1"
    r = ulpgate.reveal(case, fp32_fma_tensor_gemm)
    assert r.verdict == "exact", r.story
    assert "299 nodes add 1 K each (a leaf), up to K 299" in r.story and "order fp32-fma: reproduces the kernel" in r.story

    def backwards(call):  # K summed last to first
        a = e4m3fn_values(call.inputs["a"].numpy())
        b = e4m3fn_values(call.inputs["b"].numpy())
        acc = np.zeros((a.shape[0], b.shape[0]), dtype=np.float32)
        for k in reversed(range(a.shape[1])):
            acc = acc + np.outer(a[:, k], b[:, k]).astype(np.float32)
        call.outputs["d"].numpy()[...] = acc

    r = ulpgate.reveal(case, backwards)
    assert r.verdict == "exact" and "from the last K, descending" in r.story and "no order of the model family" in r.story, r.story


def lane_rmsnorm(call, lanes=8):
    """norm.rms in numpy: lane l adds the squares of elements l, l + lanes, ... in turn, the lanes
    are added pairwise (a butterfly), then y = bf16(x r w)."""
    def widen(bits):
        return (bits.astype(np.uint32) << 16).view(np.float32)
    x, w = widen(call.inputs["x"].numpy()), widen(call.inputs["weight"].numpy())
    with np.errstate(over="ignore", invalid="ignore"):
        squares = x * x
        acc = [np.zeros(x.shape[0], np.float32) for _ in range(lanes)]
        for e in range(x.shape[1]):
            acc[e % lanes] = acc[e % lanes] + squares[:, e]
        while len(acc) > 1:
            half = len(acc) // 2
            acc = [acc[i] + acc[i + half] for i in range(half)]
        r = np.float32(1) / np.sqrt(acc[0] / np.float32(x.shape[1]) + np.float32(call.params["eps"]))
        y = (x * r[:, None] * w).view(np.uint32)
    call.outputs["y"].numpy()[...] = ((y + 0x7FFF + ((y >> 16) & 1)) >> 16).astype(np.uint16)


def test_reveal_finds_the_sum_of_squares_tree_of_a_python_rmsnorm():
    r = ulpgate.reveal("norm.rms/vllm/bf16/2x64/normal/s1", lane_rmsnorm)
    assert r.verdict == "exact", r.story
    assert "8 chains of 8 elements" in r.story and "0, 8, 16, 24, ..., 56 (stride 8)" in r.story, r.story
    assert "subtrees of 1, 2, 4 chains (a pairwise tree of the chains)" in r.story, r.story


def test_encode_is_the_reference_conversion():
    x = np.array([1.064453125, 464.0, 465.0, -0.0, np.inf, np.nan], dtype=np.float32)
    assert list(ulpgate.encode("e4m3fn:nosat", x)[:4]) == [0x39, 0x7E, 0x7F, 0x80]  # 464 ties down to 448
    assert list(ulpgate.encode("e4m3fn:satfinite", x)) == [0x39, 0x7E, 0x7E, 0x80, 0x7E, 0x7F]
    assert list(ulpgate.encode("ue8m0:nosat:rn", np.array([1.5, 1.4, 0.25], np.float32))) == [128, 127, 125]
    with pytest.raises(ValueError, match="bf17"):
        ulpgate.encode("bf17", x)


def test_the_golden_gate_sees_every_bit_change(tmp_path):
    session = ulpgate.Session("quant.token/vllm/e4m3fn/*")
    for case in session.cases:
        session.judge(case, vllm_token_quant).check()
    with pytest.raises(ValueError, match="no golden file"):
        session.gate(tmp_path)
    assert "wrote" in session.update_golden(tmp_path)
    assert "identical" in session.gate(tmp_path)
    # One code one step off in one case: a drift if it still passes, a regression if it fails.
    def off_by_one(call):
        vllm_token_quant(call)
        codes = call.outputs["codes"].numpy()
        codes[0, 0] = codes[0, 0] + 1 if (codes[0, 0] & 0x7F) < 0x7E else codes[0, 0] - 1

    session.judge(session.cases[0], off_by_one)
    with pytest.raises(AssertionError, match="(drift|regression) +" + session.cases[0].replace(".", r"\.")):
        session.gate(tmp_path)
    other = ulpgate.Session("quant.token/sglang/e4m3fn/*")
    other.judge(other.cases[0], lambda call: None)
    with pytest.raises(ValueError, match="quant.csv"):
        other.gate(tmp_path / "nowhere")


def test_the_pull_api_hands_out_calls_and_takes_outputs_back():
    """ulpgate_begin / ulpgate_submit as a program without callbacks uses them (judge's own loop)."""
    import ctypes
    from ulpgate import _capi

    lib, session = ulpgate.library(), ulpgate.Session("quant.token/vllm/*")
    call, out, msg = ctypes.POINTER(_capi.Call)(), _capi.Result(), ctypes.create_string_buffer(4096)
    step = (ctypes.byref(call), ctypes.byref(out), msg, len(msg))
    case = next(c for c in TOKEN_CASES if "/e4m3fn/" in c).encode()

    assert lib.ulpgate_submit(session._handle, 0, b"", *step) != 0 and b"no case is waiting" in msg.value
    assert lib.ulpgate_begin(session._handle, case, None, *step) == 0 and call
    assert lib.ulpgate_begin(session._handle, case, None, *step) == 0 and call  # abandons the first
    vllm_token_quant(ulpgate.Call(call.contents))
    assert lib.ulpgate_submit(session._handle, 0, b"", *step) == 0 and not call
    judged = ulpgate.judge(case.decode(), vllm_token_quant)  # the callback-shaped way, same case
    assert out.passed and out.case_id == case and out.digest == judged.digest and out.verdict.decode() == judged.verdict
    assert lib.ulpgate_submit(session._handle, 0, b"", *step) != 0  # nothing waits any more
    assert lib.ulpgate_begin(session._handle, case, None, *step) == 0 and call
    failed = lib.ulpgate_submit(session._handle, 5, b"my kernel gave up", *step)
    assert failed == 0 and not call and out.verdict == b"error" and b"returned 5: my kernel gave up" in out.story
    assert lib.ulpgate_begin(session._handle, case, None, *step) == 0 and call
    del session  # closing with a call waiting abandons it without hanging


def test_a_gpu_arch_without_its_device_memory_is_an_error_not_host_memory():
    r = ulpgate.judge(TOKEN_CASES[0], vllm_token_quant, arch="gfx942")
    assert r.verdict == "error" and "rows for gfx942 take hip device memory" in r.story
