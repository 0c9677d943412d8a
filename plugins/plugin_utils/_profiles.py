# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pkiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A profile's requirements, stated once as data, and everything derived from them.

Each role states what its profile asks of a server in ``<role>_profile`` (roles/<role>/vars/main.yml), computed from
its documented variables. ``steps`` turns that into what roles/common/tasks/apply_profile.yml needs: the checks the
controller makes before anything touches the host, the options of every task, the snapshot's reads and checks, the
readiness requirements, and what this profile leaves prepared for the next one on the same host. One function, so
that a task, the snapshot's read of it and its readiness requirement cannot drift apart.

A profile is a dict with these keys, each optional except ``name`` and ``title``:

``name``
    The role, for the readiness report and the variable names in messages.
``title``
    What the profile prepares, as task names read it (``the Management Portal``).
``checks``
    Checks of variables the controller can make before anything changes: each ``{kind, option, ...}`` with kind
    ``absolute_path`` (``path``), ``domain_account`` (``account``, ``create_option``, ``created``) or ``https_url``
    (``url``, ``what``).
``accounts``
    ``[{option, accounts}]``: the accounts each variable names, which must exist before anything changes, unless
    the run creates them (``local_accounts``).
``local_accounts``
    Local users to create: ``{account, password, option, password_option}``.
``co_location``
    ``{allow, source, fix}``: refuse a certificate authority or SQL Server unless allowed.
``group_members``
    ``[{group, account, source, option}]``.
``features``
    ``{features, source, option, install, include_management_tools, stop_for_restart, tag}``: the Windows features the
    profile needs; ``install`` names what to give win_feature when that is not ``features`` itself, and ``tag`` the
    tag (``iis`` or ``cluster``) that selects their install.
``rights``
    ``{rights: {right: [account, ...]}, source, option}``.
``pools``
    ``{pools, source}``: the iis_app_pools ``pools``.
``directories``
    ``[{path, writers, source, writers_source, option, writers_option}]``: directories to create, and the accounts
    that create files in them.
``log_access``
    ``{how, accounts, directory, writers, source, option}``: how the profile's accounts write their logs,
    ``users_group`` (through the local Users group among the writers) or ``direct``; ``accounts`` defaults to the
    users its SpecificUser pools run as.
``certificates``
    ``[{pfx_src, pfx_content, password, key_access, access, require_rsa, require_encipherment, source,
    key_access_source, option, key_access_option, fix, key_access_fix}]``: PFX files to import and the accounts
    that may use their keys. Only the first can be the one ``registry_serial`` names.
``chain_certificates``
    ``{certificates, source, fix}``: CA certificates for ca_certificates.
``services``
    ``{services, source, fix}``: services that must be installed.
``registry_serial``
    ``{source, fix}``: write the first certificate's serial number where the gateway reads it.
``cluster_role``
    ``{options, cluster, host, become, become_user, become_password, source, fix}``: a Generic Service cluster role,
    created once per cluster.
"""

from __future__ import annotations

import re

from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils import _variables

COLLECTION = "pkiops.keyfactor_command"
# BUILTIN\Users, by name or SID, through which the users_group log access lets accounts write.
_USERS_GROUP = {"users", "s-1-5-32-545"}
_LOCAL_ACCOUNT = re.compile(r"^(\.\\)?[^\\@]+$")
_HTTPS_URL = re.compile(r"^https://[^/\s]+")
_ABSOLUTE_PATH = re.compile(r"^[A-Za-z]:[\\/]")
_POOL_ACCOUNT = "iis apppool\\"


class ProfileError(Exception):
    """The profile data is not in the shape this module reads; a defect of the role, not of the inventory."""


def _fix(profile: dict, entry: dict, option_key: str = "option", fix_key: str = "fix") -> str:
    if entry.get(fix_key):
        return entry[fix_key]
    option = entry.get(option_key)
    role = f"role {COLLECTION}.{profile['name']}"
    return f"{role}, variable {option}" if option else role


def _lower(values) -> list[str]:
    return [str(value).lower() for value in values]


def _unique(values) -> list:
    seen, found = set(), []
    for value in values:
        key = str(value).lower() if isinstance(value, str) else repr(value)
        if key not in seen:
            seen.add(key)
            found.append(value)
    return found


def directory_access_id(path: str, account: str) -> str:
    """The id readiness_info gives a directory_access requirement, which the snapshot's checks report by."""
    return f"directory/{path.strip().lower()}/{account.strip().lower()}"


