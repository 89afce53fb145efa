"""How records are grouped into batches for writing."""

from __future__ import annotations

import attrs

from .options import option_doc
from .retry import positive

__all__ = ["BatchOptions"]


@attrs.frozen(kw_only=True)
class BatchOptions:
    """How records are grouped for writing: at most ``max_records``, waiting at most ``max_wait`` seconds.
    With ``overlap``, a full batch is written while the next is read and validated (the sinks' ``write`` then
    runs in a writer thread). The ``batch:`` mapping of a pipeline file sets these."""

    max_records: int = attrs.field(
        default=5000, validator=positive, metadata=option_doc("the most records a batch holds")
    )
    max_wait: float = attrs.field(
        default=1.0, validator=positive, metadata=option_doc("seconds a batch waits after its first record")
    )
    overlap: bool = attrs.field(
        default=True, metadata=option_doc("write a full batch while the next is read and validated")
    )
