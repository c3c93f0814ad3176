"""Units of the lab and the checks every value goes through.

Conventions, used everywhere below the ROS layer:
mass in mg, temperature in degrees Celsius, time in seconds (recipes may say minutes or hours
through the helpers below), heating rate in C/min, frequency in Hz, angles in degrees (2-theta)
and radians (joints), lengths in metres.
"""

from __future__ import annotations

import math

from powderlab.core.errors import OutOfRangeError, ValidationError

MG_PER_G = 1000.0
SECONDS_PER_MINUTE = 60.0
SECONDS_PER_HOUR = 3600.0
ZERO_CELSIUS_K = 273.15
ROOM_TEMPERATURE_C = 25.0


def minutes(value: float) -> float:
    """Minutes as seconds."""
    return value * SECONDS_PER_MINUTE


def hours(value: float) -> float:
    """Hours as seconds."""
    return value * SECONDS_PER_HOUR


def celsius_to_kelvin(value_c: float) -> float:
    return value_c + ZERO_CELSIUS_K


def require_number(field: str, value: object) -> float:
    """A finite real number, or a ValidationError naming the field."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationError(field, f"expected a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise ValidationError(field, f"expected a finite number, got {value!r}")
    return number


def require_range(
    field: str, value: object, low: float | None = None, high: float | None = None, unit: str = ""
) -> float:
    """A finite number within [low, high] (either bound may be open), else OutOfRangeError."""
    number = require_number(field, value)
    if (low is not None and number < low) or (high is not None and number > high):
        raise OutOfRangeError(field, number, low, high, unit)
    return number


def require_positive(field: str, value: object, unit: str = "", high: float | None = None) -> float:
    """A finite number > 0 (and <= high when given), else OutOfRangeError."""
    number = require_number(field, value)
    if number <= 0:
        error = OutOfRangeError(field, number, 0.0, high, unit)
        limit = f" and at most {high:g} {unit}".rstrip() if high is not None else ""
        error.args = (f"{field}: {number:g} {unit}".rstrip() + f" is out of range; allowed: more than 0{limit}",)
        raise error
    if high is not None and number > high:
        raise OutOfRangeError(field, number, 0.0, high, unit)
    return number


def require_int_range(field: str, value: object, low: int, high: int) -> int:
    """An integer within [low, high]."""
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise ValidationError(field, f"expected a whole number, got {value!r}")
    if not low <= value <= high:
        raise OutOfRangeError(field, value, low, high)
    return value


def require_name(field: str, value: object) -> str:
    """A non-empty identifier-like string (letters, digits, _ - / . +)."""
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(field, f"expected a non-empty name, got {value!r}")
    allowed = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-/.+()")
    bad = sorted(set(value) - allowed)
    if bad:
        raise ValidationError(
            field, f"'{value}' has characters {''.join(bad)!r}; allowed: letters, digits, _ - / . + ( )"
        )
    return value
