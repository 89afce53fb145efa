"""lmnh-pipes: Source -> Validator chain -> Sink, with plug-ins.

>>> import lmnh_pipes
>>> pipeline = lmnh_pipes.load("pipeline.yaml")   # doctest: +SKIP
>>> report = pipeline.run(limit=1000)              # doctest: +SKIP
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from .batching import BatchOptions
from .breaker import RejectLimit
from .config import load
from .decoding import DecodeError, decode_object, decode_value
from .errors import (
    ConfigError,
    EndOfInput,
    LmnhPipesError,
    PluginError,
    Problem,
    RecordRejectedError,
    RejectLimitError,
    RunError,
    TransientError,
)
from .hookspecs import hookimpl
from .interfaces import Sink, Source, Validator
from .jsonfiles import list_locations, load_json_objects
from .options import Option, option_doc, options_of
from .pipeline import Pipeline
from .plan import DeliveryPlan, Guarantee
from .plugins import get_plugin_manager, get_registry
from .records import MISSING, FieldPath, Meta, Record, Rejection, json_default
from .registry import ComponentType, Registry
from .replay import ReplayReport
from .report import RunReport
from .retry import RetryPolicy
from .timeofday import parse_time_of_day, parse_time_zone
from .timestamps import TimestampError, parse_rfc3339, parse_rfc3339_exact
from .tuning import interpreter_tuned
from .validation import apply_validators, validate_all
from .values import describe_value, kind_of, show_names, show_value

try:
    __version__ = version("lmnh-pipes")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0+unknown"

__all__ = [
    "MISSING",
    "BatchOptions",
    "ComponentType",
    "ConfigError",
    "DecodeError",
    "DeliveryPlan",
    "EndOfInput",
    "FieldPath",
    "Guarantee",
    "LmnhPipesError",
    "Meta",
    "Option",
    "Pipeline",
    "PluginError",
    "Problem",
    "Record",
    "RecordRejectedError",
    "Registry",
    "RejectLimit",
    "RejectLimitError",
    "Rejection",
    "ReplayReport",
    "RetryPolicy",
    "RunError",
    "RunReport",
    "Sink",
    "Source",
    "TimestampError",
    "TransientError",
    "Validator",
    "__version__",
    "apply_validators",
    "decode_object",
    "decode_value",
    "describe_value",
    "get_plugin_manager",
    "get_registry",
    "hookimpl",
    "interpreter_tuned",
    "json_default",
    "kind_of",
    "list_locations",
    "load",
    "load_json_objects",
    "option_doc",
    "options_of",
    "parse_rfc3339",
    "parse_rfc3339_exact",
    "parse_time_of_day",
    "parse_time_zone",
    "show_names",
    "show_value",
    "validate_all",
]
