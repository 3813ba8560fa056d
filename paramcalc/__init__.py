"""paramcalc: exact parameter counts, output shapes and MACs of a neural network, from a spec."""

from .analyze import analyze
from .errors import SpecError
from .report import Report
from .spec import inline_spec, load_spec, parse_spec

__version__ = "0.1.0"
__all__ = ["analyze", "load_spec", "parse_spec", "inline_spec", "Report", "SpecError", "__version__"]
