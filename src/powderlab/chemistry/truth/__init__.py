"""Hidden-truth synthesis model: what really forms in a crucible. ONLY the digital twin imports this.

The planner, the autonomy node and the XRD analysis must never read it (a test enforces this):
they see the lab only through measured patterns, as they would in a real lab. The model is
seeded; its hidden parameters (energy offsets, reaction onsets and rates, nucleation thresholds,
amorphous tendencies, volatility) are drawn per phase / per pair from the seed, so the same seed gives the same world.
"""

from powderlab.chemistry.truth.model import ReactionEvent, SynthesisModel, SynthesisOutcome

__all__ = ["ReactionEvent", "SynthesisModel", "SynthesisOutcome"]
