"""Budgets and expectations for `paramcalc check`: parsing limits like 25M or 100MiB, and
checking an Analysis against them. Pure: no I/O."""

from __future__ import annotations

import math
import re
from collections.abc import Collection
from typing import TYPE_CHECKING, Any, NamedTuple

from .errors import Loc, SpecError, describe, did_you_mean

if TYPE_CHECKING:
    from .analysis import Analysis

DECIMAL = {"": 1, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}
BINARY = {"KI": 2**10, "MI": 2**20, "GI": 2**30, "TI": 2**40}

# key -> (what it limits, is it a byte count)
LIMITS = {
    "max_params": ("params", False),
    "max_trainable": ("trainable", False),
    "max_macs": ("macs", False),
    "max_param_bytes": ("param_bytes", True),
}
# memory limits: per device, as `paramcalc memory` computes it, with the settings below from the spec's budget
MEMORY_LIMITS = {
    "max_train_memory": ("train memory per device", True),
    "max_inference_memory": ("inference memory per device", True),
    "max_train_peak": ("train peak per device", True),
}
LIMITS.update(MEMORY_LIMITS)
BYTE_OPTIONS = ("--gpu", "--reserve")  # `paramcalc memory`'s amounts of bytes
EXPECTATIONS = ("expect_params", "expect_output")
SETTINGS = (
    "precision",
    "optimizer",
    "batch",
    "zero",
    "devices",
    "checkpoint",
    "kv_cache",
    "weights",
    "attention",
    "device",
    "loss",
    "optimizer_impl",
)
KEYS = (*LIMITS, *EXPECTATIONS, *SETTINGS)

# Patterns compiled when first used (re keeps them): most runs read no budget.
_GROUPED = r"^[0-9]{1,3}(,[0-9]{3})+(\.[0-9]+)?$"  # 2,400 or 1,234,567.5; not 2,4
_NUMBER = r"(?i)^\s*([0-9][0-9_,]*(?:\.[0-9]+)?)\s*([KMGT]i?)?(B)?\s*$"


def parse_amount(value, key: str, loc: Loc | None = None) -> int:
    """25557032, "25M", "4.5G", "7B", "100MiB", "1.5 GB" -> an exact integer. K/M/G/T are decimal
    (B, billions, for counts), KiB/MiB/GiB/TiB binary (bytes only)."""
    from decimal import Decimal, InvalidOperation, localcontext  # here: most runs read no budget

    is_bytes = LIMITS.get(key, ("", key in BYTE_OPTIONS))[1]
    if isinstance(value, bool) or value is None:
        raise SpecError(f"{key} expects a number like 25M, found {describe(value)}", loc)
    if isinstance(value, float) and not math.isfinite(value):
        raise SpecError(f"{key} expects a finite number, found {describe(value)}", loc)
    if isinstance(value, float):
        value = format(Decimal(repr(value)), "f")  # 2.5e7 -> '25000000.0': read exactly, not as a float
    if isinstance(value, int):
        amount = value
    else:
        match = re.match(_NUMBER, str(value)) if len(str(value)) <= 64 else None
        if not match:
            units = "K, M, G, T (decimal) or KiB, MiB, GiB, TiB (binary)" if is_bytes else "K, M, G (or B) or T"
            raise SpecError(f"{key} expects a number with an optional unit ({units}), found {describe(value)}", loc)
        digits, unit, byte_suffix = match.groups()
        if "," in digits and not re.match(_GROUPED, digits):
            raise SpecError(
                f"{key}: ambiguous separator in {describe(value)}: a comma groups thousands "
                f"(2,400), a decimal point is '.' (2.4)",
                loc,
            )
        unit = (unit or "").upper()
        if byte_suffix and not unit and not is_bytes:  # 7B: billions, as parameter counts are written
            unit, byte_suffix = "G", None
        if (unit.endswith("I") or byte_suffix) and not is_bytes:
            raise SpecError(f"{key} counts elements, not bytes: use K, M, G (or B) or T, found {describe(value)}", loc)
        if unit.endswith("I") and not byte_suffix:
            raise SpecError(f"{key}: binary units are written KiB, MiB, GiB, TiB, found {describe(value)}", loc)
        try:
            number = Decimal(digits.replace("_", "").replace(",", ""))
        except InvalidOperation:
            raise SpecError(f"{key} expects a number, found {describe(value)}", loc) from None
        with localcontext() as context:
            context.prec = 100  # the text is at most 64 characters: exact
            exact = number * (BINARY.get(unit) or DECIMAL[unit])
        if exact != exact.to_integral_value():
            raise SpecError(f"{key} must come to a whole number, found {describe(value)} = {exact}", loc)
        amount = int(exact)
    if amount < 0:
        raise SpecError(f"{key} cannot be negative, found {amount}", loc)
    if amount > MAX_AMOUNT:
        raise SpecError(f"{key} is beyond any network (at most 10^30), found {describe(value)}", loc)
    return amount


MAX_AMOUNT = 10**30


def parse_shape_expectation(value, loc: Loc | None = None) -> list[int]:
    from .spec import parse_shape

    return list(parse_shape(value, loc or Loc("--expect-output", 1, 1), "expect_output"))


class Budget(NamedTuple):
    """One limit or expectation, and where it was set (a flag, or a line of the spec)."""

    key: str
    value: Any  # int, or a shape for expect_output
    source: str  # "flag" or "spec"
    loc: Loc | None = None


