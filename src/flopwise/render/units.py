"""Numbers to text: SI prefixes for counts, IEC prefixes for bytes, seconds with sub-units.

This module is the one place where a number becomes a string; everything upstream is typed.

>>> format_count(4_089_184_256)
'4.09 G'
>>> format_bytes(3 * 1024**2)
'3.00 MiB'
>>> format_seconds(0.0042)
'4.20 ms'
"""

from __future__ import annotations

import math

__all__ = [
    "SI_PREFIXES",
    "IEC_PREFIXES",
    "format_count",
    "format_bytes",
    "format_seconds",
    "format_rate",
    "format_percent",
    "format_number",
    "format_grouped",
    "format_count_exact",
    "parse_bytes",
    "parse_count",
]

# Counts use SI prefixes: K M G T P E Z Y (whole training runs reach 10^23–10^25 FLOPs).
# Never "B" for billions (that reads as bytes).
SI_PREFIXES: tuple[str, ...] = ("", "K", "M", "G", "T", "P", "E", "Z", "Y")
IEC_PREFIXES: tuple[str, ...] = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB")


def _scaled(value: float, base: int, prefixes: tuple[str, ...]) -> tuple[float, str]:
    magnitude = abs(value)
    index = 0
    while magnitude >= base and index < len(prefixes) - 1:
        magnitude /= base
        index += 1
    return math.copysign(magnitude, value), prefixes[index]


def format_count(value: int | float, digits: int = 2, unit: str = "") -> str:
    """A count with an SI prefix: ``format_count(1_234_567) == '1.23 M'``.

    Values below 1000 are printed exactly (integers) so small counts are never rounded.
    """
    if abs(value) < 1000:
        text = f"{int(value)}" if float(value).is_integer() else f"{value:.{digits}f}"
        return f"{text} {unit}".rstrip() if unit else text
    scaled, prefix = _scaled(float(value), 1000, SI_PREFIXES)
    return f"{scaled:.{digits}f} {prefix}{unit}"


def format_bytes(value: int | float, digits: int = 2) -> str:
    """Bytes with an IEC prefix: ``format_bytes(1536) == '1.50 KiB'``."""
    if abs(value) < 1024:
        return f"{int(value)} B"
    scaled, prefix = _scaled(float(value), 1024, IEC_PREFIXES)
    return f"{scaled:.{digits}f} {prefix}"


def format_seconds(value: float, digits: int = 2) -> str:
    """Seconds, in the largest of s/ms/µs/ns that keeps the value >= 1 (or h/days when long)."""
    magnitude = abs(value)
    if magnitude == 0:
        return "0 s"
    if magnitude >= 86400 * 2:
        return f"{value / 86400:.{digits}f} days"
    if magnitude >= 3600 * 2:
        return f"{value / 3600:.{digits}f} h"
    for scale, unit in ((1.0, "s"), (1e-3, "ms"), (1e-6, "µs")):
        if magnitude >= scale:
            return f"{value / scale:.{digits}f} {unit}"
    return f"{value / 1e-9:.{digits}f} ns"


def format_rate(value: float, unit: str, digits: int = 2) -> str:
    """A rate with an SI prefix: ``format_rate(3.2e14, 'FLOP/s') == '320.00 TFLOP/s'``."""
    scaled, prefix = _scaled(float(value), 1000, SI_PREFIXES)
    return f"{scaled:.{digits}f} {prefix}{unit}"


def format_percent(part: float, whole: float, digits: int = 1) -> str:
    """``part`` as a percentage of ``whole``; an empty whole gives '-'."""
    if not whole:
        return "-"
    return f"{100.0 * part / whole:.{digits}f}%"


def format_number(value: int | float, digits: int = 4) -> str:
    """A number for machines (CSV): ints exactly, floats to ``digits`` decimals, no padding.

    >>> format_number(1344), format_number(76.19047619), format_number(100.0)
    ('1344', '76.1905', '100')
    """
    if isinstance(value, int) or float(value).is_integer():
        return str(int(value))
    return f"{value:.{digits}f}".rstrip("0").rstrip(".")


def format_grouped(value: int) -> str:
    """An exact integer with thousands separators: ``format_grouped(25557032) == '25,557,032'``."""
    return f"{int(value):,}"


def format_count_exact(value: int, digits: int = 2) -> str:
    """A count with its SI prefix and, when the prefix rounds, the exact value.

    >>> format_count_exact(640), format_count_exact(4_089_184_256)
    ('640', '4.09 G (4,089,184,256)')
    """
    short = format_count(value, digits)
    return short if abs(value) < 1000 else f"{short} ({format_grouped(value)})"


_BYTE_UNITS = {
    "b": 1,
    "kb": 1000, "mb": 1000**2, "gb": 1000**3, "tb": 1000**4,
    "kib": 1024, "mib": 1024**2, "gib": 1024**3, "tib": 1024**4,
}
_COUNT_UNITS = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12, "p": 10**15}


def _split_number(text: str) -> tuple[float, str]:
    stripped = text.strip().replace("_", "").replace(",", "")
    index = len(stripped)
    while index > 0 and not (stripped[index - 1].isdigit() or stripped[index - 1] == "."):
        index -= 1
    number, suffix = stripped[:index], stripped[index:].strip().lower()
    try:
        return float(number), suffix
    except ValueError:
        raise ValueError(f"not a number: {text!r}") from None


def parse_bytes(text: str) -> int:
    """Parse '2GiB', '512 MB', '1024' into bytes. Decimal (GB) and binary (GiB) units both work."""
    value, suffix = _split_number(text)
    if suffix not in _BYTE_UNITS:
        raise ValueError(f"unknown byte unit {suffix!r} in {text!r}; use B, KB, MB, GB, KiB, MiB, GiB")
    return int(value * _BYTE_UNITS[suffix])


def parse_count(text: str) -> int:
    """Parse '7B'-free counts: '25.5M', '4.1G', '1000' into an int (SI prefixes K M G T P)."""
    value, suffix = _split_number(text)
    if suffix not in _COUNT_UNITS:
        raise ValueError(f"unknown count prefix {suffix!r} in {text!r}; use K, M, G, T or P")
    return int(value * _COUNT_UNITS[suffix])
