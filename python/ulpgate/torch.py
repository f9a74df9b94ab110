"""PyTorch adapters: an op call's tensors as torch tensors of their real dtype, outputs written from
torch tensors by name, scales read and written through the case's layout. With them an adapter for
a typical kernel is a few lines:

    import ulpgate, ulpgate.torch as ut

    def kernel(call):                                 # quant.group on arch "sm90": CUDA tensors
        x = ut.input(call, "x")                        # torch.bfloat16 [M, K]
        q, s = my_group_quant(x, call.params["group_size"], ut.fp8_dtype(call))
        ut.write(call, "codes", q)                     # torch.float8_e4m3fn [M, K], any strides
        ut.write_scales(call, s)                       # logical [M, K / group_size] fp32, any layout

    ulpgate.judge(case, kernel, arch="sm90").check()

Raise ulpgate.Refused for a shape the kernel does not take.
"""
import torch

from . import Refused, scale_layout  # noqa: F401  (Refused re-exported for adapters)

FP8 = {
    "e4m3fn": torch.float8_e4m3fn,
    "e4m3fnuz": torch.float8_e4m3fnuz,
    "e5m2": torch.float8_e5m2,
    "e5m2fnuz": torch.float8_e5m2fnuz,
}
# Tensors holding fp8 codes, and the parameter naming their format.
_CODE_FORMAT = {"codes": "format", "a": "a_format", "b": "b_format"}
_SCALE_INPUTS = ("scale_a", "scale_b")


def fp8_dtype(call, param="format"):
    """The torch float8 dtype of a format parameter ("format", "a_format", "b_format")."""
    return FP8[call.params[param]]


def _tensor(call, name):
    t = call.inputs.get(name) or call.outputs.get(name)
    if t is None:
        raise KeyError(f"{call.op} has no tensor {name!r} (inputs {sorted(call.inputs)}, outputs {sorted(call.outputs)})")
    return torch.from_dlpack(t)


def _typed(call, name, t):
    if name in _CODE_FORMAT and t.dtype == torch.uint8:
        return t.view(FP8[call.params[_CODE_FORMAT[name]]])
    if name in _SCALE_INPUTS and not call.params.get("ue8m0", 0):
        return t.view(torch.float32)
    return t


def input(call, name):
    """An input in its real dtype, sharing the call's memory: bf16/fp16/fp32 as such, fp8 codes as
    torch float8, fp32 scale bytes as float32 (ue8m0 scale storage stays uint8)."""
    return _typed(call, name, _tensor(call, name))


def output(call, name):
    """An output as a writable view in its real dtype (write it in place, or use write())."""
    return _typed(call, name, _tensor(call, name))


def write(call, name, value):
    """Writes a tensor's elements, in its logical (row-major) order, as the output's bytes: any
    strides, any device; the sizes in bytes must agree. Waits for the copy: the suite reads the
    output when the kernel returns."""
    dst = _tensor(call, name).view(torch.uint8).reshape(-1)
    src = value.contiguous().view(torch.uint8).reshape(-1)
    if src.numel() != dst.numel():
        raise ValueError(f"{name}: {src.numel()} bytes written ({tuple(value.shape)} {value.dtype}), "
                         f"the output holds {dst.numel()}")
    dst.copy_(src)
    if dst.is_cuda or src.is_cuda:
        torch.cuda.synchronize()


def scale_shape(call):
    """The logical [rows, groups] of a quantizer's scales: [M, K / group_size] per group, [M, 1] per
    token, [ceil(M / 128), ceil(K / 128)] per 128x128 block, [1, 1] per tensor."""
    m, k = call.outputs["codes"].shape
    gs = call.params.get("group_size", k)
    if call.op == "quant.tensor":
        return 1, 1
    if call.op == "quant.block":
        return -(-m // gs), -(-k // gs)
    if call.params.get("scale_layout") == "token":
        return m, 1
    return m, -(-k // gs)


def _layout(call):
    rows, groups = scale_shape(call)
    return scale_layout(call.params["scale_layout"], rows, groups)


def write_scales(call, scales, name="scales"):
    """Writes logical [rows, groups] scales into the output through the case's scale_layout:
    fp32 values for row / col / col-tma / aiter-tview / token; for ue8m0 layouts (ue8m0-packed,
    mx-row, mx-swizzle-128x4) powers of two as float, or their exponent bytes as uint8 /
    float8_e8m0fnu. Padding gets the layout's defined bytes."""
    import numpy as np

    lay = _layout(call)
    s = scales.detach().reshape(lay.rows, lay.groups).cpu()
    storage = lay.padding.copy()
    if lay.scale_bytes == 4:
        b = s.to(torch.float32).contiguous().numpy().view(np.uint8).reshape(lay.rows, lay.groups, 4)
        for j in range(4):
            storage[lay.offsets + j] = b[..., j]
    elif s.dtype in (torch.uint8, getattr(torch, "float8_e8m0fnu", torch.uint8)):
        storage[lay.offsets] = s.contiguous().view(torch.uint8).numpy()
    else:
        bits = s.to(torch.float32).contiguous().numpy().view(np.uint32)
        storage[lay.offsets] = ((bits >> 23) & 0xFF).astype(np.uint8)  # the exponent of a power of two
    write(call, name, torch.from_numpy(storage))


def read_scales(call, name="scales"):
    """The logical [rows, groups] scales in an output (or input) through the case's scale_layout,
    as float32 (ue8m0 bytes decoded: 2^(e - 127), 0xFF as NaN)."""
    import numpy as np

    lay = _layout(call)
    storage = _tensor(call, name).view(torch.uint8).reshape(-1).cpu().numpy()
    if lay.scale_bytes == 4:
        b = np.stack([storage[lay.offsets + j] for j in range(4)], axis=-1)
        return torch.from_numpy(np.ascontiguousarray(b).view(np.float32).reshape(lay.rows, lay.groups).copy())
    e = storage[lay.offsets].astype(np.int32)
    v = np.where(e == 0xFF, np.nan, np.ldexp(np.float32(1), e - 127)).astype(np.float32)
    return torch.from_numpy(v)
