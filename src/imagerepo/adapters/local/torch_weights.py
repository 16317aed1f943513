"""Read a legacy (non-zip) PyTorch ``.pth`` state dict into numpy arrays, without torch.

Only the handful of globals a state dict needs are allowed, so a crafted file cannot run code.
Format (torch/serialization.py, ``_legacy_load``): five pickles -- magic number, protocol
version, system info, the object (tensors refer to storages by persistent id), the storage
keys -- followed by each storage as an int64 element count and its raw little-endian bytes.
"""

from __future__ import annotations

import collections
import io
import pickle
import struct
from collections.abc import Callable
from typing import IO, Any

import numpy as np
import numpy.typing as npt

_MAGIC = 0x1950A86A20F9469CFC6C
_PROTOCOL = 1001

_STORAGE_DTYPES: dict[str, np.dtype[Any]] = {
    "FloatStorage": np.dtype("<f4"),
    "DoubleStorage": np.dtype("<f8"),
    "HalfStorage": np.dtype("<f2"),
    "LongStorage": np.dtype("<i8"),
    "IntStorage": np.dtype("<i4"),
    "ShortStorage": np.dtype("<i2"),
    "CharStorage": np.dtype("i1"),
    "ByteStorage": np.dtype("u1"),
    "BoolStorage": np.dtype("?"),
}


class WeightsError(ValueError):
    """The file is not a legacy PyTorch state dict this reader understands."""


class _StorageType:
    def __init__(self, name: str) -> None:
        self.dtype = _STORAGE_DTYPES[name]


class _Storage:
    """Filled in after the main pickle, when the raw bytes are read."""

    def __init__(self, dtype: np.dtype[Any]) -> None:
        self.dtype = dtype
        self.array: npt.NDArray[Any] | None = None


class _TensorRef:
    def __init__(self, storage: _Storage, offset: int, size: tuple[int, ...], stride: tuple[int, ...]) -> None:
        self.storage, self.offset, self.size, self.stride = storage, offset, size, stride

    def resolve(self) -> npt.NDArray[Any]:
        base = self.storage.array
        if base is None:
            raise WeightsError("a tensor refers to a storage the file does not contain")
        item = base.itemsize
        needed = self.offset + sum((s - 1) * st for s, st in zip(self.size, self.stride, strict=True)) + 1
        if self.size and min(self.size) > 0 and needed > len(base):
            raise WeightsError("a tensor reaches past the end of its storage")
        view = np.lib.stride_tricks.as_strided(
            base[self.offset :],
            shape=self.size,
            strides=tuple(s * item for s in self.stride),
            writeable=False,
        )
        return np.array(view)  # own the memory, contiguous


def _rebuild_tensor_v2(
    storage: _Storage, offset: int, size: tuple[int, ...], stride: tuple[int, ...], *_: Any
) -> _TensorRef:
    return _TensorRef(storage, offset, tuple(size), tuple(stride))


def _rebuild_tensor(storage: _Storage, offset: int, size: tuple[int, ...], stride: tuple[int, ...]) -> _TensorRef:
    return _TensorRef(storage, offset, tuple(size), tuple(stride))


class _Unpickler(pickle.Unpickler):
    def __init__(self, f: IO[bytes], storages: dict[str, _Storage]) -> None:
        super().__init__(f)
        self.storages = storages

    def find_class(self, module: str, name: str) -> Any:
        allowed: dict[tuple[str, str], Callable[..., Any] | type] = {
            ("collections", "OrderedDict"): collections.OrderedDict,
            ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
            ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
        }
        if (module, name) in allowed:
            return allowed[(module, name)]
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        raise WeightsError(f"forbidden global in weights file: {module}.{name}")

    def persistent_load(self, pid: Any) -> Any:
        # ('storage', storage_type, key, location, numel[, view_metadata])
        if not (isinstance(pid, tuple) and pid and pid[0] == "storage"):
            raise WeightsError(f"unknown persistent id {pid!r}")
        storage_type, key = pid[1], str(pid[2])
        if not isinstance(storage_type, _StorageType):
            raise WeightsError("storage of an unknown type")
        if len(pid) > 5 and pid[5] is not None:
            raise WeightsError("storage views are not supported")
        if key not in self.storages:
            self.storages[key] = _Storage(storage_type.dtype)
        return self.storages[key]


def load_state_dict(data: bytes) -> dict[str, npt.NDArray[Any]]:
    """Parameter name -> array. Raises WeightsError on anything unexpected."""
    f = io.BytesIO(data)
    try:
        if pickle.load(f) != _MAGIC:  # noqa: S301 -- plain ints only: no globals in these pickles
            raise WeightsError("not a legacy PyTorch file (magic number)")
        if pickle.load(f) != _PROTOCOL:  # noqa: S301
            raise WeightsError("unsupported PyTorch protocol version")
        sys_info = _Unpickler(f, {}).load()
        if not isinstance(sys_info, dict) or not sys_info.get("little_endian", False):
            raise WeightsError("only little-endian files are supported")
        storages: dict[str, _Storage] = {}
        obj = _Unpickler(f, storages).load()
        keys = _Unpickler(f, storages).load()
        for key in keys:
            storage = storages.get(str(key))
            if storage is None:
                raise WeightsError(f"storage {key!r} is not used by any tensor")
            (numel,) = struct.unpack("<q", f.read(8))
            raw = f.read(numel * storage.dtype.itemsize)
            if len(raw) != numel * storage.dtype.itemsize:
                raise WeightsError("the file ends inside a storage")
            storage.array = np.frombuffer(raw, dtype=storage.dtype)
    except (pickle.UnpicklingError, EOFError, struct.error, TypeError, AttributeError, KeyError) as e:
        raise WeightsError(f"unreadable weights file: {e}") from e
    if isinstance(obj, dict) and "state_dict" in obj:
        obj = obj["state_dict"]
    if not isinstance(obj, dict):
        raise WeightsError("the file does not hold a state dict")
    return {str(k): v.resolve() for k, v in obj.items() if isinstance(v, _TensorRef)}
