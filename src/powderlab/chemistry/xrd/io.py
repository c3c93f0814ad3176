"""Pattern files: what common diffractometers export, read into core.xrd.XrdPattern.

Supported: two/three-column text (.xy, .xye, .dat, .txt), .csv (header optional), PANalytical
.xrdml (XML: start/end or listed positions, counts or intensities), Rigaku .ras (text with
*RAS_INT_START blocks) and Bruker .uxd (text export of RAW). Binary Bruker .raw is not read:
export .uxd or .xy from the instrument software.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from xml.etree import ElementTree

import numpy as np

from powderlab.core.errors import ValidationError
from powderlab.core.xrd import CU_K_ALPHA1_ANGSTROM, XrdPattern

SUPPORTED_FORMATS = (".xy", ".xye", ".dat", ".txt", ".csv", ".xrdml", ".ras", ".uxd")


def read_pattern(path: str | Path) -> XrdPattern:
    """Read a pattern file by its extension; errors name the file and the supported formats."""
    path = Path(path)
    if not path.is_file():
        raise ValidationError(str(path), "no such pattern file")
    suffix = path.suffix.lower()
    readers = {
        ".xy": _read_columns,
        ".xye": _read_columns,
        ".dat": _read_columns,
        ".txt": _read_columns,
        ".csv": _read_csv,
        ".xrdml": _read_xrdml,
        ".ras": _read_ras,
        ".uxd": _read_uxd,
    }
    if suffix not in readers:
        raise ValidationError(
            str(path), f"unsupported pattern format '{suffix}'; allowed: {', '.join(SUPPORTED_FORMATS)}"
        )
    x, y, wavelength = readers[suffix](path)
    if len(x) < 2:
        raise ValidationError(str(path), "has fewer than 2 data points")
    order = np.argsort(x)
    x, y = np.asarray(x, float)[order], np.asarray(y, float)[order]
    keep = np.concatenate([[True], np.diff(x) > 0])
    return XrdPattern(x[keep], y[keep], wavelength_angstrom=wavelength or CU_K_ALPHA1_ANGSTROM, sample_id=path.stem)


def write_pattern(pattern: XrdPattern, path: str | Path) -> Path:
    """Write .xy (or .csv by extension); other formats are read-only."""
    path = Path(path)
    if path.suffix.lower() == ".csv":
        rows = np.column_stack([pattern.two_theta_deg, pattern.intensity])
        np.savetxt(path, rows, delimiter=",", fmt="%.5f", header="two_theta_deg,intensity", comments="")
    elif path.suffix.lower() in (".xy", ".xye", ".dat", ".txt"):
        pattern.to_xy(path)
    else:
        raise ValidationError(str(path), "can only write .xy, .xye, .dat, .txt or .csv")
    return path


def _numbers(path: Path, line_number: int, parts: list[str], count: int) -> list[float]:
    try:
        return [float(p) for p in parts[:count]]
    except ValueError:
        raise ValidationError(f"{path}:{line_number}", f"expected {count} numbers, got {' '.join(parts)!r}") from None


def _read_columns(path: Path) -> tuple[list[float], list[float], float | None]:
    x, y = [], []
    for number, line in enumerate(path.read_text(errors="replace").splitlines(), start=1):
        text = line.split("#", 1)[0].split("!", 1)[0].strip()
        if not text or text[0].isalpha() or text.startswith("'"):
            continue
        parts = text.replace(",", " ").replace(";", " ").split()
        if len(parts) < 2:
            raise ValidationError(f"{path}:{number}", f"expected two numbers (2-theta intensity), got {line!r}")
        a, b = _numbers(path, number, parts, 2)
        x.append(a)
        y.append(b)
    return x, y, None


def _read_csv(path: Path) -> tuple[list[float], list[float], float | None]:
    text = path.read_text(errors="replace")
    dialect = csv.Sniffer().sniff(text[:2048], delimiters=",;\t") if text.strip() else csv.excel
    x, y = [], []
    for number, row in enumerate(csv.reader(io.StringIO(text), dialect), start=1):
        cells = [c.strip() for c in row if c.strip()]
        if len(cells) < 2:
            continue
        try:
            a, b = float(cells[0]), float(cells[1])
        except ValueError:
            if number == 1 or not x:  # a header
                continue
            raise ValidationError(f"{path}:{number}", f"expected two numbers, got {row!r}") from None
        x.append(a)
        y.append(b)
    return x, y, None


def _read_xrdml(path: Path) -> tuple[list[float], list[float], float | None]:
    try:
        root = ElementTree.parse(path).getroot()
    except ElementTree.ParseError as error:
        raise ValidationError(str(path), f"is not valid XML ({error})") from None

    def local(tag: str) -> str:
        return tag.rsplit("}", 1)[-1]

    wavelength = None
    for element in root.iter():
        if local(element.tag) == "kAlpha1" and element.text:
            wavelength = float(element.text)
            break
    for points in (e for e in root.iter() if local(e.tag) == "dataPoints"):
        positions = next(
            (
                p
                for p in points
                if local(p.tag) == "positions" and p.get("axis", "").lower() in ("2theta", "2theta-omega")
            ),
            None,
        )
        values = next((p for p in points if local(p.tag) in ("counts", "intensities")), None)
        if positions is None or values is None or not values.text:
            continue
        y = [float(v) for v in values.text.split()]
        listed = next((p for p in positions if local(p.tag) == "listPositions"), None)
        if listed is not None and listed.text:
            x = [float(v) for v in listed.text.split()]
        else:
            start = float(next(p for p in positions if local(p.tag) == "startPosition").text)
            end = float(next(p for p in positions if local(p.tag) == "endPosition").text)
            x = list(np.linspace(start, end, len(y)))
        if len(x) != len(y):
            raise ValidationError(str(path), f"{len(x)} positions but {len(y)} intensities")
        return x, y, wavelength
    raise ValidationError(str(path), "has no dataPoints with 2Theta positions and counts/intensities")


def _read_ras(path: Path) -> tuple[list[float], list[float], float | None]:
    x, y, inside, wavelength = [], [], False, None
    for number, line in enumerate(path.read_text(errors="replace").splitlines(), start=1):
        text = line.strip()
        if text.startswith("*"):
            key = text.split()[0]
            if key == "*RAS_INT_START":
                inside = True
            elif key == "*RAS_INT_END":
                inside = False
            elif key == "*HW_XG_WAVE_LENGTH_ALPHA1":
                wavelength = float(text.split(None, 1)[1].strip().strip('"'))
            continue
        if inside and text:
            parts = text.split()
            values = _numbers(path, number, parts, min(len(parts), 3))
            attenuation = values[2] if len(values) > 2 else 1.0
            x.append(values[0])
            y.append(values[1] * attenuation)
    if not x:
        raise ValidationError(str(path), "has no *RAS_INT_START data block")
    return x, y, wavelength


def _read_uxd(path: Path) -> tuple[list[float], list[float], float | None]:
    x, y = [], []
    start = step = None
    wavelength = None
    counts: list[float] = []
    for number, line in enumerate(path.read_text(errors="replace").splitlines(), start=1):
        text = line.split(";", 1)[0].strip()
        if not text:
            continue
        if text.startswith("_"):
            key, _, value = text.partition("=")
            key, value = key.strip().upper(), value.strip()
            if key == "_START":
                start = float(value)
            elif key == "_STEPSIZE":
                step = float(value)
            elif key == "_WL1":
                wavelength = float(value)
            continue
        parts = text.split()
        if len(parts) >= 2:
            a, b = _numbers(path, number, parts, 2)
            x.append(a)
            y.append(b)
        else:
            counts.append(_numbers(path, number, parts, 1)[0])
    if not x and counts:
        if start is None or step is None or not math.isfinite(step):
            raise ValidationError(str(path), "count-only data needs _START and _STEPSIZE")
        x = [start + i * step for i in range(len(counts))]
        y = counts
    return x, y, wavelength
