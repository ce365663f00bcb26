"""Design III (shared storage) webmail in a real browser: a message sent with SMTP is shown by
Roundcube in headless Chromium — log in, see it in the inbox, open it — through the design's http
endpoint; a screenshot is kept in the run directory (screenshots/webmail-shared_storage.png). The
fast HTTP probes stay elsewhere."""
import pytest

from ..webmail_browser import in_browser, needs_browser

pytestmark = needs_browser()


@pytest.mark.claim("shared_storage", "webmail")
def test_webmail_works_in_a_real_browser(cert):
    in_browser(cert).assert_claims_hold()
