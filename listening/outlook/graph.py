"""The only code that talks to Microsoft Graph.

``GraphClient.calendar_view(start, end)`` reads one mailbox's default calendar
for a window and yields it page by page (memory does not grow with the
mailbox). What it asks for, and why (docs/microsoft-graph.md):

- ``$select`` names exactly the fields we keep (listening/outlook/events.py),
  never ``body`` or ``bodyPreview`` (§1, §3);
- ``$top=1000``, the maximum for calendarView; without it Graph pages 10 at a
  time (§1), so a 20,000-event mailbox costs 20 requests instead of 2,000;
- ``Prefer: IdType="ImmutableId"`` so ids survive moves between folders (§3),
  and ``Prefer: outlook.timezone="UTC"`` so start/end need no zone table;
- ``@odata.nextLink`` is followed as an opaque URL until there is none (§1),
  but only on the Graph host we were configured with: the bearer token must
  never be sent anywhere else.

It also manages change-notification subscriptions on ``me/events`` (§9) and
reads ``calendarView/delta`` rounds (§2) for organizations whose permission
carries no bodies.

Failures become our own exception types (below). 429/503/504 (and 500/502 and
network errors) are retried after ``Retry-After`` (seconds, possibly
fractional, §5) or an exponential backoff with jitter, within a bounded total
wait; a Retry-After beyond that budget is not waited for but handed back to the
caller (``TransientGraphError.retry_after``), who must not ask again before it.
A 401 asks the caller's ``refresh`` callback for a new token once per request.
Every request has a timeout. ``interrupt()`` (from another thread) makes a read
give up at once, even in the middle of a wait or a slow request.
"""
from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from contextvars import copy_context
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import quote, urlsplit

import orjson
import requests

from listening.outlook.events import SELECT

log = logging.getLogger(__name__)

PAGE_SIZE = 1000  # calendarView's maximum $top (docs/microsoft-graph.md §1)
MAX_WAIT = 120.0  # seconds one client may spend waiting on Retry-After/backoff before giving up
PREFER = 'IdType="ImmutableId", outlook.timezone="UTC"'
# Delta takes no $top; its page size is asked for in Prefer (§2).
DELTA_PREFER = PREFER + f", odata.maxpagesize={PAGE_SIZE}"
# Graph answers a subscription request only after our endpoint answered its validation POST,
# which it allows 10 s (docs/microsoft-graph.md §9): our wait must outlast that.
VALIDATION_WAIT = 10.0
RETRYABLE = frozenset((429, 500, 502, 503, 504))
# Graph error codes that no retry will fix (docs/microsoft-graph.md §6).
PERMANENT_CODES = {
    "MailboxNotEnabledForRESTAPI": "Microsoft cannot open this mailbox through its API: it is "
    "inactive, hosted on-premises, or has no Exchange Online licence. Ask your IT team to check it.",
    "ErrorAccessDenied": "Microsoft refused access to this calendar (the permission was removed, or "
    "an Exchange policy blocks Listening). Reconnect Outlook, or ask your IT team.",
}


class GraphError(Exception):
    """Base of every failure of a Graph call. Messages never carry event content."""

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None,
                 request_id: str | None = None):
        super().__init__(message)
        self.status, self.code, self.request_id = status, code, request_id


class TransientGraphError(GraphError):
    """Throttled, unavailable or unreachable beyond our wait budget: try again later.
    ``retry_after``: the seconds Graph asked us to wait, when that was beyond the budget."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs):
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class PermanentGraphError(GraphError):
    """Retrying cannot help (mailbox not enabled, access denied); ``reason`` is for people."""

    @property
    def reason(self) -> str:
        return PERMANENT_CODES.get(self.code or "", PERMANENT_CODES["ErrorAccessDenied"])


class GraphAuthError(GraphError):
    """401 even with a freshly refreshed token: the link must be made again."""


class MalformedResponseError(GraphError):
    """A page that is not JSON, or has no ``value`` list: nothing from it can be trusted."""


class GraphRequestError(GraphError):
    """Any other 4xx: our request was wrong (a bug), retrying the same thing will not help."""


class GraphNotFound(GraphRequestError):
    """404: the item (a subscription, say) does not exist, or no longer."""


class DeltaReset(GraphError):
    """The delta token is no longer valid (410 Gone, ``resyncRequired``, ``syncStateNotFound``,
    §2): start again with a round without a token."""


class DeltaForbidden(GraphError):
    """Graph refused delta for this mailbox (403) though calendarView may still work: whether
    delta accepts Calendars.ReadBasic is unverified (§1)."""


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds: a number (Graph sends e.g. ``2.128``) or an HTTP date."""
    if value is None or not value.strip():
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            moment = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = (moment - (now or datetime.now(UTC))).total_seconds()
    return max(0.0, seconds) if seconds == seconds else None  # NaN is no answer