def _writers_include_users(writers) -> bool:
    return any(re.sub(r"^builtin.", "", writer.lower()) in _USERS_GROUP for writer in _as_list(writers))


def _problems(profile: dict) -> list[str]:
    """What the controller can tell is wrong before anything touches the host."""
    problems = []
    for check in profile.get("checks") or []:
        kind, option = check["kind"], check["option"]
        if kind == "absolute_path" and not _ABSOLUTE_PATH.match(check["path"]):
            problems.append(
                f"{option} ({check['path']}) must be an absolute path with its drive, such as C:\\Keyfactor\\logs: a "
                "relative path would depend on the directory the connection starts in.")
        elif kind == "domain_account":
            account = check["account"]
            domain = account.rsplit("\\", 1)[0] if "\\" in account else ""
            if not ("@" in account or domain) or domain.lower() in (".", check.get("host", "").split(".")[0].lower()) \
                    or check.get("created"):
                problems.append(
                    f"{option} {account} must be an Active Directory account (DOMAIN\\name or name@domain) that exists "
                    f"already, because {check['why']} Local accounts, and {check['create_option']}, only work with "
                    f"{check['instead']}.")
        elif kind == "https_url" and not _HTTPS_URL.match(check["url"] or ""):
            problems.append(f"{option} must be the https:// URL of {check['what']}, not '{check['url']}'.")
        elif kind not in ("absolute_path", "domain_account", "https_url"):
            raise ProfileError(f"{profile['name']}: unknown check kind {kind!r}")
    for account in profile.get("local_accounts") or []:
        if not account.get("password"):
            problems.append(f"Creating {account['option']} ({account['account']}) needs a non-empty "
                            f"{account['password_option']}.")
        elif not _LOCAL_ACCOUNT.match(account["account"]):
            problems.append(f"Creating {account['option']} needs it to name a local account (.\\name or a bare name, "
                            f"not {account['account']}).")
    log_access = profile.get("log_access")
    if log_access and log_access["how"] == "users_group" and not _writers_include_users(log_access["writers"]):
        problems.append(
            f"{log_access['option']} is users_group, but common_log_directory_writers ({', '.join(_as_list(log_access['writers']))}) "
            f"does not include BUILTIN\\Users. Add it, or set {log_access['option']}=direct.")
    return problems


def _as_list(value) -> list:
    """A list variable given as one string, as a role's argument specification lets it through, is that one item."""
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def _key_access(certificate: dict, pending: set) -> list[dict]:
    grants = []
    for account in _unique(_as_list(certificate.get("key_access"))):
        if account.lower() in pending:
            continue
        grant = {"principal": account}
        if certificate.get("access"):
            grant["access"] = certificate["access"]
        grants.append(grant)
    return grants


def _pfx_import_options(certificate: dict, pending: set) -> dict:
    options = {"src": certificate["pfx_src"]} if certificate.get("pfx_src") else {"content": certificate.get("pfx_content")}
    options.update(password=certificate.get("password") or "", key_access=_key_access(certificate, pending))
    for requirement in ("require_rsa", "require_encipherment"):
        if certificate.get(requirement):
            options[requirement] = True
    return options


def _pfx_requirement(certificate: dict) -> dict:
    pfx = {"pfx_src": certificate["pfx_src"]} if certificate.get("pfx_src") else {"pfx_content": certificate.get("pfx_content")}
    pfx["pfx_password"] = certificate.get("password") or ""
    return pfx


def _rights_pairs(rights: dict) -> list[str]:
    return [f"{right}/{account.lower()}" for right, accounts in rights.items() for account in accounts]


def _log_accounts(profile: dict) -> list[str]:
    log_access = profile["log_access"]
    if log_access.get("accounts") is not None:
        return list(log_access["accounts"])
    return [pool["username"] for pool in (profile.get("pools") or {}).get("pools") or []
            if pool.get("identity_type") == "SpecificUser"]


