"""dimse: DICOM networking (DIMSE over the Upper Layer) with generated service classes.

The package is assembled from two trees: hand-written modules under ``src/dimse`` and
generated ones under ``generated/dimse`` (``sop_classes``, ``statuses``,
``service_classes``). ``extend_path`` lets both trees serve one package in a source
checkout; in a wheel they are already one directory.
"""

from pkgutil import extend_path

__path__ = extend_path(__path__, __name__)

__version__ = "0.1.0"

__all__ = ["AE", "IMPLEMENTATION_CLASS_UID", "IMPLEMENTATION_VERSION_NAME", "__version__"]


def __getattr__(name: str) -> object:
    """``from dimse import AE`` without importing the runtime for ``import dimse``."""
    if name == "AE":
        from dimse.ae import AE

        return AE
    if name in ("IMPLEMENTATION_CLASS_UID", "IMPLEMENTATION_VERSION_NAME"):
        from dimse import _implementation

        return getattr(_implementation, name)
    raise AttributeError(f"module 'dimse' has no attribute {name!r}")
