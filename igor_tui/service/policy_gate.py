"""The door from a booking to the host policies: a cluster without policies never imports their code.

Apart from `policies.py` (the verbs and the rules) so booking, extend and `edit -add` can ask it without
loading the cron evaluator, and apart from `checks.py`, which `policies.py` itself uses (no circle).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from ..typenames import TYPE_CHECKING

if TYPE_CHECKING:
    from ..model import Block, Policy
    from ..policy import PolicyRules
    from .facade import IgorService


def policy_rules(svc: IgorService, policies: Sequence[Policy]) -> PolicyRules | None:
    """The host policies for the scheduler; None without any, so a cluster without policies never
    imports their code."""
    if not policies:
        return None
    from .policies import rules_for

    return rules_for(svc, policies)


def window_blocks(svc: IgorService, policies: Sequence[Policy], lo: datetime, hi: datetime) -> list[Block]:
    """Host-policy window instances overlapping [lo, hi) as blocks ([] without policies)."""
    if not policies:
        return []
    from .policies import blocks_between

    return blocks_between(svc, policies, lo, hi)
