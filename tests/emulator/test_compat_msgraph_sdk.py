"""Microsoft's msgraph-sdk, pointed at the emulator, reads /me and pages a calendarView.

The credential is an azure-core TokenCredential returning a token minted by the control API:
a real credential object, not a mock of the HTTP boundary. The adapter's base_url is the SDK's
supported way to change the Graph host; allowed_hosts lets the auth provider attach the token
to 127.0.0.1 (kiota accepts plain http for loopback hosts).
"""
from __future__ import annotations

import asyncio
import time

from azure.core.credentials import AccessToken
from emu_helpers import WINDOW
from kiota_authentication_azure.azure_identity_authentication_provider import (
    AzureIdentityAuthenticationProvider,
)
from msgraph import GraphRequestAdapter, GraphServiceClient
from msgraph.generated.users.item.calendar_view.calendar_view_request_builder import (
    CalendarViewRequestBuilder,
)


class MintedCredential:
    """azure-core TokenCredential protocol: get_token(*scopes) -> AccessToken."""

    def __init__(self, token: str):
        self.token = token

    def get_token(self, *scopes, **kwargs) -> AccessToken:
        return AccessToken(self.token, int(time.time()) + 3000)


def client_for(emulator, token: str) -> GraphServiceClient:
    auth = AzureIdentityAuthenticationProvider(MintedCredential(token), allowed_hosts=["127.0.0.1"],
                                               scopes=["https://graph.microsoft.com/.default"])
    adapter = GraphRequestAdapter(auth)
    adapter.base_url = emulator.url + "/v1.0"
    return GraphServiceClient(request_adapter=adapter)


def test_sdk_reads_me_and_pages_calendar_view(emulator, manager):
    client = client_for(emulator, emulator.mint_token(manager["email"])["access_token"])

    async def run():
        me = await client.me.get()
        query = CalendarViewRequestBuilder.CalendarViewRequestBuilderGetQueryParameters(
            start_date_time=WINDOW["startDateTime"], end_date_time=WINDOW["endDateTime"],
            top=40, select=["subject", "start", "end", "type"])
        config = CalendarViewRequestBuilder.CalendarViewRequestBuilderGetRequestConfiguration(
            query_parameters=query)
        page = await client.me.calendar_view.get(request_configuration=config)
        seen = list(page.value)
        pages = 1
        while page.odata_next_link:
            page = await client.me.calendar_view.with_url(page.odata_next_link).get()
            seen += page.value
            pages += 1
        return me, seen, pages

    me, events, pages = asyncio.run(run())
    assert me.id == manager["oid"] and me.mail == manager["email"]
    assert pages > 1 and len(events) == len({e.id for e in events})
    assert all(e.subject and e.start.time_zone == "UTC" for e in events)
    assert emulator.stats()["by_endpoint"]["GET /v1.0/me/calendarView"] == pages
