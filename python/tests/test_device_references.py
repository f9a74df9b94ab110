"""References on the CUDA device from Python (issue 30): ULPGATE_DEVICE_REFERENCES=cuda in the
environment makes libulpgate.so compute a case's references on the GPU, read when each case starts.
A request it cannot serve is the case's error, naming why (everywhere); where PyTorch sees a GPU, a
torch quantizer on CUDA tensors is judged both ways: every result as with the host's references,
and the device's named in the story."""
import pytest

import ulpgate

CASE = "quant.token/vllm/e4m3fn/bf16/31x640/row/normal/s1"


def test_a_request_for_references_elsewhere_than_cuda_names_what_is_accepted(monkeypatch):
    monkeypatch.setenv("ULPGATE_DEVICE_REFERENCES", "rocm")
    with pytest.raises(ValueError, match="ULPGATE_DEVICE_REFERENCES=rocm: expected cuda"):
        ulpgate.judge(CASE, lambda call: None)


def test_references_on_cuda_without_a_device_say_why(monkeypatch):
    try:
        import torch

        if torch.cuda.is_available():
            pytest.skip("a CUDA device is present: the comparison below runs instead")
    except ImportError:
        pass
    monkeypatch.setenv("ULPGATE_DEVICE_REFERENCES", "cuda")
    with pytest.raises(ValueError, match="ULPGATE_DEVICE_REFERENCES=cuda: .*(cudaGetDeviceCount|no CUDA device|"
                                         "built without CUDA)"):
        ulpgate.judge(CASE, lambda call: None)


def test_a_torch_quantizer_on_the_gpu_gets_the_same_results_with_references_on_the_device(monkeypatch):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    from test_torch_adapters import torch_group_quant

    cases = [c for c in ulpgate.cases("quant.group/vllm/e4m3fn/bf16/*", arch="sm90") if "/normal" in c]
    assert len(cases) >= 4
    host = [ulpgate.judge(c, torch_group_quant, arch="sm90") for c in cases]
    monkeypatch.setenv("ULPGATE_DEVICE_REFERENCES", "cuda")
    device = [ulpgate.judge(c, torch_group_quant, arch="sm90") for c in cases]
    on_device = 0
    for h, d in zip(host, device):
        assert (h.verdict, h.max_ulp, h.digest) == (d.verdict, d.max_ulp, d.digest), (h.story, d.story)
        assert "references on" not in h.story
        on_device += "references on cuda" in d.story
    assert on_device >= len(cases) // 2, [d.story for d in device]
