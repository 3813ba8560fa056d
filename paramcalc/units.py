"""Numbers as a person reads them: parameter counts in K/M/B/T (as people who size language
models say "6.74 B"), MACs and FLOPs in K/M/G/T, bytes in binary units (KiB, MiB, GiB, TiB).
Exact (Decimal), so no count is too large to show. Plain text; used by render/ and by messages."""

from __future__ import annotations

DECIMAL = ("", "K", "M", "G", "T")
COUNT = ("", "K", "M", "B", "T")  # parameters: B for billions
BINARY = ("", "Ki", "Mi", "Gi", "Ti")


def human(n: int, unit: str = "", binary: bool = False) -> str:
    """138357544 -> '138.36 M'; 4089184256, 'MACs' -> '4.09 GMACs'; bytes use binary units (527.8 MiB)."""
    return _scaled(n, unit, 1024 if binary else 1000, BINARY if binary else DECIMAL)


def human_params(n: int) -> str:
    """A parameter count: 6738415616 -> '6.74 B'."""
    return _scaled(n, "", 1000, COUNT)


def human_bytes(n: int) -> str:
    """244403360 -> '233.1 MiB'."""
    return _scaled(n, "B", 1024, BINARY)


def _scaled(n: int, unit: str, base: int, prefixes: tuple[str, ...]) -> str:
    n, i = int(n), 0
    while abs(n) >= base ** (i + 1) and i < len(prefixes) - 1:
        i += 1
    if i == 0:
        return f"{n} {unit}".rstrip()
    # n / base**i to `digits` decimals, rounded half to even, in integers (exact at any size; decimal
    # would do the same and take longer to import than a `check` of a small spec takes to run)
    digits = 1 if base == 1024 else 2
    scale = base**i
    q, r = divmod(abs(n) * 10**digits, scale)
    if 2 * r > scale or (2 * r == scale and q % 2):
        q += 1
    text = str(q).rjust(digits + 1, "0")
    sign = "-" if n < 0 else ""
    return f"{sign}{text[:-digits]}.{text[-digits:]} {prefixes[i]}{unit}".rstrip()
