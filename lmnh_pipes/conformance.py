"""Whether a component has what the runner will call: refused when the pipeline is built, not half-way through a run.

A component must have the one method that makes it what it is (a source's ``read``, a validator's ``validate``, a
sink's ``write``); the other lifecycle methods may be left out (see :mod:`lmnh_pipes.capabilities`). A component
that has some members of a capability but not all (a ``write_batch`` without ``stored_positions``: a misspelling,
or an older plug-in) would quietly deliver differently from what its author meant, so it is refused too.
"""

from __future__ import annotations

import inspect
from typing import Any, Protocol

from . import auditing, capabilities, delivery, positioning, replaying
from .registry import Kind

__all__ = ["CAPABILITIES", "REQUIRED", "conformance_problems", "members"]

#: The method each kind of component must have.
REQUIRED: dict[Kind, str] = {"source": "read", "validator": "validate", "sink": "write"}

#: The capabilities the core looks for, by the kind of component it looks for them on.
CAPABILITIES: dict[Kind, tuple[type[Any], ...]] = {
    "source": (
        capabilities.OfflineCheck,
        capabilities.OnlineCheck,
        capabilities.Readiness,
        capabilities.Sized,
        capabilities.FractionDone,
        capabilities.Tappable,
        capabilities.Decoding,
        delivery.ResumingSource,
        delivery.ReplayableSource,
        delivery.DrainingSource,
        delivery.HoldingSource,
        delivery.NamedPositions,
        positioning.PositionedSource,
        positioning.LaggingSource,
    ),
    "validator": (capabilities.OfflineCheck, capabilities.OnlineCheck),
    "sink": (
        capabilities.OfflineCheck,
        capabilities.OnlineCheck,
        capabilities.Routing,
        capabilities.Refusing,
        delivery.TransactionalSink,
        delivery.BufferingSink,
        delivery.OverwritingSink,
        delivery.NamedTransaction,
        delivery.KeepableOutput,
        replaying.RejectStore,
        replaying.ReplayTransaction,
        replaying.JournalingStore,
        replaying.RewindableSink,
        replaying.OutputKeeper,
        positioning.PositionMover,
        auditing.OffsetAccounting,
    ),
}


def members(protocol: type[Any]) -> dict[str, bool]:
    """The public names a Protocol declares (its Protocol bases' included), each with whether it is a method."""
    names: dict[str, bool] = {}
    for cls in protocol.__mro__:
        if cls is Protocol or Protocol not in cls.__bases__:
            continue
        names.update((n, inspect.isfunction(v)) for n, v in vars(cls).items() if not n.startswith("_"))
    return names


def conformance_problems(component: object, kind: Kind) -> list[str]:
    """What the runner would miss on ``component`` used as a ``kind``: one sentence each, naming the method.

    Members are looked up on the object, as ``isinstance`` does with a runtime-checkable Protocol."""
    problems: list[str] = []
    required = REQUIRED[kind]
    if not callable(getattr(component, required, None)):
        problems.append(f"it has no {required}() method, which every {kind} needs")
    for protocol in CAPABILITIES[kind]:
        wanted = members(protocol)
        present = sorted(n for n in wanted if hasattr(component, n))
        if present and len(present) < len(wanted):
            missing = ", ".join(sorted(set(wanted) - set(present)))
            problems.append(
                f"it implements part of {protocol.__name__} ({', '.join(present)}) but not {missing}: "
                f"implement all of it, or none"
            )
        not_methods = [n for n in present if wanted[n] and not callable(getattr(component, n))]
        if not_methods:
            problems.append(f"its {', '.join(not_methods)} of {protocol.__name__} must be a method")
    return problems
