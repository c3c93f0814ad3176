"""Gas species a furnace in air releases or takes up, and the atmosphere they live in.

Energies are experimental (ADR 0042): standard enthalpies of formation at 298 K from NIST-JANAF
for reaction energies without temperature, and Gibbs energies of formation against temperature
from the NIST-JANAF tables shipped with pymatgen (`nist_gas_gf.json`) for energies at T. O2 and
N2 are the elemental references (zero). Solids are put on the same scale by fitting the
reference chemical potentials of O, C, H and N (see thermo.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from powderlab.core.errors import UnknownResourceError, ValidationError

EV_PER_KJ_MOL = 1.0 / 96.485
BOLTZMANN_EV = 8.617333e-5

# dHf(298 K) in kJ/mol, NIST-JANAF; key of pymatgen's NIST table for dGf(T).
GAS_SPECIES: dict[str, tuple[float, str | None]] = {
    "O2": (0.0, None),
    "N2": (0.0, None),
    "CO2": (-393.52, "CO2"),
    "H2O": (-241.83, "H2O"),
    "NH3": (-45.90, "H3N"),
    "NO2": (33.10, "NO2"),
    "NO": (91.29, "NO"),
}
DEFAULT_RELEASE_GASES = ("CO2", "O2", "H2O", "NH3", "NO2")


@dataclass(frozen=True)
class Atmosphere:
    """Partial pressures (atm) of the furnace atmosphere; default: ambient air."""

    o2: float = 0.21
    n2: float = 0.78
    co2: float = 4.2e-4
    h2o: float = 0.01

    def __post_init__(self) -> None:
        for name in ("o2", "n2", "co2", "h2o"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and 0 < value <= 1):
                raise ValidationError(f"atmosphere {name}", f"{value!r} atm; allowed: more than 0 and at most 1 atm")


AIR = Atmosphere()


def gas_enthalpy_ev(gas: str) -> float:
    """Standard enthalpy of formation (298 K) in eV per molecule."""
    return _species(gas)[0] * EV_PER_KJ_MOL


def gas_gibbs_ev(gas: str, temperature_k: float, pressure_atm: float = 1.0) -> float:
    """Gibbs energy of formation at T (eV per molecule) at the given partial pressure."""
    _, key = _species(gas)
    standard = 0.0 if key is None else float(np.interp(temperature_k, *_nist_table(key)))
    return standard + BOLTZMANN_EV * temperature_k * math.log(pressure_atm)


def open_element_potentials(temperature_k: float, atmosphere: Atmosphere = AIR) -> dict[str, float]:
    """Chemical potentials (eV/atom, against the elements' standard states at T) of O, C, H, N
    in equilibrium with the atmosphere: O2 and N2 directly, C through CO2, H through H2O."""
    kt = BOLTZMANN_EV * temperature_k
    mu_o = 0.5 * kt * math.log(atmosphere.o2)
    mu_c = gas_gibbs_ev("CO2", temperature_k, atmosphere.co2) - 2.0 * mu_o
    mu_h = 0.5 * (gas_gibbs_ev("H2O", temperature_k, atmosphere.h2o) - mu_o)
    mu_n = 0.5 * kt * math.log(atmosphere.n2)
    return {"O": mu_o, "C": mu_c, "H": mu_h, "N": mu_n}


def _species(gas: str) -> tuple[float, str | None]:
    try:
        return GAS_SPECIES[gas]
    except KeyError:
        raise UnknownResourceError("gas", gas, GAS_SPECIES) from None


@lru_cache(maxsize=16)
def _nist_table(key: str) -> tuple[np.ndarray, np.ndarray]:
    import json
    from importlib import resources

    data = json.loads(resources.files("pymatgen.core").joinpath("data/nist_gas_gf.json").read_text())[key]
    temps = np.array(sorted(float(t) for t in data if float(t) >= 298.0))
    values = np.array([data[str(int(t))] for t in temps])
    return temps, values