def _directory_access(profile: dict) -> list[dict]:
    """Who creates files in which directory: the writers of the profile's directories, and its accounts when they
    write their logs directly."""
    entries = []
    for directory in profile.get("directories") or []:
        entries += [{"path": directory["path"], "account": writer} for writer in _as_list(directory.get("writers"))]
    log_access = profile.get("log_access")
    if log_access and log_access["how"] == "direct":
        entries += [{"path": log_access["directory"], "account": account} for account in _unique(_log_accounts(profile))]
    return [dict(entry, id=directory_access_id(entry["path"], entry["account"])) for entry in entries]


def _pfx_names(certificate: dict) -> dict:
    """The inventory variables a PFX's pfx_import options come from, by the convention ``<x>_pfx_src``,
    ``<x>_pfx_content`` and ``<x>_pfx_password``."""
    option = certificate.get("option") or ""
    base = option[:-len("_src")] if option.endswith("_src") else ""
    names = {"src": option, "content": f"{base}_content", "password": f"{base}_password"} if base else {}
    if certificate.get("key_access_option"):
        names["key_access"] = certificate["key_access_option"]
    return names


def _pfx_about(profile: dict, certificate: dict) -> str:
    names = _pfx_names(certificate)
    if certificate.get("pfx_src"):
        return f"{names.get('src') or profile['title']} ({certificate['pfx_src']})"
    return names.get("content") or profile["title"]


def _task_checks(profile: dict, pending: set) -> tuple[list[dict], list[dict]]:
    """The tasks of the profile that the snapshot reads for, and those it only checks (validate), each with the
    inventory's words for it (about) and its options (names)."""
    title, role = profile["title"], f"role {COLLECTION}.{profile['name']}"
    reads, validate = [], []
    pools = profile.get("pools")
    if pools:
        reads.append({"module": "iis_app_pools", "options": {"pools": pools["pools"]},
                      "about": f"the application pools of {title} ({_fix(profile, pools)})"})
    rights = profile.get("rights")
    if rights:
        reads.append({"module": "user_rights", "options": {"rights": rights["rights"]},
                      "about": f"the user rights of {title} ({_fix(profile, rights)})"})
    for certificate in profile.get("certificates") or []:
        reads.append({"module": "pfx_import", "options": _pfx_import_options(certificate, pending),
                      "about": _pfx_about(profile, certificate), "names": _pfx_names(certificate)})
    chain = profile.get("chain_certificates")
    if chain and chain["certificates"]:
        reads.append({"module": "ca_certificates", "options": {"certificates": chain["certificates"]},
                      "about": chain.get("option") or f"the chain certificates of {title}",
                      "names": {"certificates": chain["option"]} if chain.get("option") else {}})
    cluster_role = profile.get("cluster_role")
    if cluster_role:
        options = {key: value for key, value in cluster_role["options"].items() if value not in (None, "")}
        validate.append({"module": "cluster_generic_service_role", "options": options,
                         "about": f"the cluster role of {title} ({role})",
                         "names": dict(cluster_role.get("variables") or {})})
    return reads, validate


def _snapshot(profile: dict, pending: set, created: set) -> dict:
    """The reads and checks of the snapshot taken before the profile's tasks: what they would each read."""
    reads, validate = _task_checks(profile, pending)
    checks = {}
    if profile.get("co_location"):
        checks["co_location"] = [{"kind": "co_location", "allow": bool(profile["co_location"]["allow"])}]
    accounts = _accounts(profile, pending | created)
    if accounts:
        checks["accounts"] = accounts
    if profile.get("group_members"):
        checks["groups"] = [{"kind": "group_member", "group": m["group"], "account": m["account"]}
                            for m in profile["group_members"]]
    if profile.get("directories"):
        checks["directories"] = [{"kind": "directory_access", "path": d["path"]} for d in profile["directories"]]
    access = _directory_access(profile)
    if access:
        checks["directory_access"] = [{"kind": "directory_access", "path": a["path"], "account": a["account"]}
                                      for a in access]
    if profile.get("features"):
        checks["features"] = [{"kind": "features", "features": list(profile["features"]["features"])}]
    if profile.get("services"):
        checks["services"] = [{"kind": "service_installed", "service": s} for s in profile["services"]["services"]]
    return {"reads": reads, "validate": validate, "checks": checks}


