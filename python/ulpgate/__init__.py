"""Judge your own low-precision kernels against ulpgate's exact references, from Python.

    import ulpgate, ulpgate.torch as ut

    @pytest.mark.parametrize("case", ulpgate.cases("quant.group/vllm/*"), ids=str)
    def test_my_quant(case):
        def kernel(call):                      # called with the case's inputs and poisoned outputs
            q, s = my_quant(ut.input(call, "x"), call.params["group_size"], ut.fp8_dtype(call))
            ut.write(call, "codes", q)
            ut.write_scales(call, s)           # logical [M, K / group_size], any scale layout
        ulpgate.judge(case, kernel).check()    # AssertionError with the suite's story

The package carries libulpgate.so (built by pip from the repository's CMake); ULPGATE_LIBRARY
overrides it. Tensors are valid while the kernel runs: host memory for the host archs
(`torch.from_dlpack` and `numpy.from_dlpack` take them; bf16 as `Tensor.numpy()` bits), CUDA memory
for a GPU arch such as "sm90" (finish the GPU work before returning). Write outputs in place.
`ulpgate.torch` adapts PyTorch kernels; the pytest plugin (ulpgate.pytest_plugin, registered as a
pytest11 entry point) adds --ulpgate-arch / --ulpgate-golden / --ulpgate-html and the
`ulpgate_judge` fixture. The op call's tensors and parameters are described in
include/ulpgate/ulpgate.h.
"""
import ctypes
from dataclasses import dataclass

from . import _capi

__all__ = ["Tensor", "Call", "Refused", "Result", "Session", "cases", "judge", "reveal", "gate", "update_golden", "encode",
           "model_chain", "scale_layout", "library"]

_lib = None


def library():
    global _lib
    if _lib is None:
        _lib = _capi.load()
    return _lib


# ---- tensors -----------------------------------------------------------------------------------

_KDL_UINT, _KDL_FLOAT, _KDL_BFLOAT = 1, 2, 4
_KDL_CPU = 1
_NAMES = {(_KDL_BFLOAT, 16): "bf16", (_KDL_FLOAT, 16): "fp16", (_KDL_FLOAT, 32): "fp32", (_KDL_UINT, 8): "bytes"}
_NUMPY = {"bf16": "uint16", "fp16": "float16", "fp32": "float32", "bytes": "uint8"}

# DLManagedTensors handed to consumers, kept alive until their deleter runs.
_exported = {}


@_capi.Deleter
def _release(managed):
    _exported.pop(ctypes.addressof(managed.contents), None)


_capsule_new = ctypes.pythonapi.PyCapsule_New
_capsule_new.restype = ctypes.py_object
_capsule_new.argtypes = (ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p)


class Tensor:
    """One tensor of an op call: DLPack-exportable host memory."""

    def __init__(self, name, dl):
        self.name = name
        self._dl = dl
        self.shape = tuple(dl.shape[i] for i in range(dl.ndim))
        self.dtype = _NAMES.get((dl.dtype.code, dl.dtype.bits), f"dl{dl.dtype.code}:{dl.dtype.bits}")

    @property
    def nbytes(self):
        n = 1
        for s in self.shape:
            n *= s
        return n * self._dl.dtype.bits // 8

    @property
    def device(self):
        """(DLPack device type, id): (1, 0) for host memory, (2, n) for CUDA device n."""
        return (self._dl.device.device_type, self._dl.device.device_id)

    def __dlpack_device__(self):
        return self.device

    def __dlpack__(self, stream=None, **kwargs):
        managed = _capi.DLManagedTensor()
        managed.dl_tensor = self._dl
        managed.deleter = _release
        _exported[ctypes.addressof(managed)] = managed
        return _capsule_new(ctypes.addressof(managed), b"dltensor", None)

    def numpy(self):
        """A numpy view of the memory (bf16 as its uint16 bits; fp8 codes and scale storage as bytes)."""
        import numpy as np

        if self.device[0] != _KDL_CPU:
            raise ValueError(f"{self.name} is in device memory {self.device}: use torch.from_dlpack")
        buf = (ctypes.c_uint8 * self.nbytes).from_address(self._dl.data or 0) if self.nbytes else bytearray()
        return np.frombuffer(buf, dtype=_NUMPY.get(self.dtype, "uint8")).reshape(self.shape)

    def __repr__(self):
        return f"Tensor({self.name}, {self.dtype}, {list(self.shape)})"


class Refused(Exception):
    """Raised by a kernel that does not take its input, naming its rule (ULPGATE_REFUSED): a pass
    where the case's spec allows the refusal (an all-reduce of a view that is not weakly
    contiguous), the verdict `error` elsewhere."""


