"""lmnh-pipes: Source -> Validator chain -> Sink, with plug-ins.

>>> import lmnh_pipes
>>> pipeline = lmnh_pipes.load("pipeline.yaml")   # doctest: +SKIP
>>> report = pipeline.run(limit=1000)              # doctest: +SKIP
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from .batching import BatchOptions
from .config import load
from .errors import (
    ConfigError,
    EndOfInput,
    LmnhPipesError,
    PluginError,
    Problem,
    RecordRejectedError,
    RunError,
    TransientError,
)
from .hookspecs import hookimpl
from .interfaces import Sink, Source, Validator
from .pipeline import Pipeline
from .plan import DeliveryPlan, Guarantee
from .plugins import get_plugin_manager, get_registry
from .records import MISSING, Meta, Record, Rejection, json_default
from .registry import ComponentType, Registry
from .report import RunReport
from .retry import RetryPolicy
from .tuning import interpreter_tuned
from .validation import apply_validators, validate_all

try:
    __version__ = version("lmnh-pipes")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0+unknown"

__all__ = [
    "MISSING",
    "BatchOptions",
    "ComponentType",
    "ConfigError",
    "DeliveryPlan",
    "EndOfInput",
    "Guarantee",
    "LmnhPipesError",
    "Meta",
    "Pipeline",
    "PluginError",
    "Problem",
    "Record",
    "RecordRejectedError",
    "Registry",
    "Rejection",
    "RetryPolicy",
    "RunError",
    "RunReport",
    "Sink",
    "Source",
    "TransientError",
    "Validator",
    "__version__",
    "apply_validators",
    "get_plugin_manager",
    "get_registry",
    "hookimpl",
    "interpreter_tuned",
    "json_default",
    "load",
    "validate_all",
]
