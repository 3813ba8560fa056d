"""paramcalc: exact parameter counts, output shapes and MACs of a neural network, from a spec."""

from typing import TYPE_CHECKING

__version__ = "0.1.0"

if TYPE_CHECKING:  # what __getattr__ below loads on first use, for type checkers
    from .analysis import Analysis
    from .api import analyze
    from .errors import SpecError
    from .report import Report
    from .spec import inline_spec, load_spec, parse_spec

__all__ = [
    "analyze",
    "Analysis",
    "load_spec",
    "parse_spec",
    "inline_spec",
    "Report",
    "SpecError",
    "__version__",
]

# Where each public name lives. They are imported on first use, so `import paramcalc` (and every
# `python -m paramcalc` command, `--help` included) loads only the modules it needs.
_HOMES = {
    "analyze": "api",
    "Analysis": "analysis",
    "load_spec": "spec",
    "parse_spec": "spec",
    "inline_spec": "spec",
    "Report": "report",
    "SpecError": "errors",
}


def __getattr__(name: str):
    from importlib import import_module

    if name not in _HOMES:  # a submodule, as `paramcalc.graph` after `import paramcalc`
        try:
            return import_module(f".{name}", __name__)
        except ModuleNotFoundError as e:
            if e.name != f"{__name__}.{name}":
                raise
            raise AttributeError(f"module 'paramcalc' has no attribute '{name}'") from None
    value = getattr(import_module(f".{_HOMES[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
