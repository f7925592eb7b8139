"""What a failed exchange with Microsoft leaves in logs and the audit log: codes, never input."""
from __future__ import annotations

import pytest
from authlib.integrations.base_client.errors import OAuthError

from listening.outlook.identity import redirect_error, what_failed


@pytest.mark.parametrize("exc, expected", [
    (OAuthError(error="invalid_grant", description="AADSTS54005: the code was already redeemed"),
     "invalid_grant"),
    (OAuthError(error="x\nFAKE log line <script>"), "unrecognised error"),
    (OAuthError(), "oauth_error"),  # authlib's own default code
    (ValueError("quoted input: <id_token>"), "ValueError"),
])
def test_what_failed_is_an_error_code_or_a_class_name(exc, expected):
    assert what_failed(exc) == expected


def test_a_redirect_error_passes_only_in_the_shape_of_an_oauth_code():
    assert redirect_error("access_denied") == "access_denied"
    assert redirect_error("access_denied\r\nFAKE") == redirect_error(None) == "unrecognised error"