def _accounts(profile: dict, leave_out: set) -> list[dict]:
    """The accounts the profile's variables name, as checks that each exists, but for those the run creates."""
    found = []
    for entry in profile.get("accounts") or []:
        for account in _unique(str(account or "").strip() for account in _as_list(entry.get("accounts"))):
            # A pool's virtual account exists once its pool does, which the profile creates.
            if account and not account.lower().startswith(_POOL_ACCOUNT) and account.lower() not in leave_out:
                found.append({"kind": "account", "account": account, "fix": f"correct {entry['option']}"})
    return found


def _readiness(profile: dict) -> list[dict]:
    """The profile's requirements as readiness_info takes them."""
    name = profile["name"]
    found = []

    def add(entry: dict, item: dict, **fix_keys):
        found.append(dict(entry, profile=name, source=item.get("source", ""), fix=_fix(profile, item, **fix_keys)))

    if profile.get("co_location"):
        add({"kind": "co_location", "allow": bool(profile["co_location"]["allow"])}, profile["co_location"])
    for member in profile.get("group_members") or []:
        add({"kind": "group_member", "group": member["group"], "account": member["account"]}, member)
    rights = profile.get("rights")
    if rights:
        for account in _unique([a for accounts in rights["rights"].values() for a in accounts]):
            for right, accounts in rights["rights"].items():
                if account.lower() in _lower(accounts):
                    add({"kind": "user_right", "right": right, "account": account}, rights)
    for directory in profile.get("directories") or []:
        add({"kind": "directory_access", "path": directory["path"]}, directory)
        for writer in _as_list(directory.get("writers")):
            add({"kind": "directory_access", "path": directory["path"], "account": writer},
                dict(directory, source=directory.get("writers_source", "")), option_key="writers_option")
    log_access = profile.get("log_access")
    if log_access and log_access["how"] == "direct":
        for account in _log_accounts(profile):
            add({"kind": "directory_access", "path": log_access["directory"], "account": account}, log_access)
    if profile.get("features"):
        add({"kind": "features", "features": list(profile["features"]["features"])}, profile["features"])
    pools = profile.get("pools")
    for pool in (pools or {}).get("pools") or []:
        add({"kind": "app_pool", "pool": pool["name"], "identity_type": pool.get("identity_type") or "ApplicationPoolIdentity",
             "username": pool.get("username")}, pools)
    for index, certificate in enumerate(profile.get("certificates") or []):
        pfx = _pfx_requirement(certificate)
        if not certificate.get("key_access_only"):
            add(dict(pfx, kind="certificate"), certificate)
        for account in _unique(_as_list(certificate.get("key_access"))):
            entry = dict(pfx, kind="key_access", account=account)
            if certificate.get("access"):
                entry["access"] = certificate["access"]
            add(entry, dict(certificate, source=certificate.get("key_access_source") or certificate.get("source", "")),
                option_key="key_access_option" if certificate.get("key_access_option") else "option",
                fix_key="key_access_fix" if certificate.get("key_access_fix") else "fix")
        if index == 0 and profile.get("registry_serial"):
            add(dict(pfx, kind="registry_serial"), profile["registry_serial"])
    services = profile.get("services")
    for service in (services or {}).get("services") or []:
        add({"kind": "service_installed", "service": service}, services)
    cluster_role = profile.get("cluster_role")
    if cluster_role:
        options = cluster_role["options"]
        add({"kind": "cluster_role", "role": options["name"],
             "services": [options["service"]] + [s["service"] for s in options.get("additional_services") or []],
             "checkpoints": list(options.get("registry_checkpoints") or [])
             + [c for s in options.get("additional_services") or [] for c in s.get("registry_checkpoints") or []]},
            cluster_role)
    return found