def backoff_seconds(attempt: int, rng: Callable[[], float] = random.random,
                    base: float = 1.0, cap: float = 30.0) -> float:
    """Exponential backoff with "equal jitter": half fixed, half random, so retries of many
    workers spread out yet never come back immediately."""
    ceiling = min(cap, base * 2 ** attempt)
    return ceiling / 2 + rng() * ceiling / 2


class GraphClient:
    """One mailbox's Graph calls with one access token. Not thread-safe; one per sync."""

    def __init__(self, graph_url: str, access_token: str, *, refresh: Callable[[], str] | None = None,
                 timeout: float = 10.0, max_wait: float = MAX_WAIT, http: requests.Session | None = None,
                 rng: Callable[[], float] = random.random):
        self.base = graph_url.rstrip("/")
        self._origin = _origin(self.base)
        self._token, self._refresh = access_token, refresh
        self.timeout, self.max_wait = timeout, max_wait
        self.http = http or requests.Session()
        self._rng = rng
        self._stop = threading.Event()
        self._interrupted = False
        self._pools: list[ThreadPoolExecutor] = []
        self.requests = 0        # HTTP requests sent, retries included
        self.waited = 0.0        # seconds spent honouring Retry-After / backoff

    def close(self) -> None:
        """Stop any read still in progress (even one never iterated), then the HTTP session.
        After ``interrupt()`` a request still in flight is not waited for: its answer is dropped."""
        self._stop.set()
        for pool in self._pools:
            pool.shutdown(wait=not self._interrupted, cancel_futures=True)
        self.http.close()

    def interrupt(self) -> None:
        """Give up the read in progress as soon as possible (any thread may call this): a wait
        on Retry-After ends at once, and the reader stops waiting for a page in flight."""
        self._interrupted = True
        self._stop.set()

    def _check_interrupted(self) -> None:
        if self._interrupted:
            raise TransientGraphError("the read was interrupted")

    def __enter__(self) -> GraphClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def calendar_view(self, start: datetime, end: datetime,
                      select: tuple[str, ...] = SELECT) -> Iterator[list[dict]]:
        """The events of [start, end), page by page, in Graph's order, with the ``select`` fields.

        The first request is sent at once (the caller may prepare meanwhile), and
        while the caller works on one page the next is already being fetched on a
        helper thread: network and our CPU work overlap, and at most two pages are
        ever held. The thread runs in a copy of the caller's context, so a token
        refresh it triggers sees the same app and log context.
        """
        params = {"startDateTime": _iso(start), "endDateTime": _iso(end),
                  "$select": ",".join(select), "$top": str(PAGE_SIZE)}
        self._check_interrupted()
        self._stop.clear()
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="graph-page")
        self._pools.append(pool)
        first = pool.submit(copy_context().run, self._get_json, self.base + "/me/calendarView", params, 1)
        return self._pages(pool, first)

    def _pages(self, pool: ThreadPoolExecutor, pending: Future) -> Iterator[list[dict]]:
        page_number = 1
        try:
            while pending is not None:
                body, pending = self._result(pending), None
                url = body.get("@odata.nextLink")
                if url is not None:
                    self._check_next_link(url, page_number)
                    pending = pool.submit(copy_context().run, self._get_json, url, None, page_number + 1)
                yield body["value"]
                page_number += 1
        finally:
            self._stop.set()  # a read abandoned mid-way must not sit out a Retry-After
            pool.shutdown(wait=not self._interrupted, cancel_futures=True)

    def _result(self, pending: Future) -> dict:
        """The page once fetched; an interrupt ends the wait even while the request is in flight."""
        while True:
            self._check_interrupted()
            try:
                return pending.result(timeout=0.2)
            except FutureTimeout:
                continue

    def me(self) -> dict:
        """The signed-in user (``GET /me``): what "Check connection" asks Graph."""
        response = self._send(self.base + "/me", None)
        return _json_object(response, "/me")

    # --- calendarView delta (§2) ---------------------------------------------------------------
    def calendar_view_delta(self, start: datetime, end: datetime, delta_link: str | None = None) -> DeltaRound:
        """One delta round: from ``delta_link`` (the last round's end), or a whole new round of
        the window. Iterate it for the pages; afterwards ``.delta_link`` starts the next one."""
        if delta_link is not None:
            if _origin(delta_link) != self._origin:
                raise MalformedResponseError("the saved delta link points to another host; not following it")
            return DeltaRound(self, delta_link, None)
        return DeltaRound(self, self.base + "/me/calendarView/delta",
                          {"startDateTime": _iso(start), "endDateTime": _iso(end)})

    # --- change-notification subscriptions (§9) ------------------------------------------------
    def create_subscription(self, notification_url: str, lifecycle_url: str, expires: datetime,
                            client_state: str) -> dict:
        """Basic notifications (no resource data) of every change to the mailbox's events."""
        body = {"changeType": "created,updated,deleted", "notificationUrl": notification_url,
                "lifecycleNotificationUrl": lifecycle_url, "resource": "me/events",
                "expirationDateTime": _iso(expires), "clientState": client_state,
                "latestSupportedTlsVersion": "v1_2"}
        response = self._send(self.base + "/subscriptions", None, method="POST", body=body,
                              timeout=self.timeout + VALIDATION_WAIT)
        return _json_object(response, "POST /subscriptions")

    def renew_subscription(self, subscription_id: str, expires: datetime) -> dict:
        """A new expiry; Graph also takes this request's token as the subscription's authority."""
        response = self._send(self._subscription_url(subscription_id), None, method="PATCH",
                              body={"expirationDateTime": _iso(expires)})
        return _json_object(response, "PATCH /subscriptions/{id}")

    def reauthorize_subscription(self, subscription_id: str) -> None:
        self._send(self._subscription_url(subscription_id) + "/reauthorize", None, method="POST")

    def delete_subscription(self, subscription_id: str) -> bool:
        """False when Graph no longer knows it (expired or removed): gone either way."""
        try:
            self._send(self._subscription_url(subscription_id), None, method="DELETE")
        except GraphNotFound:
            return False
        return True

    def _subscription_url(self, subscription_id: str) -> str:
        return f"{self.base}/subscriptions/{quote(subscription_id, safe='')}"

    # --- one request, with its retries ---------------------------------------------------------
    def _get_json(self, url: str, params: dict | None, page_number: int) -> dict:
        response = self._send(url, params)
        return _page(response, page_number)

    def _send(self, url: str, params: dict | None, *, method: str = "GET", body: dict | None = None,
              timeout: float | None = None, prefer: str = PREFER) -> requests.Response:
        attempt, refreshed = 0, False
        while True:
            try:
                response = self._request(method, url, params, body, timeout or self.timeout, prefer)
            except (requests.ConnectionError, requests.Timeout) as exc:
                self._wait(None, attempt, f"network error ({type(exc).__name__})")
                attempt += 1
                continue
            status = response.status_code
            if status == 401 and self._refresh is not None and not refreshed:
                log.info("Graph answered 401; refreshing the access token once")
                self._token, refreshed = self._refresh(), True
                continue
            if status in RETRYABLE:
                self._wait(response, attempt, f"HTTP {status}")
                attempt += 1
                continue
            if status >= 400:
                raise _error_for(response)
            return response

    def _request(self, method: str, url: str, params: dict | None, body: dict | None, timeout: float,
                 prefer: str) -> requests.Response:
        self._check_interrupted()
        self.requests += 1
        headers = {"Authorization": "Bearer " + self._token, "Prefer": prefer, "Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        return self.http.request(method, url, params=params, timeout=timeout, allow_redirects=False,
                                 headers=headers, data=None if body is None else orjson.dumps(body))

    def _wait(self, response: requests.Response | None, attempt: int, what: str) -> None:
        """Sleep as Graph asks (or back off); give up as transient past the total budget."""
        header = response.headers.get("Retry-After") if response is not None else None
        asked = retry_after_seconds(header)
        delay = asked if asked is not None else backoff_seconds(attempt, self._rng)
        if self.waited + delay > self.max_wait:
            status = response.status_code if response is not None else None
            code, request_id = _error_code(response) if response is not None else (None, None)
            raise TransientGraphError(
                f"Graph kept failing ({what}) beyond our {self.max_wait:g} s wait budget",
                status=status, code=code, request_id=request_id, retry_after=asked)
        log.info("Graph %s; waiting %.2f s before retrying", what, delay)
        if self._stop.wait(delay):
            raise TransientGraphError("the read was abandoned while waiting to retry")
        self.waited += delay

    def _check_next_link(self, url: str, page_number: int) -> None:
        if _origin(url) != self._origin:
            raise MalformedResponseError(
                f"page {page_number}: @odata.nextLink points to another host; not following it")