class Violation(NamedTuple):
    key: str
    limit: Any  # as Budget.value
    actual: Any
    source: str
    loc: Loc | None

    @property
    def kind(self) -> str:
        """'limit' (a max_ key exceeded) or 'expectation' (an expect_ key not met)."""
        return "limit" if self.key in LIMITS else "expectation"

    @property
    def message(self) -> str:
        if self.key == "expect_output":
            return f"output shape is {self.actual}, expected {self.limit}"
        if self.key == "expect_params":
            return f"params are {self.actual:,}, expected exactly {self.limit:,}"
        what, is_bytes = LIMITS[self.key]
        over = self.actual - self.limit
        if is_bytes:  # a person reads bytes in binary units; the exact count stays beside them
            from .units import human_bytes

            return (
                f"{what} {human_bytes(self.actual)} ({self.actual:,}) exceed {self.key} {human_bytes(self.limit)} "
                f"({self.limit:,}) by {human_bytes(over)} ({percent_text(over, self.limit)})"
            )
        return f"{what} {self.actual:,} exceed {self.key} {self.limit:,} by {over:,} ({percent_text(over, self.limit)})"


def percent_text(part: int, whole: int) -> str:
    """part/whole as a percentage with one decimal, exactly (no float overflow however large)."""
    from decimal import Decimal, localcontext

    with localcontext() as context:
        context.prec = len(str(abs(part))) + 8
        return f"{(Decimal(part) * 100 / max(whole, 1)).quantize(Decimal('0.1')):f}%"


def _setting_choices() -> dict[str, Collection[str]]:
    """The memory settings that take one of a few words, and those words."""
    from . import memory

    return {
        "precision": memory.PRECISIONS,
        "optimizer": memory.OPTIMIZERS,
        "weights": memory.WEIGHT_BITS,
        "attention": memory.ATTENTION,
        "device": memory.DEVICES,
        "loss": memory.LOSSES,
        "optimizer_impl": memory.OPTIMIZER_IMPLS,
    }


def setting_schema(key: str) -> dict:
    """The JSON Schema of a memory budget's setting."""
    choices = _setting_choices()
    if key in choices:
        return {"enum": list(choices[key])}
    if key == "checkpoint":
        return {"type": "boolean"}
    bounds = {"zero": {"minimum": 0, "maximum": 3}, "kv_cache": {"minimum": 0}}.get(key, {"minimum": 1})
    return {"type": "integer", **bounds}


def parse_setting(key: str, value, loc: Loc | None):
    """A memory budget's setting (precision: bf16-mixed, batch: 8, ...), checked as `paramcalc memory` checks it."""
    choices = _setting_choices()
    if key in choices:
        if not isinstance(value, str) or value not in choices[key]:
            raise SpecError(
                f"budget {key} expects one of {', '.join(choices[key])}, found {describe(value)}",
                loc,
                hint=did_you_mean(str(value), choices[key]),
            )
    elif key == "checkpoint":
        if not isinstance(value, bool):
            raise SpecError(f"budget checkpoint expects true or false, found {describe(value)}", loc)
    else:
        lowest = {"zero": 0, "kv_cache": 0}.get(key, 1)
        if isinstance(value, bool) or not isinstance(value, int) or value < lowest or (key == "zero" and value > 3):
            wanted = "0, 1, 2 or 3" if key == "zero" else f"an integer of at least {lowest}"
            raise SpecError(f"budget {key} expects {wanted}, found {describe(value)}", loc)
    return value


def parse_budget(key: str, value, source: str, loc: Loc | None = None) -> Budget:
    if key not in KEYS:
        raise SpecError(f"unknown budget key '{key}'", loc, hint=did_you_mean(key, KEYS) or "keys: " + ", ".join(KEYS))
    if key in SETTINGS:
        return Budget(key, parse_setting(key, value, loc), source, loc)
    parsed = parse_shape_expectation(value, loc) if key == "expect_output" else parse_amount(value, key, loc)
    return Budget(key, parsed, source, loc)


def spec_budgets(spec) -> dict[str, Budget]:
    return {key: parse_budget(key, value, "spec", loc) for key, (value, loc) in spec.budget.items()}


def check_budgets(analysis: Analysis, budgets: dict[str, Budget]) -> list[Violation]:
    report = analysis.report
    violations = []
    actual: int | list[int]
    for key, budget in budgets.items():
        if key in SETTINGS:
            continue
        if key in MEMORY_LIMITS:
            actual = memory_needed(analysis, budgets, train=key != "max_inference_memory", peak=key == "max_train_peak")
            failed = actual > budget.value
        elif key in LIMITS:
            actual = getattr(report.totals, LIMITS[key][0])
            failed = actual > budget.value
        elif key == "expect_params":
            actual = report.totals.params
            failed = actual != budget.value
        else:
            actual = report.output_shape
            failed = actual != budget.value
        if failed:
            violations.append(Violation(key, budget.value, actual, budget.source, budget.loc))
    return violations


def memory_needed(analysis: Analysis, budgets: dict[str, Budget], train: bool, peak: bool = False) -> int:
    """Bytes per device under the budget's settings (with `peak`, the training step's peak rather than
    the components' sum); a setting that does not apply (an optimizer for inference, a weight format for
    training) is left out."""
    from .memory import Settings, memory

    skip = ("weights", "kv_cache") if train else ("optimizer", "zero", "checkpoint", "loss", "optimizer_impl")
    given = {key: budgets[key] for key in SETTINGS if key in budgets and key not in skip}
    settings = Settings(train=train, **{key: b.value for key, b in given.items()})
    try:
        result = memory(analysis, settings)
        return result.peak.peak if peak and result.peak else result.per_device
    except SpecError as e:  # a combination that cannot be (zero without devices): point at the budget
        where = next((b.loc for b in given.values() if b.loc), None)
        raise SpecError(e.message, where, hint=e.hint) from None
