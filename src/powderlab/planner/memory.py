"""What the planner learned across targets: pairwise reactions seen, and intermediates found inert."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class PairwiseMemory:
    """Pairwise reactions observed (precursor pair -> products, lowest temperature seen) and, per
    target, the intermediates that left too little driving force for the target-forming step."""

    pairs: dict[frozenset[str], dict[str, float]] = field(default_factory=dict)
    inert: dict[str, set[str]] = field(default_factory=dict)

    def learn_pair(self, a: str, b: str, product: str, temperature_c: float) -> bool:
        """Record a + b -> product at temperature_c; True when it is new."""
        products = self.pairs.setdefault(frozenset((a, b)), {})
        new = product not in products
        products[product] = min(products.get(product, temperature_c), temperature_c)
        return new

    def learn_inert(self, target: str, intermediates: Iterable[str]) -> None:
        self.inert.setdefault(target, set()).update(intermediates)

    def predicted_products(self, precursors: Iterable[str], temperature_c: float | None = None) -> set[str]:
        """Intermediates the learned pairwise reactions predict for a precursor set (at or below T)."""
        names = sorted(set(precursors))
        found: set[str] = set()
        for i, a in enumerate(names):
            for b in names[i + 1 :]:
                for product, seen_c in self.pairs.get(frozenset((a, b)), {}).items():
                    if temperature_c is None or seen_c <= temperature_c + 1e-6:
                        found.add(product)
        return found

    def to_dict(self) -> dict[str, Any]:
        return {
            "pairs": [
                {"pair": sorted(pair), "products": {p: t for p, t in sorted(products.items())}}
                for pair, products in sorted(self.pairs.items(), key=lambda item: sorted(item[0]))
            ],
            "inert": {t: sorted(v) for t, v in sorted(self.inert.items())},
        }
