"""Stand-in for ansible.windows.win_certificate_store, for what the collection uses it for: removing a certificate.

State: ``state["certificates"]`` (see ../certificates.py).

As in the real module with ``state: absent`` and a ``thumbprint``: the certificate
is removed from the LocalMachine store, its private key is left alone (X509Store.Remove
does not delete keys), ``thumbprints`` lists what was removed, and a certificate
that is not there is not a change. Importing, exporting and other store
locations need a file on the host, which the simulator does not transfer.
"""

from __future__ import annotations

from ..errors import HostError
from ..registry import stock_module


@stock_module("ansible.windows.win_certificate_store", secret_options=("password",))
def win_certificate_store(host, params, check_mode, diff_mode):
    del diff_mode
    if params["state"] != "absent" or not params.get("thumbprint") or params.get("path"):
        raise HostError("windows_sim models ansible.windows.win_certificate_store only for state=absent with a thumbprint")
    if params["store_location"] != "LocalMachine" or params["store_type"] != "system":
        raise HostError("windows_sim models only the LocalMachine system stores")
    store = host.state.get("certificates", {}).get(params["store_name"], {})
    wanted = params["thumbprint"].strip().upper()
    found = [t for t in store if t.upper() == wanted]
    if found and not check_mode:
        del store[found[0]]
    return {"changed": bool(found), "thumbprints": found}
