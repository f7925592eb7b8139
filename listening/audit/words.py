"""The audit log's actions in words, for the HR admin's pages (the code stays in the entry's
detail and in the CSV export, where a program reads it)."""
from __future__ import annotations

from listening.audit.chain import Action

ACTION_WORDS = {
    Action.sign_in: "Signed in",
    Action.sign_in_refused: "Sign-in refused",
    Action.sign_out: "Signed out",
    Action.directory_import: "Directory imported",
    Action.directory_import_refused: "Directory import refused",
    Action.directory_exported: "Directory exported",
    Action.link: "Outlook linked",
    Action.link_refused: "Outlook link refused",
    Action.admin_consent_required: "Organization's approval needed",
    Action.admin_consent_returned: "Organization's approval answered",
    Action.refresh_failed: "Microsoft permission refresh failed",
    Action.state_changed: "Outlook connection changed state",
    Action.check: "Outlook connection checked",
    Action.unlink: "Outlook unlinked",
    Action.sync: "Calendar read",
    Action.attach: "1-on-1 attached",
    Action.detach: "1-on-1 detached",
    Action.attach_refused: "1-on-1 change refused",
    Action.needs_attention: "1-on-1 re-checked",
    Action.settings_changed: "Settings changed",
    Action.audit_viewed: "Audit log viewed",
    Action.audit_exported: "Audit log exported",
    Action.audit_purged: "Old audit entries removed",
    Action.audit_verified: "Audit chain verified",
    Action.person_exported: "Person's data exported",
    Action.person_erased: "Person erased",
    Action.retention_purged: "Old calendar data removed",
    Action.keys_rotated: "Encryption keys rotated",
}
_BY_CODE = {a.value: words for a, words in ACTION_WORDS.items()}


def action_words(code: str) -> str:
    """'Outlook linked' for 'connection:link'; an unknown code as it is."""
    return _BY_CODE.get(code, code)


def action_choices() -> list[tuple[str, str]]:
    """(code, words) for the filter menu, in words order."""
    return sorted(_BY_CODE.items(), key=lambda item: item[1].lower())
