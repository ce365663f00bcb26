"""The mail image's keepalived-conf (compose/images/mail/bin): which health file each VRRP instance
tracks. The mirror's second MX carries only SMTP, so it must follow Postfix's health alone — not the
resync gate (docs/mirror-findings.md, "SMTP lags the other protocols")."""
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "compose/images/mail/bin/keepalived-conf"


def render(instances: str) -> str:
    env = {**os.environ, "VRRP_IP": "127.0.0.1", "VRRP_PEERS": "127.0.0.2", "VRRP_INSTANCES": instances}
    return subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True, check=True).stdout


def tracked(conf: str) -> dict[str, str]:
    return dict(re.findall(r"vrrp_instance VI_(\w+) \{.*?track_file \{\s*(\w+)", conf, re.S))


@pytest.mark.skipif(shutil.which("ip") is None, reason="needs iproute2's ip to find the interface")
def test_an_smtp_only_address_tracks_postfix_health_and_the_mail_vip_the_whole_node():
    conf = render("MAIL:51:10.231.0.200/24:150 MX2:52:10.231.0.201/24:100:smtp")
    assert tracked(conf) == {"MAIL": "mail_health", "MX2": "mail_health_smtp"}
    assert '"/run/mailha/health-smtp"' in conf
    assert tracked(render("MAIL:51:10.231.0.200/24:150 MX2:52:10.231.0.201/24:100")) == {
        "MAIL": "mail_health", "MX2": "mail_health"}
