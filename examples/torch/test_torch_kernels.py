"""How a PyTorch user gates a kernel with ulpgate: one pytest case per catalog case, the suite's
story as the failure message. On a GPU machine:

    ULPGATE_LIBRARY=build/harness/libulpgate.so python3 -m pytest examples/torch/test_torch_kernels.py
"""
import pytest
import torch

import ulpgate

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

from torch_kernels import NORM_KERNELS, QUANT_KERNELS  # noqa: E402


# The kernel is vLLM's Triton fallback written from the vllm-triton profile's contract; the
# profile's scale is amax * fl(1/max) because Triton's fp32 division measured so on the H200.
@pytest.mark.parametrize("case", ulpgate.cases("quant.group/vllm-triton/e4m3fn/bf16/*/row/normal*"), ids=str)
def test_triton_group_quant_follows_vllm_triton(case):
    ulpgate.judge(case, QUANT_KERNELS["triton-group-quant"], arch="sm90").check()


@pytest.mark.parametrize("case", ulpgate.cases("quant.group/aiter/e4m3fn/*/row/*"), ids=str)
def test_triton_group_quant_follows_aiter(case):
    ulpgate.judge(case, QUANT_KERNELS["triton-group-quant"], arch="sm90").check()


@pytest.mark.parametrize("case", ulpgate.cases("norm.rms/hf/*"), ids=str)
def test_hf_rmsnorm_follows_the_hf_profile(case):
    ulpgate.judge(case, NORM_KERNELS["hf-rmsnorm-eager"], arch="sm90").check()
