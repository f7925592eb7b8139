"""Organization settings that HR admins control: validation and audited changes.

Bounds, and why:
- sync interval 5..1440 minutes: more often than every 5 minutes only adds Graph
  throttling; less than daily leaves 1-on-1 checks stale.
- sync window up to 365 days each way: the 1-on-1 rules look at recurring series,
  which a year shows; a longer window only copies more calendar data.
- calendar retention at least the past window, or each sync would fetch again what
  retention has just removed.
- safety net 1..168 hours: with change notifications on, calendars are re-read anyway this
  often, in case a notification was lost; a week is as long as a subscription lives.
"""
from __future__ import annotations

from marshmallow import (
    EXCLUDE,
    Schema,
    ValidationError,
    fields,
    validate,
    validates_schema,
)
from sqlalchemy.orm import Session

from listening import audit
from listening.audit import Action
from listening.core.models import Organization

SCOPES = ("Calendars.Read", "Calendars.ReadBasic")
# What each calendar permission means to an HR admin, with Microsoft's name after it.
SCOPE_WORDS = {"Calendars.Read": "Read calendars, meeting details included",
               "Calendars.ReadBasic": "Read calendars without meeting details"}
_SCOPE_DETAIL = {"Calendars.ReadBasic": ": times, people and subjects only"}
FIELDS = ("sync_enabled", "sync_interval_minutes", "window_past_days", "window_future_days",
          "calendar_scope", "retention_calendar_days", "retention_audit_days", "safety_net_hours")


class SettingsError(ValueError):
    """The form was refused; ``problems`` maps a field name to its messages."""

    def __init__(self, problems: dict[str, list[str]]):
        super().__init__("; ".join(m for ms in problems.values() for m in ms))
        self.problems = problems


def _days(low: int, high: int, what: str):
    return fields.Integer(
        required=True, strict=False,
        validate=validate.Range(min=low, max=high, error=f"{what} must be between {low} and {high} days."),
        error_messages={"invalid": f"{what} must be a whole number of days.",
                        "required": f"{what} is required."})


class SettingsSchema(Schema):
    class Meta:
        unknown = EXCLUDE  # the CSRF token and the submit button

    # An unticked checkbox is simply absent from the form.
    sync_enabled = fields.Boolean(load_default=False)
    sync_interval_minutes = fields.Integer(
        required=True, strict=False,
        validate=validate.Range(min=5, max=1440,
                                error="The sync interval must be between 5 and 1440 minutes (one day)."),
        error_messages={"invalid": "The sync interval must be a whole number of minutes.",
                        "required": "The sync interval is required."})
    window_past_days = _days(0, 365, "The sync window into the past")
    window_future_days = _days(1, 365, "The sync window into the future")
    calendar_scope = fields.String(
        required=True, validate=validate.OneOf(SCOPES, error="The calendar scope must be one of: "
                                                            + ", ".join(SCOPES) + "."))
    retention_calendar_days = _days(1, 365, "Calendar data retention")
    retention_audit_days = _days(90, 3650, "Audit entry retention")
    safety_net_hours = fields.Integer(
        required=True, strict=False,
        validate=validate.Range(min=1, max=168, error="The safety-net re-read must be between 1 and 168 "
                                                      "hours (a week)."),
        error_messages={"invalid": "The safety-net re-read must be a whole number of hours.",
                        "required": "The safety-net re-read is required."})

    @validates_schema
    def _retention_covers_window(self, data, **_kwargs):
        if data.get("retention_calendar_days", 10**6) < data.get("window_past_days", 0):
            raise ValidationError("Calendar data retention must be at least the sync window into the past "
                                  "(otherwise every sync fetches again what retention removes).",
                                  "retention_calendar_days")


def scope_choices() -> list[tuple[str, str]]:
    """(scope, what the settings page offers): 'Read calendars, meeting details included (Calendars.Read)'."""
    return [(s, f"{SCOPE_WORDS[s]}{_SCOPE_DETAIL.get(s, '')} ({s})") for s in SCOPES]


def current(org: Organization) -> dict:
    return {name: getattr(org, name) for name in FIELDS}


def parse(form) -> dict:
    """Validated settings from a submitted form; raises SettingsError with every problem."""
    try:
        return SettingsSchema().load({k: v for k, v in form.items()})
    except ValidationError as err:
        raise SettingsError({k: list(v) if isinstance(v, list) else [str(v)]
                             for k, v in err.messages.items()}) from None


def apply(session: Session, org: Organization, actor, wanted: dict) -> dict:
    """Change what differs and record one audit entry with old and new values.

    Returns the changes ({} when nothing changed, and then nothing is recorded).
    """
    changes = {name: {"old": getattr(org, name), "new": value}
               for name, value in wanted.items() if getattr(org, name) != value}
    for name, change in changes.items():
        setattr(org, name, change["new"])
    if changes:
        audit.record(session, Action.settings_changed, actor, None, {"changes": changes}, org_id=org.id)
    return changes


def _days(n: int) -> str:
    return f"{n} day" + ("" if n == 1 else "s")


_SENTENCES = {
    "sync_enabled": lambda v: "Calendar sync turned on." if v else "Calendar sync turned off.",
    "sync_interval_minutes": lambda v: f"Sync interval set to {v} minute{'' if v == 1 else 's'}.",
    "window_past_days": lambda v: f"Sync window set to {_days(v)} back.",
    "window_future_days": lambda v: f"Sync window set to {_days(v)} ahead.",
    "calendar_scope": lambda v: f"Calendar permission set to “{SCOPE_WORDS.get(v, v)}” ({v}); it applies "
                                "when managers link or reconnect Outlook.",
    "retention_calendar_days": lambda v: f"Calendar data is now kept for {_days(v)}.",
    "retention_audit_days": lambda v: f"Audit entries are now kept for {_days(v)}.",
    "safety_net_hours": lambda v: f"With change notifications, calendars are re-read anyway every "
                                  f"{v} hour{'' if v == 1 else 's'}.",
}


def in_sentences(changes: dict) -> str:
    """What ``apply`` changed, as the page says it: 'Sync interval set to 30 minutes.'"""
    if not changes:
        return "Nothing changed."
    return " ".join(_SENTENCES[name](change["new"]) for name, change in changes.items())
