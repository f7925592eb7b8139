"""The manager and reports as one address book (spec "Inputs").

Addresses are compared trimmed and lower-cased; an address that is empty after
trimming is no address; an alias maps to its owner's primary email.
"""
from __future__ import annotations

from typing import Any, Iterable

from .model import FilterInputError, Person


def normalize(address: Any) -> str | None:
    """The comparable form of an address, or None when it is no address (a
    wrong JSON type counts as missing, spec "Inputs")."""
    if not isinstance(address, str):
        return None
    address = address.strip().lower()
    return address or None


class Directory:
    """Maps any known address to its owner; knows who the manager and reports are."""

    def __init__(self, manager: Person, reports: Iterable[Person]):
        self.owner: dict[str, str] = {}
        self._claimed_by: dict[str, str] = {}
        self.manager = self._add(manager, "manager")
        self.reports = frozenset(
            self._add(report, f"reports[{i}]") for i, report in enumerate(reports))

    def owner_of(self, address: Any) -> str | None:
        """The primary email owning ``address``; an unknown address is its own owner."""
        address = normalize(address)
        if address is None:
            return None
        return self.owner.get(address, address)

    def role_of(self, owner: str) -> str:
        if owner == self.manager:
            return "manager"
        return "report" if owner in self.reports else "other"

    def _add(self, person: Person, label: str) -> str:
        if not isinstance(person, Person):
            raise FilterInputError(f"{label} is not a person")
        primary = normalize(person.email)
        if primary is None:
            # A blank email would make the person unmatchable: treated like a missing one.
            raise FilterInputError(f"{label} has no non-empty string email")
        aliases = person.aliases if person.aliases is not None else ()
        if not isinstance(aliases, (list, tuple)) or not all(isinstance(a, str) for a in aliases):
            raise FilterInputError(f"{label} aliases are not a list of strings")
        for address in (primary, *aliases):
            self._claim(normalize(address), primary, label)
        return primary

    def _claim(self, address: str | None, primary: str, label: str) -> None:
        if address is None:
            return  # an empty alias is no address
        holder = self._claimed_by.setdefault(address, label)
        if holder != label:
            # Spec "Command-line contract": one address claimed by two people.
            raise FilterInputError(f"one address is claimed by two people: {holder} and {label}")
        self.owner[address] = primary