def _unknown_variables(variables, mode: str) -> tuple[list[str], list[str]]:
    """The problem or the warning that variables no role knows make, by ``mode``."""
    if variables is None:
        return [], []
    if mode not in _variables.MODES:
        return [f"{_variables.MODE_VARIABLE} must be one of {', '.join(_variables.MODES)}, not {mode!r}."], []
    entries = _variables.unknown(variables)
    if not entries:
        return [], []
    text = _variables.message(entries)
    return ([text], []) if mode == "fail" else ([], [text])


def _created(profile: dict) -> set:
    """The local accounts the profile creates, as a bare name and as .\\name."""
    names = set()
    for account in profile.get("local_accounts") or []:
        name = re.sub(r"^\.\\", "", str(account["account"])).lower()
        names.update({name, f".\\{name}"})
    return names


def _cluster_problems(cluster_role: dict, play_hosts: list | None, inventory_clusters: dict | None) -> list[str]:
    """The cluster role is created once, for every node: from a host of the play, with every host the inventory
    puts in the same cluster in the play."""
    problems = []
    cluster = str(cluster_role["options"].get("cluster") or "").strip().lower()
    cluster_nodes = sorted(host for host, name in (inventory_clusters or {}).items()
                           if cluster and str(name or "").strip().lower() == cluster)
    if cluster_role.get("host") and play_hosts is not None and cluster_role["host"] not in play_hosts:
        problems.append(f"{cluster_role['host_option']}: {cluster_role['host']} is not a host of this play; give one of "
                        f"{', '.join(play_hosts)}, or leave it empty for the first.")
    missing = [node for node in cluster_nodes or [] if play_hosts is not None and node not in play_hosts]
    if missing:
        problems.append(
            f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} in the cluster "
            f"{cluster_role['options'].get('cluster') or ''} ({cluster_role['cluster_option']}) too, but not in this play. "
            "The cluster role may move to any node, so it is created only when every node of the cluster is prepared "
            "in the same run: run the play without --limit, or with every node of the cluster in the limit.")
    return problems


def _later(profiles, prepared: dict) -> dict:
    """The problems and task checks of the profiles still to come on this host in this run, each derived after the
    ones before it, as it will be applied."""
    found = {"problems": [], "validate": [], "accounts": []}
    for profile in profiles or []:
        later = steps(profile, prepared)
        found["problems"] += later["problems"]
        found["validate"] += later["snapshot"]["reads"] + later["snapshot"]["validate"]
        found["accounts"] += later["snapshot"]["checks"].get("accounts") or []
        pending = set(_lower(prepared.get("accounts_pending") or [])) | _created(profile)
        prepared = dict(later["prepared"], accounts_pending=sorted(pending))
    return found