class DeltaRound:
    """The pages of one delta round, in Graph's order; ``delta_link`` once the last is read.

    Items are events (in full, as delta cannot take ``$select``) or ``{"id", "@removed"}``
    entries; the same event may come more than once (§2)."""

    def __init__(self, client: GraphClient, url: str, params: dict | None):
        self._client, self._url, self._params = client, url, params
        self.delta_link: str | None = None

    def __iter__(self) -> Iterator[list[dict]]:
        url, params, page_number = self._url, self._params, 1
        while True:
            body = self._read(url, params, page_number)
            yield body["value"]
            next_link, delta_link = body.get("@odata.nextLink"), body.get("@odata.deltaLink")
            if isinstance(next_link, str):
                self._client._check_next_link(next_link, page_number)
                url, params, page_number = next_link, None, page_number + 1
                continue
            if isinstance(delta_link, str) and _origin(delta_link) == self._client._origin:
                self.delta_link = delta_link
                return
            raise MalformedResponseError(f"page {page_number} of delta ends the round without a "
                                         "deltaLink on our Graph host")

    def _read(self, url: str, params: dict | None, page_number: int) -> dict:
        try:
            response = self._client._send(url, params, prefer=DELTA_PREFER)
        except PermanentGraphError as exc:
            if exc.status == 403:
                raise DeltaForbidden(str(exc), status=exc.status, code=exc.code,
                                     request_id=exc.request_id) from None
            raise
        except GraphRequestError as exc:
            if exc.status == 410 or exc.code in ("syncStateNotFound", "resyncRequired"):
                raise DeltaReset(str(exc), status=exc.status, code=exc.code,
                                 request_id=exc.request_id) from None
            raise
        return _page(response, page_number)


