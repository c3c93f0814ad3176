"""Pattern files: every supported format reads back the same data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from powderlab.chemistry.xrd.io import read_pattern, write_pattern
from powderlab.core.errors import ValidationError
from powderlab.core.xrd import XrdPattern

X = np.round(np.arange(10.0, 12.0, 0.02), 4)
Y = np.round(100 + 50 * np.sin(X), 2)


def xrdml(path: Path) -> None:
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<xrdMeasurements xmlns="http://www.xrdml.com/XRDMeasurement/1.5">\n'
        ' <xrdMeasurement measurementType="Scan">\n'
        '  <usedWavelength intended="K-Alpha 1"><kAlpha1 unit="Angstrom">1.5405980</kAlpha1></usedWavelength>\n'
        "  <scan><dataPoints>\n"
        f'   <positions axis="2Theta" unit="deg"><startPosition>{X[0]}</startPosition>'
        f"<endPosition>{X[-1]}</endPosition></positions>\n"
        '   <positions axis="Omega" unit="deg">'
        "<startPosition>5</startPosition><endPosition>6</endPosition></positions>\n"
        '   <commonCountingTime unit="seconds">1.0</commonCountingTime>\n'
        f'   <intensities unit="counts">{" ".join(str(v) for v in Y)}</intensities>\n'
        "  </dataPoints></scan>\n </xrdMeasurement>\n</xrdMeasurements>\n"
    )


def ras(path: Path) -> None:
    lines = [
        "*RAS_DATA_START",
        "*RAS_HEADER_START",
        '*HW_XG_WAVE_LENGTH_ALPHA1 "1.540593"',
        "*RAS_HEADER_END",
        "*RAS_INT_START",
    ]
    lines += [f"{x:.4f} {y:.2f} 1.0000" for x, y in zip(X, Y, strict=True)]
    lines += ["*RAS_INT_END", "*RAS_DATA_END"]
    path.write_text("\n".join(lines) + "\n", encoding="latin-1")


def uxd(path: Path) -> None:
    lines = ["; Bruker UXD export", "_FILEVERSION=1", "_WL1=1.540600", f"_START={X[0]}", "_STEPSIZE=0.02", "_COUNTS"]
    lines += [f"{y:.2f}" for y in Y]
    path.write_text("\n".join(lines) + "\n")


def csv_file(path: Path) -> None:
    path.write_text("Angle,Intensity\n" + "".join(f"{x},{y}\n" for x, y in zip(X, Y, strict=True)))


def xy(path: Path) -> None:
    XrdPattern(X, Y).to_xy(path)


@pytest.mark.parametrize(
    ("suffix", "writer"), [(".xrdml", xrdml), (".ras", ras), (".uxd", uxd), (".csv", csv_file), (".xy", xy)]
)
def test_formats_read_back(tmp_path: Path, suffix: str, writer: object) -> None:
    path = tmp_path / f"pattern{suffix}"
    writer(path)
    pattern = read_pattern(path)
    assert np.allclose(pattern.two_theta_deg, X, atol=1e-4)
    assert np.allclose(pattern.intensity, Y, atol=1e-2)


def test_write_csv_round_trip(tmp_path: Path) -> None:
    path = write_pattern(XrdPattern(X, Y), tmp_path / "out.csv")
    assert np.allclose(read_pattern(path).intensity, Y)


def test_errors_name_the_file_and_the_formats(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match=r"unsupported pattern format '\.raw'.*xrdml"):
        (tmp_path / "scan.raw").write_bytes(b"RAW4.00")
        read_pattern(tmp_path / "scan.raw")
    bad = tmp_path / "bad.xy"
    bad.write_text("10.0 5\n10.02 five\n")
    with pytest.raises(ValidationError, match=r"bad\.xy:2"):
        read_pattern(bad)
    with pytest.raises(ValidationError, match="no such pattern file"):
        read_pattern(tmp_path / "none.xy")
