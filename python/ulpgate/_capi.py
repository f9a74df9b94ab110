"""The C API of libulpgate.so (include/ulpgate/ulpgate.h), declared for ctypes."""
import ctypes
import os
from pathlib import Path

ABI_VERSION = 2


class DLDevice(ctypes.Structure):
    _fields_ = [("device_type", ctypes.c_int), ("device_id", ctypes.c_int)]


class DLDataType(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint8), ("bits", ctypes.c_uint8), ("lanes", ctypes.c_uint16)]


class DLTensor(ctypes.Structure):
    _fields_ = [
        ("data", ctypes.c_void_p),
        ("device", DLDevice),
        ("ndim", ctypes.c_int),
        ("dtype", DLDataType),
        ("shape", ctypes.POINTER(ctypes.c_int64)),
        ("strides", ctypes.POINTER(ctypes.c_int64)),
        ("byte_offset", ctypes.c_uint64),
    ]


class DLManagedTensor(ctypes.Structure):
    pass


Deleter = ctypes.CFUNCTYPE(None, ctypes.POINTER(DLManagedTensor))
DLManagedTensor._fields_ = [("dl_tensor", DLTensor), ("manager_ctx", ctypes.c_void_p), ("deleter", Deleter)]

PARAM_INT, PARAM_FLOAT, PARAM_TEXT = 0, 1, 2


class Param(ctypes.Structure):
    _fields_ = [
        ("name", ctypes.c_char_p),
        ("kind", ctypes.c_int),
        ("int_value", ctypes.c_int64),
        ("float_value", ctypes.c_double),
        ("text_value", ctypes.c_char_p),
    ]


class NamedTensor(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("tensor", DLTensor)]


class Call(ctypes.Structure):
    _fields_ = [
        ("op", ctypes.c_char_p),
        ("profile", ctypes.c_char_p),
        ("arch", ctypes.c_char_p),
        ("inputs", ctypes.POINTER(NamedTensor)),
        ("n_inputs", ctypes.c_int32),
        ("outputs", ctypes.POINTER(NamedTensor)),
        ("n_outputs", ctypes.c_int32),
        ("params", ctypes.POINTER(Param)),
        ("n_params", ctypes.c_int32),
        ("stream", ctypes.c_void_p),
    ]


class Result(ctypes.Structure):
    _fields_ = [
        ("case_id", ctypes.c_char_p),
        ("backend", ctypes.c_char_p),
        ("verdict", ctypes.c_char_p),
        ("passed", ctypes.c_int32),
        ("max_ulp", ctypes.c_double),
        ("digest", ctypes.c_uint64),
        ("story", ctypes.c_char_p),
    ]


REFUSED = -2  # ULPGATE_REFUSED


def _candidates():
    """ULPGATE_LIBRARY when set (a build of your own), else the library the wheel carries."""
    if os.environ.get("ULPGATE_LIBRARY"):
        yield os.environ["ULPGATE_LIBRARY"]
        return
    yield str(Path(__file__).with_name("libulpgate.so"))


def load():
    """libulpgate.so with its functions declared; OSError naming where it looked."""
    tried = []
    for path in _candidates():
        try:
            lib = ctypes.CDLL(path)
            lib.path = path
            break
        except OSError as e:
            tried.append(f"{path}: {e}")
    else:
        raise OSError("cannot load libulpgate.so (pip install the package, which builds it, or set ULPGATE_LIBRARY "
                      "to a build's harness/libulpgate.so): " + "; ".join(tried))
    msg = (ctypes.c_char_p, ctypes.c_size_t)
    lib.ulpgate_open.restype = ctypes.c_void_p
    lib.ulpgate_open.argtypes = (ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p) + msg
    lib.ulpgate_case_count.restype = ctypes.c_int32
    lib.ulpgate_case_count.argtypes = (ctypes.c_void_p,)
    lib.ulpgate_case_id.restype = ctypes.c_char_p
    lib.ulpgate_case_id.argtypes = (ctypes.c_void_p, ctypes.c_int32)
    step = (ctypes.POINTER(ctypes.POINTER(Call)), ctypes.POINTER(Result)) + msg
    lib.ulpgate_begin.restype = ctypes.c_int
    lib.ulpgate_begin.argtypes = (ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p) + step
    lib.ulpgate_begin_reveal.restype = ctypes.c_int
    lib.ulpgate_begin_reveal.argtypes = (ctypes.c_void_p, ctypes.c_char_p) + step
    lib.ulpgate_submit.restype = ctypes.c_int
    lib.ulpgate_submit.argtypes = (ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p) + step
    lib.ulpgate_model_chain.restype = ctypes.c_int
    lib.ulpgate_model_chain.argtypes = (ctypes.c_char_p,) * 3 + (ctypes.c_size_t,) * 2 + (ctypes.c_void_p,) * 5 + msg
    lib.ulpgate_encode.restype = ctypes.c_int
    lib.ulpgate_encode.argtypes = (ctypes.c_char_p, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p) + msg
    lib.ulpgate_gate.restype = ctypes.c_int
    lib.ulpgate_gate.argtypes = (ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int) + msg
    lib.ulpgate_golden_update.restype = ctypes.c_int
    lib.ulpgate_golden_update.argtypes = (ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p) + msg
    lib.ulpgate_report_html.restype = ctypes.c_int
    lib.ulpgate_report_html.argtypes = (ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p) + msg
    i64p = ctypes.POINTER(ctypes.c_int64)
    lib.ulpgate_scale_layout.restype = ctypes.c_int
    lib.ulpgate_scale_layout.argtypes = (ctypes.c_char_p, ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p, ctypes.c_void_p,
                                         i64p, ctypes.POINTER(ctypes.c_int32)) + msg
    lib.ulpgate_close.restype = None
    lib.ulpgate_close.argtypes = (ctypes.c_void_p,)
    return lib
