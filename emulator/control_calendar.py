"""POST /_emulator/calendar: edit mailboxes through the World's edit methods.

Body: {"action": "<World method>", ...keyword arguments of that method}. ISO strings are turned
into date/datetime values where the method's annotations ask for them, so the JSON stays plain.
"""
from __future__ import annotations

import inspect
import typing
from datetime import date, datetime

from flask import request

from .control import CALENDAR_ACTIONS, ControlError, bp, state


def convert(value, annotation):
    """ISO text to date/datetime when the parameter is annotated so (also inside Optional)."""
    if not isinstance(value, str):
        return value
    text = annotation if isinstance(annotation, str) else repr(annotation)
    try:
        if "datetime" in text:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        if "date" in text:
            return date.fromisoformat(value)
    except ValueError:
        raise ControlError(f"not an ISO date/time: {value!r}") from None
    return value


def call(method, args: dict):
    try:
        hints = typing.get_type_hints(method)
    except Exception:  # unresolvable forward references: fall back to raw annotations
        hints = {}
    params = inspect.signature(method).parameters
    unknown = [name for name in args if name not in params]
    if unknown and not any(p.kind == p.VAR_KEYWORD for p in params.values()):
        raise ControlError(f"unexpected argument(s) {unknown}; expected {list(params)}")
    kwargs = {name: convert(value, hints.get(name, params[name].annotation if name in params
                                              else None))
              for name, value in args.items()}
    return method(**kwargs)


@bp.post("/calendar")
def edit_calendar():
    data = request.get_json(silent=True) or {}
    action = data.pop("action", None)
    if action not in CALENDAR_ACTIONS:
        raise ControlError(f"action must be one of {list(CALENDAR_ACTIONS)}")
    st = state()
    method = getattr(st.world, action, None)
    if method is None:
        raise ControlError(f"this world has no {action}")
    try:
        with st.lock:
            result = call(method, data)
    except (KeyError, ValueError, TypeError) as exc:
        raise ControlError(str(exc.args[0]) if exc.args else repr(exc)) from None
    return {"action": action, "result": jsonable(result)}


def jsonable(value):
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [jsonable(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return repr(value)
