"""`tgwa directory sync FILE` against a loopback Community Management: staff from the company's
users with a mobile, partners' names and trading addresses; everything only the file knows kept,
comments too; a second run changes nothing; a running deployment reads the new file."""
from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from app import directory
from app.demo.opentext import FakeOpenText
from tests.conftest import FIXTURES
from tests.loopback import serve

PARTNERS = [{"companyId": "GC00804444LX", "partnerCompanyId": "GC0415", "partnerCompanyName": "ACME LOGISTICS GMBH",
             "tradingAddresses": ["ZZ:ACMELOGISTICS", "01:4012345000009"]},
            {"companyId": "GC00804444LX", "partnerCompanyId": "GC0416", "partnerCompanyName": "Globex Freight Inc.",
             "tradingAddresses": ["ZZ:GLOBEXFREIGHT"]},
            {"companyId": "GC00804444LX", "partnerCompanyId": "GC0417", "partnerCompanyName": "Initech Oy",
             "tradingAddresses": ["ZZ:INITECH"], "address": {"countryCode": "FI"}},
            {"companyId": "GC00804444LX", "partnerCompanyId": "GC0418", "partnerCompanyName": "Nowhere Ltd",
             "tradingAddresses": ["ZZ:NOWHERE"]}]
USERS = [{"userId": "U1", "loginId": "u.smith", "firstName": "Una", "lastName": "Smith-Jones",
          "contactInformation": {"email": "una@example.com", "mobile": "+44 7700 900123"},
          "preferredLanguage": "en_GB", "preferredTimezone": "Europe/London"},
         {"userId": "U2", "loginId": "k.tanaka@example.com", "firstName": "Kei", "lastName": "Tanaka",
          "contactInformation": {"mobile": "+81 90 8765 4321"}, "preferredLanguage": "ja-JP",
          "preferredTimezone": "Asia/Tokyo"},
         {"userId": "U3", "loginId": "reports@example.com", "firstName": "Reports", "lastName": "Robot",
          "contactInformation": {"email": "reports@example.com"}},
         {"userId": "U4", "loginId": "j.clash@example.com", "firstName": "Jo", "lastName": "Clash",
          "contactInformation": {"mobile": "+49 151 2345 6789"}}]  # Jana Weber's number, a partner contact


@pytest.fixture
def cm() -> Iterator[FakeOpenText]:
    fake = FakeOpenText(partners=list(PARTNERS), users=list(USERS))
    with serve(fake.app()) as url:
        fake.url = url  # type: ignore[attr-defined]
        yield fake


@pytest.fixture
def file(tmp_path: Path) -> Path:
    path = tmp_path / "directory.yaml"
    path.write_text("# Our partners: contacts are kept by hand, staff come from Community Management.\n"
                    + (FIXTURES / "directory.yaml").read_text().replace(
                        "  - id: GLOBEX\n", "  - id: GLOBEX  # US partner, month-first dates\n"))
    return path


def sync(cm: FakeOpenText, file: Path, *options: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OPENTEXT_API_URL": cm.url, "OPENTEXT_CLIENT_ID": cm.client_id,  # type: ignore[attr-defined]
           "OPENTEXT_CLIENT_SECRET": cm.client_secret, "OPENTEXT_COMPANY_ID": cm.company_id}
    return subprocess.run([sys.executable, "-m", "app.cli", "directory", "sync", str(file), *options],
                          env=env, capture_output=True, text=True, timeout=60)


