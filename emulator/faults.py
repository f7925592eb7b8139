"""Injected failures for Graph calls (docs/microsoft-graph.md §5-6, checklist §10.5).

A rule picks requests (every Nth, or a share of them, optionally only one mailbox or endpoint,
at most `times` times) and then delays them or answers with an error status. Other faults are
state (a mailbox without REST, a pending delta reset or replay, delta refused, notification URLs
that cannot be reached) or one-off actions handled by control.py.
"""
from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field

RULE_TYPES = ("throttle", "unavailable", "latency")


class FaultSpecError(ValueError):
    """A fault body the control API cannot understand."""


@dataclass
class Rule:
    id: str
    type: str
    status: int = 429
    retry_after: float | int | None = None
    ms: int = 0
    every: int = 1
    share: float | None = None
    mailbox: str | None = None
    endpoint: str | None = None
    times: int | None = None
    seen: int = 0
    fired: int = 0

    def matches(self, endpoint: str, mailbox: str | None) -> bool:
        if self.mailbox and (mailbox or "").lower() != self.mailbox.lower():
            return False
        return not self.endpoint or self.endpoint in endpoint

    def public(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass
class FaultBook:
    rules: list[Rule] = field(default_factory=list)
    no_rest: set[str] = field(default_factory=set)  # lower-case emails: MailboxNotEnabledForRESTAPI
    delta_resets: dict[str, str] = field(default_factory=dict)  # email -> "410"|"syncStateNotFound"
    delta_forbidden: set[str] = field(default_factory=set)  # lower-case emails: delta answers 403
    delta_replays: dict[str, int] = field(default_factory=dict)  # email -> unchanged events to resend
    notifications_down: set[str] = field(default_factory=set)  # URL prefixes ("" = every URL)
    rng: random.Random = field(default_factory=lambda: random.Random(20))
    lock: threading.Lock = field(default_factory=threading.Lock)
    counter: int = 0

    def add_rule(self, spec: dict) -> Rule:
        kind = spec["type"]
        status = int(spec.get("status", 429 if kind == "throttle" else 503))
        if kind == "unavailable" and status not in (503, 504):
            raise FaultSpecError("unavailable faults take status 503 or 504")
        every = int(spec.get("every", 1))
        share = spec.get("share")
        if every < 1 or (share is not None and not 0 <= float(share) <= 1):
            raise FaultSpecError("every must be >= 1 and share within 0..1")
        with self.lock:
            self.counter += 1
            rule = Rule(id=f"f{self.counter}", type=kind, status=429 if kind == "throttle" else status,
                        retry_after=spec.get("retry_after"), ms=int(spec.get("ms", 0)),
                        every=every, share=None if share is None else float(share),
                        mailbox=spec.get("mailbox"), endpoint=spec.get("endpoint"),
                        times=spec.get("times"))
            self.rules.append(rule)
        return rule

    def pick(self, endpoint: str, mailbox: str | None) -> tuple[int, Rule | None]:
        """(latency in ms, the error rule to answer with or None) for one request."""
        delay, error = 0, None
        with self.lock:
            for rule in self.rules:
                if not rule.matches(endpoint, mailbox) or self._spent(rule):
                    continue
                rule.seen += 1
                hit = (self.rng.random() < rule.share) if rule.share is not None \
                    else rule.seen % rule.every == 0
                if not hit:
                    continue
                if rule.type == "latency":
                    rule.fired += 1
                    delay += rule.ms
                elif error is None:
                    rule.fired += 1
                    error = rule
        return delay, error

    @staticmethod
    def _spent(rule: Rule) -> bool:
        return rule.times is not None and rule.fired >= rule.times

    def take_delta_reset(self, mailbox: str) -> str | None:
        with self.lock:
            return self.delta_resets.pop(mailbox.lower(), None)

    def take_delta_replay(self, mailbox: str) -> int | None:
        with self.lock:
            return self.delta_replays.pop(mailbox.lower(), None)

    def set_notifications_down(self, prefix: str, down: bool) -> None:
        """Deliveries to URLs starting with `prefix` fail as if unreachable; `down=False` with
        no prefix lifts every such fault."""
        with self.lock:
            if down:
                self.notifications_down.add(prefix)
            elif prefix:
                self.notifications_down.discard(prefix)
            else:
                self.notifications_down.clear()

    def unreachable(self, url: str) -> bool:
        if not self.notifications_down:  # the common case: no lock, no loop
            return False
        with self.lock:
            return any(url.startswith(prefix) for prefix in self.notifications_down)

    def clear(self) -> None:
        with self.lock:
            self.rules.clear()
            self.no_rest.clear()
            self.delta_resets.clear()
            self.delta_forbidden.clear()
            self.delta_replays.clear()
            self.notifications_down.clear()
            self.rng = random.Random(20)

    def public(self) -> dict:
        with self.lock:
            return {"rules": [r.public() for r in self.rules],
                    "mailbox_not_enabled": sorted(self.no_rest),
                    "delta_resets": dict(self.delta_resets),
                    "delta_forbidden": sorted(self.delta_forbidden),
                    "delta_replays": dict(self.delta_replays),
                    "notifications_down": sorted(self.notifications_down)}
