"""Which policy an account follows: its case's pinned version, or the assignment rules."""

from __future__ import annotations

from dataclasses import dataclass, field

from dunning.domain.policy import BUILT_IN, BUILT_IN_TAG_ASSIGNMENTS, Policy
from dunning.domain.state import AccountState

DEFAULT_POLICY_ID = "default"


@dataclass
class PolicyBook:
    """Policies known at the moment: latest versions, pinned versions, tag and tier rules."""

    latest: dict[str, Policy] = field(default_factory=dict)
    versions: dict[tuple[str, int], Policy] = field(default_factory=dict)
    by_tag: dict[str, str] = field(default_factory=dict)
    by_tier: dict[str, str] = field(default_factory=dict)

    @classmethod
    def built_in(cls) -> PolicyBook:
        """The shipped policies at version 1, with strategic accounts on the gentler ladder."""
        book = cls(by_tag=dict(BUILT_IN_TAG_ASSIGNMENTS))
        for policy_id, body in BUILT_IN.items():
            book.add(Policy(policy_id=policy_id, version=1, body=body))
        return book

    def add(self, policy: Policy) -> None:
        """Know one more policy version."""
        self.versions[(policy.policy_id, policy.version)] = policy
        current = self.latest.get(policy.policy_id)
        if current is None or current.version < policy.version:
            self.latest[policy.policy_id] = policy

    def assigned(self, state: AccountState) -> str:
        """Direct assignment, the account's own policy name, then tag, then tier, then default."""
        account = state.account
        if state.risk_tier is None and not (
            state.assigned_policy or account.policy_name or account.tags
        ):
            return DEFAULT_POLICY_ID  # no candidate to look up (as below, without the lists)
        candidates = [state.assigned_policy, state.account.policy_name]
        candidates += [self.by_tag[t] for t in sorted(state.account.tags) if t in self.by_tag]
        if state.risk_tier is not None:
            candidates.append(self.by_tier.get(state.risk_tier))
        return next((c for c in candidates if c and c in self.latest), DEFAULT_POLICY_ID)

    def for_account(self, state: AccountState) -> Policy:
        """The policy the account follows now; an open case keeps the version it started with."""
        progress = state.progress
        if progress.status == "open" and progress.policy_id and progress.policy_version:
            pinned = self.versions.get((progress.policy_id, progress.policy_version))
            if pinned is not None:
                return pinned
        return self.latest.get(self.assigned(state)) or self.latest[DEFAULT_POLICY_ID]