class Call:
    """What the suite asks of the kernel: op, profile, arch, parameters, inputs and outputs by name."""

    def __init__(self, c):
        self.op = c.op.decode()
        self.profile = c.profile.decode()
        self.arch = c.arch.decode()
        self.params = {}
        for i in range(c.n_params):
            p = c.params[i]
            self.params[p.name.decode()] = (p.int_value, p.float_value, (p.text_value or b"").decode())[p.kind]
        self.inputs = {c.inputs[i].name.decode(): Tensor(c.inputs[i].name.decode(), c.inputs[i].tensor) for i in range(c.n_inputs)}
        self.outputs = {c.outputs[i].name.decode(): Tensor(c.outputs[i].name.decode(), c.outputs[i].tensor) for i in range(c.n_outputs)}


# ---- cases and verdicts ------------------------------------------------------------------------

@dataclass(frozen=True)
class Result:
    case_id: str
    backend: str
    verdict: str
    passed: bool
    max_ulp: float
    digest: int
    story: str

    def check(self):
        """Raises AssertionError with the suite's story unless the case passed (pytest's shape)."""
        if not self.passed:
            raise AssertionError(self.story)
        return self


def _message():
    return ctypes.create_string_buffer(4096)


class Session:
    """Catalog cases matching a glob, judged for one arch under the backend name plugin:NAME@ARCH."""

    def __init__(self, filter="*", arch="host-w32", name="python"):
        lib = library()
        msg = _message()
        self._handle = lib.ulpgate_open(filter.encode(), arch.encode(), name.encode(), msg, len(msg))
        if not self._handle:
            raise ValueError(msg.value.decode())
        self.arch = arch
        self.results = []

    def __del__(self):
        if getattr(self, "_handle", None):
            library().ulpgate_close(self._handle)
            self._handle = None

    @property
    def cases(self):
        lib = library()
        return [lib.ulpgate_case_id(self._handle, i).decode() for i in range(lib.ulpgate_case_count(self._handle))]

    def judge(self, case_id, kernel, model=None):
        """Runs case_id with kernel(call) as its implementation, once per op call the case makes
        (an all-reduce calls twice); returns the Result. The kernel raises Refused for an input it
        does not take; any other exception is the verdict `error` with its message. model: for
        GEMM cases, the accumulator model the kernel claims ("sm90", "sm90-fast-accum", ...)."""
        claim = model.encode() if model else None
        r = self._drive(kernel, lambda call, out, msg: library().ulpgate_begin(
            self._handle, str(case_id).encode(), claim, ctypes.byref(call), ctypes.byref(out), msg, len(msg)))
        self.results.append(r)
        return r

    def reveal(self, case_id, kernel):
        """`ulpgate reveal` with kernel(call) as the kernel (a gemm.*, norm.* or allreduce/ case id:
        its shape and profile): the suite's designed calls, then what was revealed. Returns a Result
        whose story is the tree (GEMMs: and the model rows with it; RMSNorm: its sum of squares and
        its longest path against the r budget); verdict "exact" when an order was revealed, "error"
        when none was (not deterministic, not an ordered fp32 sum). Not recorded for gate()."""
        return self._drive(kernel, lambda call, out, msg: library().ulpgate_begin_reveal(
            self._handle, str(case_id).encode(), ctypes.byref(call), ctypes.byref(out), msg, len(msg)))

    def _drive(self, kernel, begin):
        """begin(call, out, msg), then every op call the suite hands out answered by kernel(call)."""
        lib = library()
        call, out, msg = ctypes.POINTER(_capi.Call)(), _capi.Result(), _message()
        rc = begin(call, out, msg)
        while rc == 0 and call:
            status, text = 0, b""
            try:
                kernel(Call(call.contents))
            except Refused as e:
                status, text = _capi.REFUSED, str(e).encode()
            except Exception as e:  # the suite reports it as the verdict `error`
                status, text = 1, f"{type(e).__name__}: {e}".encode()
            rc = lib.ulpgate_submit(self._handle, status, text, ctypes.byref(call), ctypes.byref(out), msg, len(msg))
        if rc != 0:
            raise ValueError(msg.value.decode())
        return Result(out.case_id.decode(), out.backend.decode(), out.verdict.decode(), bool(out.passed), out.max_ulp,
                      out.digest, out.story.decode())

    def gate(self, golden_dir, allow_new=False):
        """The golden-file gate over every case judged in this session (golden_dir is
        golden/<arch>): the report text; AssertionError with it on a drift, a regression or a new
        case (unless allow_new); ValueError for a missing or malformed golden file."""
        report = ctypes.create_string_buffer(1 << 20)
        code = library().ulpgate_gate(self._handle, str(golden_dir).encode(), int(allow_new), report, len(report))
        text = report.value.decode()
        if code == 2:
            raise ValueError(text)
        if code != 0:
            raise AssertionError(text)
        return text

    def report_html(self, path, golden_dir=None):
        """Writes the CLI's HTML report of every case judged in this session (with the gate's classes
        when golden_dir is given)."""
        msg = _message()
        if library().ulpgate_report_html(self._handle, str(path).encode(), str(golden_dir).encode() if golden_dir else None,
                                         msg, len(msg)):
            raise ValueError(msg.value.decode())

    def update_golden(self, golden_dir, device=None):
        """Writes this session's results as golden rows (device: the hardware, None for an emulation)."""
        report = ctypes.create_string_buffer(1 << 20)
        if library().ulpgate_golden_update(self._handle, str(golden_dir).encode(), (device or "").encode(), report, len(report)):
            raise ValueError(report.value.decode())
        return report.value.decode()