def test_sync_adds_staff_with_a_mobile_keeps_the_files_own_and_a_second_run_changes_nothing(cm, file) -> None:  # type: ignore[no-untyped-def]
    before = directory.load(file)
    done = sync(cm, file)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "added    staff k.tanaka@example.com (Kei Tanaka, +819087654321)" in lines
    assert "changed  staff u.smith: name 'Una Smith-Jones'; language 'en'; timezone 'Europe/London'" in lines
    assert ("changed  partner ACME: name 'ACME LOGISTICS GMBH'; trading_addresses +ZZ:ACMELOGISTICS, "
            "+01:4012345000009") in lines
    assert "added    partner GC0417 (Initech Oy)" in lines
    assert any(line.startswith("skipped  partner Nowhere Ltd: not in the file, and Community Management gives no country")
               for line in lines)
    assert "skipped  user reports@example.com: no mobile" in lines
    assert ("skipped  user j.clash@example.com: mobile +4915123456789 is already the phone of Jana Weber (ACME) "
            "in the file") in lines
    assert "left     staff r.patel (not a Community Management user)" in lines
    assert not any(line.startswith("left     partner") for line in lines), "every partner is in Community Management"
    assert directory.check(file) == []
    after = directory.load(file)
    for pid, partner in before.partners.items():
        assert after.partners[pid].contacts == partner.contacts, "every partner contact is kept as it was"
    assert after.partners["ACME"].name == "ACME LOGISTICS GMBH"
    assert after.partners["ACME"].trading_addresses == ("ZZ:ACMELOGISTICS", "01:4012345000009")
    assert after.partners["GLOBEX"].trading_addresses == ("ZZ:GLOBEXFREIGHT",)
    kei = after.staff["k.tanaka@example.com"]
    assert (kei.name, kei.phone, kei.language, kei.timezone) == ("Kei Tanaka", "819087654321", "ja", "Asia/Tokyo")
    assert after.staff["u.smith"].teams == ("support",) and after.groups == before.groups
    assert "reports@example.com" not in after.staff and "j.clash@example.com" not in after.staff
    text = file.read_text()
    assert text.startswith("# Our partners: contacts are kept by hand") and "# US partner, month-first dates" in text
    assert '    phone: "+49 151 2345 6789"\n' in text, "quoting and indentation as the file had them"

    written, stamp = file.read_bytes(), file.stat().st_mtime_ns
    again = sync(cm, file)
    assert again.returncode == 0 and f"{file}: nothing to change" in again.stdout
    assert file.read_bytes() == written and file.stat().st_mtime_ns == stamp, "not even rewritten"


def test_a_dry_run_prints_the_changes_and_writes_nothing(cm, file) -> None:  # type: ignore[no-untyped-def]
    before = file.read_bytes()
    done = sync(cm, file, "--dry-run")
    assert done.returncode == 0 and "added    staff k.tanaka@example.com" in done.stdout
    assert f"{file}: dry run, nothing written (2 added, 3 changed, 1 left)" in done.stdout
    assert file.read_bytes() == before


def test_community_management_down_leaves_the_file_alone_and_says_why(cm, file) -> None:  # type: ignore[no-untyped-def]
    before = file.read_bytes()
    cm.fail_next(503, 503, 503, 503)
    done = sync(cm, file)
    assert done.returncode == 1 and done.stdout == ""
    assert "Community Management GET /TGCommunityServices/v1/companies/GC00804444LX/partnerDirectory: " in done.stderr
    assert "503" in done.stderr
    assert cm.client_secret not in done.stderr and "Traceback" not in done.stderr
    assert file.read_bytes() == before


def test_a_running_deployment_reads_the_changed_file_and_keeps_a_good_one_over_a_broken_one(
        rt, file, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(directory.Watched, "CHECK_SECONDS", 0.0)
    watched = directory.Watched(file, directory.load(file))
    assert "k.tanaka" not in watched.current().staff
    file.write_text(file.read_text().replace(
        "staff:\n", 'staff:\n  - id: k.tanaka\n    name: Kei Tanaka\n    phone: "+81 90 8765 4321"\n'))
    assert watched.current().staff["k.tanaka"].phone == "819087654321"
    file.write_text("partners: [broken\n")
    assert "k.tanaka" in watched.current().staff, "a file that does not load leaves the last good one"