class GraphClients:
    """Makes the GraphClient of one mailbox from the deployment's settings (Graph's address,
    the timeout of every request, the most a client may wait on Retry-After)."""

    def __init__(self, settings):
        self.base, self.timeout, self.max_wait = settings.graph_url, settings.http_timeout, settings.graph_max_wait

    def client(self, access_token: str, *, refresh: Callable[[], str] | None = None,
               max_wait: float | None = None) -> GraphClient:
        return GraphClient(self.base, access_token, refresh=refresh, timeout=self.timeout,
                           max_wait=self.max_wait if max_wait is None else max_wait)


def _json(response: requests.Response, what: str):
    """The parsed body, or MalformedResponseError: a proxy's or gateway's HTML page can come
    with a 200."""
    try:
        return orjson.loads(response.content)  # a page is ~1 MB: ~2x the stdlib parser
    except ValueError:
        kind = response.headers.get("Content-Type", "no content type").split(";")[0]
        raise MalformedResponseError(f"{what} is not JSON ({kind}, {len(response.content)} bytes)",
                                     status=response.status_code,
                                     request_id=response.headers.get("request-id")) from None


def _json_object(response: requests.Response, what: str) -> dict:
    body = _json(response, what)
    if not isinstance(body, dict):
        raise MalformedResponseError(f"{what} is not a JSON object", status=response.status_code,
                                     request_id=response.headers.get("request-id"))
    return body


def _page(response: requests.Response, page_number: int) -> dict:
    """The page body, or MalformedResponseError saying plainly what is wrong with it."""
    request_id = response.headers.get("request-id")
    body = _json(response, f"page {page_number} of calendarView")
    if not isinstance(body, dict) or not isinstance(body.get("value"), list):
        raise MalformedResponseError(f"page {page_number} of calendarView has no 'value' list",
                                     status=response.status_code, request_id=request_id)
    link = body.get("@odata.nextLink")
    if link is not None and not isinstance(link, str):
        raise MalformedResponseError(f"page {page_number}: @odata.nextLink is not a string",
                                     status=response.status_code, request_id=request_id)
    return body


def _error_code(response: requests.Response) -> tuple[str | None, str | None]:
    """(Graph error code, request id) from an error envelope (docs/microsoft-graph.md §6), if readable."""
    request_id = response.headers.get("request-id")
    try:
        error = response.json().get("error") or {}
        code = error.get("code")
        return (code if isinstance(code, str) else None), request_id
    except (ValueError, AttributeError):
        return None, request_id


def _error_for(response: requests.Response) -> GraphError:
    status = response.status_code
    code, request_id = _error_code(response)
    text = f"Graph answered {status} {code or '(no error code)'}"
    kwargs = {"status": status, "code": code, "request_id": request_id}
    if code in PERMANENT_CODES or status == 403:
        return PermanentGraphError(text, **kwargs)
    if status == 401:
        return GraphAuthError(text + " even after refreshing the token", **kwargs)
    if status == 404:
        return GraphNotFound(text, **kwargs)
    return GraphRequestError(text, **kwargs)


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("calendarView window bounds must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
