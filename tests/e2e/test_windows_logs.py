"""Windows' own logs with every one of them on: no secret reaches Script Block Logging, Module Logging, the Ansible
event log or transcription, at -vvv or at -vvvvv; and a mutant that sends secrets as win_powershell's
sensitive_parameters, as the collection once did, is caught.

Every run of the lab is scanned (tests/e2e/conftest.py); these tests add the highest verbosity, look at the logs
themselves, and prove the scan would catch the old transport.
"""

from __future__ import annotations

import pathlib
import re
import shutil

import pytest

import pki_fixtures as pki
from conftest import REPO, TEST_PLAYBOOKS, SecretLeak
from test_iis_app_pools import SEED as IIS_SEED
from winsim import windows_logs

IIS_PLAYBOOK = TEST_PLAYBOOKS / "iis_app_pools.yml"
CERT_PLAYBOOK = TEST_PLAYBOOKS / "certificates.yml"
HOST = "kf-web01.contoso.com"
POOL_PASSWORD = "Pool!Secret-2026#logs"
PFX_PASSWORD = "Pfx!Secret-2026#logs"
# A web server after IIS setup, with the pool's account in the domain.
SEED = IIS_SEED
POOLS = {"test_pools": [{"name": "KeyfactorPortal", "identity_type": "SpecificUser",
                         "username": "CONTOSO\\svc_keyfactor", "password": POOL_PASSWORD}]}


@pytest.fixture(scope="module")
def encryption_cert(ca):
    return pki.issue("encryption.contoso.com", issuer=ca[1])


def _certificate_vars(lab, issued) -> dict:
    path = lab.root / "encryption.pfx"
    path.write_bytes(pki.pfx(issued, PFX_PASSWORD))
    return {"test_pfx": {"src": str(path), "password": PFX_PASSWORD, "key_access": [{"principal": "NETWORK SERVICE"}]}}


def _logs(lab) -> dict[str, str]:
    return windows_logs.texts_by_log(windows_logs.read(lab.root / f"{HOST}.json"))


@pytest.mark.parametrize("verbosity", ["-vvv", "-vvvvv"])
def test_pool_and_pfx_passwords_reach_the_host_but_no_windows_log(lab, encryption_cert, verbosity):
    lab.add_host(HOST, seed=SEED)
    for playbook, extra_vars in ((IIS_PLAYBOOK, POOLS), (CERT_PLAYBOOK, _certificate_vars(lab, encryption_cert))):
        check = lab.run(playbook, verbosity, check=True, diff=True, extra_vars=extra_vars)
        converge = lab.run(playbook, verbosity, diff=True, extra_vars=extra_vars)
        again = lab.run(playbook, verbosity, extra_vars=extra_vars)
        assert [run.returncode for run in (check, converge, again)] == [0, 0, 0], converge.stdout[-3000:]
        assert converge.changed(HOST) == 1 and again.changed(HOST) == 0
    # The secrets did reach the host: the pool runs as its account, and the PFX's key was imported.
    state = lab.state(HOST)
    assert state["iis"]["app_pools"]["KeyfactorPortal"]["identity_type"] == "SpecificUser"
    assert pki.thumbprint(encryption_cert) in state["certificates"]["My"]
    logs = _logs(lab)
    # Every log was kept, and each scan above read it; nothing of ours writes to the Ansible event log.
    assert "transport/runner.ps1" in logs["script_block"] and "iis_app_pools.ps1" in logs["script_block"]
    assert "ParameterBinding(Out-Default)" in logs["module"] and "ConvertTo-SecureString" not in logs["module"]
    assert logs["ansible"] == ""
    assert '"changed":true' in logs["transcript"]
    if verbosity == "-vvvvv":
        assert "WINDOWS_SIM STDOUT" in converge.stdout


def _mutant_collection(tmp_path: pathlib.Path, old: str, new: str) -> pathlib.Path:
    """The collections path with a copy of this collection whose _windows_task.py has ``old`` replaced by ``new``."""
    root = tmp_path / "mutant-collections" / "ansible_collections"
    shutil.copytree(REPO / ".cache" / "collections" / "ansible_collections", root, symlinks=True,
                    ignore=shutil.ignore_patterns("keyfactor_command"))
    target = root / "pkiops" / "keyfactor_command"
    shutil.copytree(REPO, target, ignore=shutil.ignore_patterns(".git", ".cache", ".venv", "tests", "docs", "changelogs"))
    source = target / "plugins" / "plugin_utils" / "_windows_task.py"
    text = source.read_text(encoding="utf-8")
    assert text.count(old) == 1, "the mutant's anchor is not in _windows_task.py any more"
    source.write_text(text.replace(old, new), encoding="utf-8")
    return root.parent


# The transport this collection used before its runner: every payload through win_powershell, secrets as
# sensitive_parameters, which win_powershell converts with ConvertTo-SecureString.
SENSITIVE_PARAMETERS_EVERYWHERE = ("        if self._play_context.become:\n",
                                   "        if True:  # mutant: win_powershell for every run\n")


def test_the_scan_catches_secrets_sent_as_win_powershell_sensitive_parameters(lab, tmp_path):
    lab.collections_path = _mutant_collection(tmp_path, *SENSITIVE_PARAMETERS_EVERYWHERE)
    lab.mutant = True
    lab.add_host(HOST, seed=SEED)
    with pytest.raises(SecretLeak) as caught:
        lab.run(IIS_PLAYBOOK, extra_vars=POOLS)
    assert re.search(r"in Module Logging \(event 4103\) of " + re.escape(HOST), str(caught.value)), caught.value
    assert POOL_PASSWORD not in str(caught.value)