_default = {}


def _session(arch):
    if arch not in _default:
        _default[arch] = Session("", arch)
    return _default[arch]


def cases(filter="*", arch="host-w32"):
    """The CI-tier catalog case ids matching filter (a glob), for pytest.mark.parametrize."""
    return Session(filter, arch).cases


def judge(case_id, kernel, arch="host-w32", model=None):
    """Judges kernel(call) on one case; returns the Result (call .check() to assert it passed).
    model: the accumulator model a GEMM kernel claims."""
    return _session(arch).judge(case_id, kernel, model)


def reveal(case_id, kernel, arch="host-w32"):
    """The summation order of kernel(call) on the case's shape (see Session.reveal); arch selects
    the model rows it is matched against ("sm90" for a kernel on an H200)."""
    return _session(arch).reveal(case_id, kernel)


def gate(golden_dir, arch="host-w32", allow_new=False):
    """The golden-file gate over every case judge() ran for arch (see Session.gate)."""
    return _session(arch).gate(golden_dir, allow_new)


def update_golden(golden_dir, arch="host-w32", device=None):
    """Writes every case judge() ran for arch into golden_dir (see Session.update_golden)."""
    return _session(arch).update_golden(golden_dir, device)


@dataclass(frozen=True)
class ScaleLayout:
    """Where a logical [rows, groups] scale tensor lies in a layout's storage (the reference's own
    map): offsets[r, g] is the byte offset of scale (r, g), scale_bytes 4 (fp32) or 1 (a ue8m0
    exponent byte), padding the storage with every byte that holds no scale at its defined value."""
    name: str
    rows: int
    groups: int
    offsets: object  # numpy int64 [rows, groups]
    scale_bytes: int
    padding: object  # numpy uint8 [storage bytes]


def scale_layout(layout, rows, groups):
    """The ScaleLayout of a scale_layout parameter ("row", "col", "col-tma", "ue8m0-packed", ...)."""
    import numpy as np

    lib, msg = library(), _message()
    n, width = ctypes.c_int64(), ctypes.c_int32()
    if lib.ulpgate_scale_layout(layout.encode(), rows, groups, None, None, ctypes.byref(n), ctypes.byref(width), msg, len(msg)):
        raise ValueError(msg.value.decode())
    offsets = np.empty((rows, groups), dtype=np.int64)
    padding = np.empty(n.value, dtype=np.uint8)
    lib.ulpgate_scale_layout(layout.encode(), rows, groups, offsets.ctypes.data, padding.ctypes.data, ctypes.byref(n),
                             ctypes.byref(width), msg, len(msg))
    return ScaleLayout(layout, rows, groups, offsets, width.value, padding)


def encode(conversion, values):
    """The reference's codes for fp32 values (a numpy float32 array) under a conversion such as
    "e4m3fn:nosat" or "ue8m0:nosat:rn" (`ulpgate convert --to` syntax); a numpy uint8 array."""
    import numpy as np

    x = np.ascontiguousarray(values, dtype=np.float32)
    codes = np.empty(x.shape, dtype=np.uint8)
    msg = _message()
    if library().ulpgate_encode(conversion.encode(), x.ctypes.data, x.size, codes.ctypes.data, msg, len(msg)) != 0:
        raise ValueError(msg.value.decode())
    return codes


def model_chain(model, a_format, b_format, a, b, c=None, scale_exp=None):
    """An accumulator model's matrix instruction chained over K (ulpgate_model_chain): a, b are
    numpy uint8 codes [count, K] of a_format / b_format, c float32 [count] (None: zeros), scale_exp
    int32 [count, steps] (None: no scales inside the step). Returns float32 [count]."""
    import numpy as np

    a = np.ascontiguousarray(a, dtype=np.uint8)
    b = np.ascontiguousarray(b, dtype=np.uint8)
    if a.ndim != 2 or a.shape != b.shape:
        raise ValueError("a and b must be [count, K] code arrays of one shape")
    count, k = a.shape
    c = None if c is None else np.ascontiguousarray(c, dtype=np.float32)
    e = None if scale_exp is None else np.ascontiguousarray(scale_exp, dtype=np.int32)
    out = np.empty(count, dtype=np.float32)
    msg = _message()
    ptr = lambda x: None if x is None else x.ctypes.data
    if library().ulpgate_model_chain(model.encode(), a_format.encode(), b_format.encode(), count, k, a.ctypes.data,
                                     b.ctypes.data, ptr(c), ptr(e), out.ctypes.data, msg, len(msg)) != 0:
        raise ValueError(msg.value.decode())
    return out