def steps(profile: dict, prepared: dict | None = None, play_hosts: list | None = None, variables=None,
          unknown_variables: str = "fail", later=None, inventory_clusters: dict | None = None) -> dict:
    """What applying ``profile`` takes, given what earlier profiles on the same host ``prepared`` in this run.

    ``prepared`` is what an earlier call returned as ``prepared``, updated with the accounts the run created
    (``accounts_pending``: created in check mode, so not there yet; ``accounts_changed``: created or changed).
    ``play_hosts`` are the hosts of the play, one of which creates a cluster role, and ``inventory_clusters`` the
    cluster each host of the inventory names: those that name the profile's cluster must all be in the play. ``variables`` are the names of the host's
    variables, checked for names with a role's prefix that no role knows: a problem, or with
    ``unknown_variables="warn"`` a warning. ``later`` are the profiles still to come on this host in this run: their
    problems are this profile's, and their tasks are checked by its snapshot, so that nothing changes on a host
    before every profile of it has been checked.
    """
    if not isinstance(profile, dict) or not profile.get("name") or not profile.get("title"):
        raise ProfileError("a profile is a dict with at least a name and a title")
    prepared = dict(prepared or {})
    pending = set(_lower(prepared.get("accounts_pending") or []))
    changed = set(_lower(prepared.get("accounts_changed") or []))
    features_done = prepared.get("features") or []
    pools_claimed = dict(prepared.get("pools") or {})
    rights_done = set(prepared.get("rights") or [])

    wanted_features = profile.get("features") or {}
    features = list(wanted_features.get("features") or [])
    pools = list((profile.get("pools") or {}).get("pools") or [])
    pool_names = [str(pool["name"]).lower() for pool in pools]
    taken = [name for name in pool_names if pools_claimed.get(name, profile["title"]) != profile["title"]]
    rights = dict((profile.get("rights") or {}).get("rights") or {})
    holders = _lower(_unique([a for accounts in rights.values() for a in accounts]))
    new_pairs = [pair for pair in _rights_pairs(rights) if pair not in rights_done]
    grant_rights = bool(new_pairs) and not pending.intersection(holders)
    access = _directory_access(profile)
    accounts = _lower([m["account"] for m in profile.get("group_members") or []] + holders
                      + [p.get("username") or "" for p in pools]
                      + [a for c in profile.get("certificates") or [] for a in _as_list(c.get("key_access"))]
                      + [a["account"] for a in access])
    certificates = profile.get("certificates") or []
    chain = (profile.get("chain_certificates") or {}).get("certificates") or []

    problems, warnings = _unknown_variables(variables, unknown_variables)
    problems += _problems(profile)
    if taken:
        problems.append(f"{profile['title']} would use the application pool(s) {', '.join(taken)}, which "
                        f"{' and '.join(_unique([pools_claimed[name] for name in taken]))} on this server already uses. "
                        "Give each profile pools of its own.")
    cluster_role = profile.get("cluster_role") or {}
    if cluster_role:
        problems += _cluster_problems(cluster_role, play_hosts, inventory_clusters)
    snapshot = _snapshot(profile, pending, _created(profile))
    next_prepared = dict(prepared,
                         features=_unique(list(features_done) + features),
                         pools=dict(pools_claimed, **{name: profile["title"] for name in pool_names if name not in taken}),
                         rights=sorted(rights_done.union(new_pairs if grant_rights else [])))
    if later:
        coming = _later(later, dict(next_prepared, accounts_pending=sorted(pending | _created(profile))))
        problems += coming["problems"]
        snapshot["validate"] += coming["validate"]
        if coming["accounts"]:
            snapshot["checks"]["accounts"] = _unique(snapshot["checks"].get("accounts", []) + coming["accounts"])
    return {
        "title": profile["title"],
        "problems": _unique(problems),
        "warnings": warnings,
        "local_accounts": [{"name": re.sub(r"^\.\\", "", a["account"]), "account": a["account"], "password": a["password"],
                            "option": a["option"]} for a in profile.get("local_accounts") or []],
        "snapshot": snapshot,
        "co_location": bool(profile.get("co_location")),
        "co_location_option": (profile.get("co_location") or {}).get("option", ""),
        "features": [f for f in wanted_features.get("install") or features if f not in features_done],
        "include_management_tools": bool(wanted_features.get("include_management_tools")),
        "features_tag": wanted_features.get("tag") or "",
        "stop_for_restart": bool(wanted_features.get("stop_for_restart")),
        "pools": pools,
        "group_members": [m for m in profile.get("group_members") or [] if m["account"].lower() not in pending],
        "rights": rights if grant_rights else {},
        "directories": [d["path"] for d in profile.get("directories") or []],
        "directory_access": [dict(a, pending=a["account"].lower() in pending, changed=a["account"].lower() in changed)
                             for a in access],
        "certificates": [_pfx_import_options(c, pending) for c in certificates],
        "certificate_options": [c.get("option", "") for c in certificates],
        "chain_certificates": chain,
        "registry_serial": bool(profile.get("registry_serial")) and bool(certificates),
        "cluster_role": cluster_role,
        # A snapshot taken before this run created or changed an account the profile uses shows the account as it
        # was: a bare name may have named a domain account until the local one existed.
        "accounts_changed": bool(changed.intersection(accounts)),
        "readiness": _readiness(profile),
        # What the earlier profiles had prepared, for deriving the steps again once accounts are created.
        "prepared_before": prepared,
        "prepared": next_prepared,
    }


def readiness(profiles) -> list[dict]:
    """The readiness requirements of a profile, or of several in order."""
    if isinstance(profiles, dict):
        profiles = [profiles]
    return [requirement for profile in profiles for requirement in _readiness(profile)]
