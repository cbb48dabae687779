"""Agent inventory ingest: signed `POST /api/v1/agents/reports/` through gunicorn over loopback.

Every request is a real itsm-inventory/1 report of 300 packages, signed like our agent signs it
(agents.client.signing: RFC 9421, label sig1, ("@method" "@path" "content-digest"), Ed25519,
created now, a fresh nonce, Content-Digest sha-256), by agents that exist as Agent rows (status
active, the default group) with Ed25519 keys made here. Signing is client work: all requests
of a case are built and signed before its timed phase.

Cases (reports of 300 packages each):

- new_machine_300_packages  every request a machine the CMDB has never seen, from its own
                            agent: the full path (CI created, 300 installations, history).
- unchanged_report          known machines sending what they sent last time, with a fresh
                            `collected_at`: the server's short path (content digest).
- change_5_packages         known machines whose software differs from their previous report
                            by 5 packages of another version.

Figures per case: reports_per_s, p50_ms, p95_ms and `processed` (reports of the case found
processed in the database afterwards; anything else is reported and fails the run).

Processing mode (`BENCH_INGEST_MODE`):

- `eager` (default, the production default without a broker): the processing task runs in
  the request after the report is committed, so the latency includes processing.
- `worker`: gunicorn queues the task on Redis (CELERY_BROKER_URL, db 11 unless
  BENCH_INGEST_BROKER says otherwise) and a real `celery -A itsm worker --concurrency 2`
  processes it. reports_per_s is end to end (first request to the last report processed);
  accepted_per_s is the rate of 202 answers; processed_p95_ms is received → processed.

Everything made here is recognisable (agents `agt_bench_…`, host names `bench-ingest-…`) and
deleted at the end and at the start (after an interrupted run): agents, their reports,
nonces and security-log entries, their CIs with installations, interfaces, volumes, events,
discrepancies, inventory state and history, and the catalogue entries nobody else uses.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import http.client
import json
import multiprocessing
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid as uuidlib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    BENCH_REDIS_URL,
    INGEST_HOST_PREFIX,
    INGEST_KEY_PREFIX,
    PYTHON,
    ROOT,
    Context,
    Gunicorn,
    bench_env,
    gunicorn,
    log,
    percentile,
    setup_django,
)

REPORTS_PATH = "/api/v1/agents/reports/"
PACKAGES = 300
CHANGED_PACKAGES = 5
CASES = ("new_machine_300_packages", "unchanged_report", "change_5_packages")
MODES = ("eager", "worker")
DEFAULT_BROKER = "redis://127.0.0.1:6379/11"
#: The server refuses a signature whose `created` is further than this from its clock.
SIGNATURE_WINDOW = 300
WARMUP_MACHINES = 8
CATALOGUE_SEED = 20261122


# --- the package catalogue ----------------------------------------------------------------


def _words(text: str) -> list[str]:
    return text.split()


_TOOLS = _words(
    "acl adduser apparmor apt apt-transport-https apt-utils auditd base-files base-passwd bash "
    "bash-completion bind9-dnsutils bind9-host bsdutils busybox bzip2 ca-certificates chrony "
    "cloud-guest-utils cloud-init console-setup coreutils cpio cron cron-daemon-common curl "
    "dash dbus dbus-user-session debconf debian-archive-keyring debianutils diffutils dirmngr "
    "dmidecode dmsetup dosfstools dpkg e2fsprogs ethtool fail2ban fdisk file findutils "
    "firmware-linux-free gawk gcc-12-base gettext-base git git-man gnupg gnupg-l10n gpg "
    "gpg-agent gpgconf gpgsm gpgv grep groff-base grub-common grub-efi-amd64 grub2-common gzip "
    "hostname htop ifupdown init init-system-helpers initramfs-tools iproute2 iptables "
    "iputils-ping isc-dhcp-client jq kbd keyboard-configuration klibc-utils kmod less "
    "linux-base linux-image-6.1.0-26-amd64 locales login logrotate logsave lsb-release lshw "
    "lsof lvm2 man-db manpages mawk mdadm media-types mount mtr-tiny nano ncdu ncurses-base "
    "ncurses-bin netbase netcat-openbsd net-tools nftables openssh-client openssh-server "
    "openssh-sftp-server openssl os-prober parted passwd patch pciutils perl perl-base "
    "perl-modules-5.36 pinentry-curses procps psmisc python3 python3-minimal python3.11 "
    "python3.11-minimal qemu-guest-agent readline-common rsync rsyslog screen sed "
    "sensible-utils shared-mime-info smartmontools socat strace sudo systemd systemd-sysv "
    "systemd-timesyncd sysstat tar tcpdump tmux traceroute tree tzdata ucf udev "
    "unattended-upgrades unzip usbutils util-linux vim vim-common vim-runtime vim-tiny wget "
    "whiptail whois xauth xdg-user-dirs xfsprogs xxd xz-utils zip zstd"
)
_LIBS = _words(
    "acl1 apparmor1 apt-pkg6.0 archive13 argon2-1 assuan0 attr1 audit1 blkid1 bpf1 brotli1 "
    "bsd0 bz2-1.0 c-bin c6 cap-ng0 cap2 com-err2 crypt1 cryptsetup12 curl4 db5.3 dbus-1-3 "
    "debconfclient0 device-mapper1.02.1 dw1 edit2 efiboot1 efivar1 elf1 expat1 ext2fs2 fdisk1 "
    "ffi8 freetype6 fuse3-3 gcc-s1 gcrypt20 gdbm6 glib2.0-0 gmp10 gnutls30 gpg-error0 "
    "gpgme11 gssapi-krb5-2 hogweed6 icu72 idn2-0 jansson4 jq1 json-c5 k5crypto3 kmod2 "
    "krb5-3 krb5support0 ksba8 ldap-2.5-0 lz4-1 lzma5 magic1 mnl0 mount1 mpfr6 ncursesw6 "
    "netfilter-conntrack3 nettle8 nftables1 nftnl11 nghttp2-14 nl-3-200 npth0 nss-systemd "
    "onig5 p11-kit0 pam-modules pam-runtime pam0g pcre2-8-0 pci3 png16-16 popt0 psl5 "
    "python3.11-stdlib readline8 rtmp1 sasl2-2 seccomp2 selinux1 semanage2 sepol2 "
    "smartcols1 sodium23 sqlite3-0 ss2 ssh2-1 ssl3 stdc++6 systemd0 tasn1-6 tinfo6 "
    "tirpc3 udev1 unistring2 usb-1.0-0 uuid1 xml2 xtables12 xxhash0 yaml-0-2 zstd1"
)
_PYTHON = _words(
    "apt attr automat blinker certifi cffi chardet charset-normalizer configobj cryptography "
    "dbus debconf distro httplib2 hyperlink idna incremental jinja2 jsonpatch jsonpointer "
    "jsonschema jwt markupsafe netifaces oauthlib openssl pkg-resources pyasn1 "
    "pyasn1-modules pyrsistent requests serial setuptools six twisted urllib3 wheel yaml "
    "zope.interface"
)
_THIRD_PARTY = [
    ("docker-ce", "Docker Inc."),
    ("docker-ce-cli", "Docker Inc."),
    ("containerd.io", "Docker Inc."),
    ("docker-compose-plugin", "Docker Inc."),
    ("google-chrome-stable", "Google LLC"),
    ("google-cloud-cli", "Google LLC"),
    ("code", "Microsoft Corporation"),
    ("powershell", "Microsoft Corporation"),
    ("mdatp", "Microsoft Corporation"),
    ("zabbix-agent2", "Zabbix SIA"),
    ("filebeat", "Elastic"),
    ("metricbeat", "Elastic"),
    ("grafana-agent", "Grafana Labs"),
    ("vault", "HashiCorp"),
    ("terraform", "HashiCorp"),
    ("falcon-sensor", "CrowdStrike, Inc."),
    ("splunkforwarder", "Splunk Inc."),
    ("teleport", "Gravitational Inc."),
    ("tailscale", "Tailscale Inc."),
    ("1password-cli", "AgileBits Inc."),
]


def _debian_version(rnd: random.Random) -> str:
    base = f"{rnd.randint(0, 9)}.{rnd.randint(0, 40)}.{rnd.randint(0, 30)}"
    revision = f"-{rnd.randint(1, 5)}"
    if rnd.random() < 0.3:
        revision += f"+deb12u{rnd.randint(1, 6)}"
    return base + revision


@dataclass(frozen=True)
class Catalogue:
    """300 packages, and the other version of a few of them (the "change" case)."""

    packages: tuple[dict, ...]
    upgraded: tuple[dict, ...]  # packages with CHANGED_PACKAGES of them at another version


def make_catalogue(n: int = PACKAGES, changed: int = CHANGED_PACKAGES) -> Catalogue:
    rnd = random.Random(CATALOGUE_SEED)
    entries: list[tuple[str, str]] = [(name, "Debian") for name in _TOOLS]
    entries += [(f"lib{name}", "Debian") for name in _LIBS]
    entries += [(f"python3-{name}", "Debian") for name in _PYTHON]
    entries += _THIRD_PARTY
    if len(entries) < n:
        raise RuntimeError(f"the catalogue has {len(entries)} packages, {n} wanted")
    rnd.shuffle(entries)
    packages = []
    for name, vendor in entries[:n]:
        if vendor == "Debian":
            version = _debian_version(rnd)
        else:
            version = f"{rnd.randint(1, 30)}.{rnd.randint(0, 12)}.{rnd.randint(0, 9)}"
        packages.append({"name": name, "version": version, "vendor": vendor})
    packages.sort(key=lambda p: p["name"])  # as an agent lists them
    upgraded = [dict(p) for p in packages]
    for index in range(changed):
        entry = upgraded[(index * len(upgraded)) // changed + 7]
        entry["version"] = entry["version"] + "+b1"  # a binNMU: the same source, rebuilt
    return Catalogue(tuple(packages), tuple(upgraded))


# --- machines, agents, reports ------------------------------------------------------------


@dataclass
class Machine:
    """A bench machine and its agent (key made here, Agent row in the bench database)."""

    index: int
    hostname: str
    uuid: str
    serial: str
    mac: str
    key_id: str
    private_key: object  # Ed25519PrivateKey
    signer: object = None  # agents.client.signing.RequestSigner, made on first use


def make_machines(run_id: str, count: int, label: str = "") -> list[Machine]:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    rnd = random.Random(f"{run_id}-{label}")
    machines = []
    for i in range(count):
        mac_bytes = [0x02, *(rnd.getrandbits(8) for _ in range(5))]  # locally administered
        machines.append(
            Machine(
                index=i,
                hostname=f"{INGEST_HOST_PREFIX}{run_id}-{label}{i:05d}",
                uuid=str(uuidlib.UUID(int=rnd.getrandbits(128), version=4)),
                serial=f"BENCH{run_id.upper()}{label.upper()}{i:05d}",
                mac=":".join(f"{b:02x}" for b in mac_bytes),
                key_id=f"{INGEST_KEY_PREFIX}{run_id}_{label}{i}",
                private_key=Ed25519PrivateKey.generate(),
            )
        )
    return machines


def create_agents(machines: list[Machine]) -> dict[str, int]:
    """Agent rows for the machines (active, default group); returns key_id → agent id."""
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    from agents.choices import AgentStatus
    from agents.models import Agent
    from agents.services import default_group

    group = default_group()
    rows = []
    for machine in machines:
        raw = machine.private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        rows.append(
            Agent(
                key_id=machine.key_id,
                name=machine.hostname,
                public_key=base64.b64encode(raw).decode(),
                status=AgentStatus.ACTIVE,
                group=group,
            )
        )
    Agent.objects.bulk_create(rows, batch_size=1000)
    keys = [m.key_id for m in machines]
    return dict(Agent.objects.filter(key_id__in=keys).values_list("key_id", "id"))


def report_document(machine: Machine, software: tuple[dict, ...], collected_at: str) -> dict:
    """An itsm-inventory/1 report as our agent sends it (tests/agents/conftest.native_report)."""
    return {
        "format": "itsm-inventory/1",
        "collected_at": collected_at,
        "agent": {"name": "itsm-agent", "version": "0.1.0"},
        "device": {
            "hostname": machine.hostname,
            "uuid": machine.uuid,
            "serial_number": machine.serial,
            "manufacturer": "Dell Inc.",
            "model": "PowerEdge R650",
            "os": {"name": "Debian GNU/Linux", "version": "12", "kernel": "6.1.0-26-amd64"},
            "cpu": {"model": "Intel Xeon Silver 4310", "cores": 12, "threads": 24},
            "memory_mb": 65536,
        },
        "network": [
            {
                "name": "eno1",
                "mac": machine.mac,
                "ipv4": [
                    f"10.{machine.index // 65536 % 256}.{machine.index // 256 % 256}."
                    f"{machine.index % 256}"
                ],
                "ipv6": [],
            }
        ],
        "storage": [
            {
                "mount": "/",
                "device": "/dev/sda2",
                "filesystem": "ext4",
                "size_mb": 102400,
                "used_mb": 41230,
            },
            {
                "mount": "/boot/efi",
                "device": "/dev/sda1",
                "filesystem": "vfat",
                "size_mb": 512,
                "used_mb": 6,
            },
        ],
        "software": [dict(p) for p in software],
        "security": {
            "firewall_enabled": True,
            "ssh": {"permit_root_login": "no", "password_authentication": "no"},
            "pending_updates": 0,
        },
        "events": [
            {
                "at": "2026-11-22T08:00:00Z",
                "kind": "failed_login",
                "detail": f"root from 203.0.113.{machine.index % 250 + 1}",
            }
        ],
    }


def _collected_at(offset: int = 0) -> str:
    moment = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=offset)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def signed_request(base: str, machine: Machine, body: bytes) -> tuple[bytes, dict[str, str]]:
    """(body, headers) of a report signed exactly as the agent signs it (build_request)."""
    from agents.client.signing import RequestSigner, build_request

    if machine.signer is None:
        machine.signer = RequestSigner(machine.key_id, machine.private_key)
    prepared = build_request("POST", base + REPORTS_PATH, body=body, signer=machine.signer)
    return body, dict(prepared.headers)


@dataclass
class Plan:
    """A case's requests, pre-signed, split per client worker (an agent stays on one worker)."""

    case: str
    per_worker: list[list[tuple[bytes, dict[str, str]]]]
    machines: list[Machine]
    reports: int
    build_seconds: float
    body_bytes: int


def build_plan(
    base: str,
    case: str,
    machines: list[Machine],
    rounds: int,
    software_of,  # (machine, round) → packages
    workers: int,
) -> Plan:
    """Round by round, each machine's report, signed now; agent i goes to worker i % workers."""
    started = time.monotonic()
    per_worker: list[list[tuple[bytes, dict[str, str]]]] = [[] for _ in range(workers)]
    sizes = 0
    for round_ in range(rounds):
        collected = _collected_at(round_)
        for position, machine in enumerate(machines):
            document = report_document(machine, software_of(machine, round_), collected)
            body = json.dumps(document, separators=(",", ":")).encode()
            sizes += len(body)
            per_worker[position % workers].append(signed_request(base, machine, body))
    reports = rounds * len(machines)
    seconds = time.monotonic() - started
    log(
        f"ingest {case}: {reports} reports of {len(machines)} machines built and signed in "
        f"{seconds:.1f}s ({sizes / max(1, reports) / 1024:.1f} KiB each)"
    )
    return Plan(case, per_worker, machines, reports, seconds, sizes // max(1, reports))


# --- CPU accounting ---------------------------------------------------------------------------

_TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str]:
    """Fields of /proc/<pid>/stat after the command name (state is [0], ppid [1])."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return []


def _proc_cpu(pid: int, children: bool = False) -> float:
    """CPU seconds (user + system) of a process; with `children`, also of its reaped ones."""
    fields = _stat(pid)
    if not fields:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])
    if children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / _TICK


def _pids(name: str) -> list[int]:
    out = subprocess.run(["pgrep", "-x", name], capture_output=True, text=True).stdout
    return [int(pid) for pid in out.split()]


def _machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine from /proc/stat."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


class CpuMeter:
    """CPU used by the app (gunicorn), PostgreSQL and the Celery worker between two samples."""

    def __init__(self, server: Gunicorn, worker: CeleryWorker | None):
        self.server = server
        self.worker = worker

    def sample(self) -> dict[str, float]:
        app = [self.server.proc.pid, *self.server.worker_pids()] if self.server.proc else []
        postgres = _pids("postgres")
        # The postmaster: the postgres process whose parent is not one.
        postmaster = next(
            (p for p in postgres if int((_stat(p) or [0, 0])[1]) not in postgres), None
        )
        sample = {
            "app": sum(_proc_cpu(pid) for pid in app),
            # Every backend, plus the ones that ended (reaped by the postmaster).
            "db": sum(_proc_cpu(pid, children=pid == postmaster) for pid in postgres),
        }
        if self.worker is not None and self.worker.proc is not None:
            pids = [self.worker.proc.pid, *_children(self.worker.proc.pid)]
            sample["worker"] = sum(_proc_cpu(pid, children=True) for pid in pids)
        sample["busy"], sample["total"] = _machine_busy()
        sample["sessions"] = _db_sessions()
        return sample

    @staticmethod
    def per_report(before: dict, after: dict, reports: int, client_seconds: float) -> dict:
        """CPU milliseconds per report of each side, and how busy the machine was (%)."""
        n = max(1, reports)
        out = {
            f"cpu_{key}_ms": round((after[key] - before[key]) * 1000 / n, 2)
            for key in ("app", "db", "worker")
            if key in before
        }
        out["cpu_client_ms"] = round(client_seconds * 1000 / n, 2)
        # New PostgreSQL sessions (connections) opened meanwhile: 0-2 with persistent ones.
        out["db_sessions"] = after["sessions"] - before["sessions"]
        total = after["total"] - before["total"]
        if total:
            out["cpu_busy_pct"] = round(100 * (after["busy"] - before["busy"]) / total, 1)
        return out


def _db_sessions() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")
        return int(cursor.fetchone()[0])


def _children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


# --- the client -----------------------------------------------------------------------------


def _post_worker(args) -> dict:
    """POST this worker's requests in order on a keep-alive connection (reconnecting when the
    server closes it: gunicorn's sync workers do after every response)."""
    host, port, requests_, start_at, worker = args
    latencies: list[float] = []
    errors = 0
    samples: list[str] = []
    conn = http.client.HTTPConnection(host, port, timeout=120)
    time.sleep(max(0.0, start_at - time.time()))  # all workers start together
    cpu = time.process_time()
    for body, headers in requests_:
        started = time.perf_counter()
        try:
            conn.request("POST", REPORTS_PATH, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException) as exc:
            errors += 1
            if len(samples) < 5:
                samples.append(f"worker {worker}: {type(exc).__name__}: {exc}")
            conn.close()
            conn = http.client.HTTPConnection(host, port, timeout=120)
            continue
        elapsed = time.perf_counter() - started
        if response.status == 202:
            latencies.append(elapsed)
        else:
            errors += 1
            if len(samples) < 5:
                samples.append(f"worker {worker}: HTTP {response.status}: {data[:300]!r}")
        if response.will_close:
            conn.close()
            conn = http.client.HTTPConnection(host, port, timeout=120)
    end = time.time()
    cpu = time.process_time() - cpu
    conn.close()
    return {"latencies": latencies, "errors": errors, "samples": samples, "end": end, "cpu": cpu}


def send(server: Gunicorn, plan: Plan, meter: CpuMeter | None = None) -> dict:
    """Run the plan: one process per worker list, all starting at the same moment."""
    parts = urlsplit(server.base)
    workers = len(plan.per_worker)
    start_at = time.time() + 2.0  # leaves the processes time to start and unpickle
    jobs = [(parts.hostname, parts.port, plan.per_worker[i], start_at, i) for i in range(workers)]
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        pending = pool.map_async(_post_worker, jobs)
        time.sleep(max(0.0, start_at - time.time()))
        before = meter.sample() if meter else None
        results = pending.get()
    latencies = [lat for r in results for lat in r["latencies"]]
    errors = sum(r["errors"] for r in results)
    for result in results:
        for sample in result["samples"]:
            log(f"ERROR ingest {plan.case}: {sample}")
    end = max(r["end"] for r in results)
    return {
        "start": start_at,
        "end": end,
        "seconds": end - start_at,
        "accepted": len(latencies),
        "errors": errors,
        "p50_ms": percentile(latencies, 50) * 1000,
        "p95_ms": percentile(latencies, 95) * 1000,
        "client": f"python x{workers}",
        "client_cpu": sum(r["cpu"] for r in results),
        "cpu_before": before,
    }


# --- the database side ----------------------------------------------------------------------


def max_report_id() -> int:
    from django.db.models import Max

    from agents.models import InventoryReport

    return InventoryReport.objects.aggregate(m=Max("id"))["m"] or 0


def case_reports(agent_ids: list[int], after_id: int):
    from agents.models import InventoryReport

    return InventoryReport.objects.filter(agent_id__in=agent_ids, pk__gt=after_id)


def status_counts(agent_ids: list[int], after_id: int) -> dict[str, int]:
    from django.db.models import Count

    rows = (
        case_reports(agent_ids, after_id).order_by().values_list("status").annotate(n=Count("id"))
    )
    return dict(rows)


def wait_processed(
    agent_ids: list[int], after_id: int, expected: int, timeout: float = 900.0
) -> dict[str, int]:
    """Poll until every report of the case has left `received` (worker mode)."""
    deadline = time.monotonic() + timeout
    counts: dict[str, int] = {}
    while time.monotonic() < deadline:
        counts = status_counts(agent_ids, after_id)
        if sum(counts.values()) >= expected and not counts.get("received"):
            return counts
        time.sleep(0.1)
    log(f"WARNING: reports still waiting after {timeout:.0f}s: {counts}")
    return counts


def processing_times(agent_ids: list[int], after_id: int) -> tuple[float | None, list[float]]:
    """Latest processed_at (epoch seconds) and each report's received → processed in ms."""
    rows = list(
        case_reports(agent_ids, after_id)
        .filter(processed_at__isnull=False)
        .values_list("received_at", "processed_at")
    )
    if not rows:
        return None, []
    last = max(p for _r, p in rows).timestamp()
    return last, [(p - r).total_seconds() * 1000 for r, p in rows]


def verify(plan: Plan, agent_ids: list[int], after_id: int, counts: dict[str, int]) -> dict:
    """What the database says about the case's reports (every one must be processed)."""
    processed = counts.get("processed", 0)
    extra: dict = {"processed": processed}
    others = {k: v for k, v in counts.items() if k != "processed" and v}
    if others:
        extra["not_processed"] = others
        sample = list(
            case_reports(agent_ids, after_id)
            .exclude(status="processed")
            .values_list("id", "status", "error")[:5]
        )
        log(f"ERROR ingest {plan.case}: reports not processed {others}: {sample}")
    if processed + sum(others.values()) != plan.reports:
        log(
            f"ERROR ingest {plan.case}: {processed + sum(others.values())} reports stored "
            f"for {plan.reports} sent"
        )
    short = case_reports(agent_ids, after_id).filter(summary__unchanged=True).count()
    extra["short_path"] = short
    return extra


def count_cis(machines: list[Machine]) -> int:
    from cmdb.models import ConfigurationItem

    return ConfigurationItem.objects.filter(hostname__in=[m.hostname for m in machines]).count()


# --- cleanup --------------------------------------------------------------------------------

#: Everything made by the benchmark, by agent key id prefix and host name prefix, in an order
#: that respects the foreign keys. CIs are only ever selected by the host name prefix, so the
#: generated dataset cannot be touched.
_CLEANUP_SQL = [
    "CREATE TEMP TABLE bench_ingest_agents ON COMMIT DROP AS "
    "SELECT id FROM agents_agent WHERE starts_with(key_id, %(keys)s)",
    "CREATE TEMP TABLE bench_ingest_cis ON COMMIT DROP AS "
    "SELECT id FROM cmdb_configurationitem WHERE starts_with(hostname, %(hosts)s)",
    "CREATE TEMP TABLE bench_ingest_reports ON COMMIT DROP AS "
    "SELECT id FROM agents_inventoryreport WHERE agent_id IN (SELECT id FROM bench_ingest_agents)",
    "DELETE FROM agents_inventorystate WHERE ci_id IN (SELECT id FROM bench_ingest_cis) "
    "OR last_report_id IN (SELECT id FROM bench_ingest_reports)",
    "DELETE FROM agents_cievent WHERE ci_id IN (SELECT id FROM bench_ingest_cis) "
    "OR report_id IN (SELECT id FROM bench_ingest_reports)",
    "DELETE FROM agents_discrepancy WHERE ci_id IN (SELECT id FROM bench_ingest_cis) "
    "OR report_id IN (SELECT id FROM bench_ingest_reports)",
    "DELETE FROM cmdb_installedsoftware WHERE ci_id IN (SELECT id FROM bench_ingest_cis)",
    "DELETE FROM cmdb_networkinterface WHERE ci_id IN (SELECT id FROM bench_ingest_cis)",
    "DELETE FROM cmdb_storagevolume WHERE ci_id IN (SELECT id FROM bench_ingest_cis)",
    "DELETE FROM cmdb_statuschange WHERE ci_id IN (SELECT id FROM bench_ingest_cis)",
    "DELETE FROM itsm_auditentry WHERE object_id IN (SELECT id FROM bench_ingest_cis) AND "
    "content_type_id = (SELECT id FROM django_content_type WHERE app_label = 'cmdb' "
    "AND model = 'configurationitem')",
    "DELETE FROM agents_nonce WHERE agent_id IN (SELECT id FROM bench_ingest_agents)",
    "DELETE FROM agents_inventoryreport WHERE id IN (SELECT id FROM bench_ingest_reports)",
    "DELETE FROM agents_agent WHERE id IN (SELECT id FROM bench_ingest_agents)",
    "DELETE FROM cmdb_configurationitem WHERE id IN (SELECT id FROM bench_ingest_cis)",
    "DELETE FROM agents_securityevent WHERE starts_with(key_id, %(keys)s)",
]


def cleanup(catalogue: Catalogue | None = None) -> dict[str, int]:
    """Delete everything the ingest benchmark made (also after an interrupted run)."""
    from django.db import IntegrityError, connection, transaction

    params = {"keys": INGEST_KEY_PREFIX, "hosts": INGEST_HOST_PREFIX}
    counts: dict[str, int] = {}
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            for statement in _CLEANUP_SQL:
                cursor.execute(statement, params)
                if statement.startswith("DELETE") and cursor.rowcount:
                    counts[statement.split()[2]] = cursor.rowcount
    except IntegrityError:
        # Something else points at them (a newer model): let the ORM follow every relation.
        counts = _cleanup_orm()
    if catalogue is not None:
        counts.update(_cleanup_catalogue(catalogue))
    if counts:
        log("ingest cleanup: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    return counts


#: The tables a report reads and writes. The bench server runs without autovacuum: the
#: benchmark vacuums and analyses them itself (before, so the planner has statistics for
#: every index, e.g. the expression index on UPPER(serial_number), and no dead rows of
#: earlier runs are scanned; after, so the next benchmark does not inherit ours).
INGEST_TABLES = (
    "cmdb_configurationitem",
    "itsm_auditentry",
    "cmdb_installedsoftware",
    "cmdb_networkinterface",
    "cmdb_storagevolume",
    "cmdb_statuschange",
    "cmdb_softwareproduct",
    "cmdb_softwareversion",
    "agents_agent",
    "agents_inventoryreport",
    "agents_inventorystate",
    "agents_nonce",
    "agents_cievent",
    "agents_discrepancy",
    "agents_securityevent",
)


def vacuum_analyze() -> None:
    from django.db import connection

    started = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute("SHOW autovacuum")
        autovacuum = cursor.fetchone()[0]
        cursor.execute(f"VACUUM (ANALYZE) {', '.join(INGEST_TABLES)}")
    log(
        f"ingest: VACUUM (ANALYZE) of {len(INGEST_TABLES)} tables in "
        f"{time.monotonic() - started:.1f}s (autovacuum is {autovacuum})"
    )


def _cleanup_orm() -> dict[str, int]:
    from agents.models import Agent, InventoryReport, SecurityEvent
    from cmdb.models import ConfigurationItem, HistoryEntry

    cis = ConfigurationItem.objects.filter(hostname__startswith=INGEST_HOST_PREFIX)
    agents = Agent.objects.filter(key_id__startswith=INGEST_KEY_PREFIX)
    counts = {}
    counts["history"], _ = HistoryEntry.objects.filter(ci__in=cis).delete()
    counts["reports"], _ = InventoryReport.objects.filter(agent__in=agents).delete()
    counts["agents"], _ = agents.delete()
    counts["cis"], _ = cis.delete()
    counts["security"], _ = SecurityEvent.objects.filter(
        key_id__startswith=INGEST_KEY_PREFIX
    ).delete()
    return {k: v for k, v in counts.items() if v}


def _cleanup_catalogue(catalogue: Catalogue) -> dict[str, int]:
    """Catalogue versions and products of the bench packages that nothing uses any more."""
    from django.db import IntegrityError, connection, transaction

    from cmdb.models import software_key

    pairs = {(software_key(p["name"]), software_key(p["vendor"])) for p in catalogue.packages}
    names = [n for n, _v in pairs]
    vendors = [v for _n, v in pairs]
    counts = {}
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "CREATE TEMP TABLE bench_ingest_products ON COMMIT DROP AS "
                "SELECT p.id FROM cmdb_softwareproduct p "
                "JOIN unnest(%s::text[], %s::text[]) AS k(name_key, vendor_key) "
                "ON p.name_key = k.name_key AND p.vendor_key = k.vendor_key",
                [names, vendors],
            )
            cursor.execute(
                "DELETE FROM cmdb_softwareversion v WHERE v.product_id IN "
                "(SELECT id FROM bench_ingest_products) AND NOT EXISTS "
                "(SELECT 1 FROM cmdb_installedsoftware i WHERE i.software_id = v.id)"
            )
            if cursor.rowcount:
                counts["cmdb_softwareversion"] = cursor.rowcount
            cursor.execute(
                "DELETE FROM cmdb_softwareproduct p WHERE p.id IN "
                "(SELECT id FROM bench_ingest_products) AND NOT EXISTS "
                "(SELECT 1 FROM cmdb_softwareversion v WHERE v.product_id = p.id)"
            )
            if cursor.rowcount:
                counts["cmdb_softwareproduct"] = cursor.rowcount
    except IntegrityError as exc:  # referenced from somewhere else (releases…): keep them
        log(f"ingest cleanup: catalogue entries kept ({exc.__class__.__name__})")
    return counts


# --- the processing worker (BENCH_INGEST_MODE=worker) ---------------------------------------


class CeleryWorker:
    """`celery -A itsm worker --concurrency 2` with the app's bench environment and a broker."""

    def __init__(self, url: str, env: dict[str, str], concurrency: int = 2):
        self.env = {**bench_env(url), **env}
        self.concurrency = concurrency
        self.proc: subprocess.Popen | None = None
        fd, self._log_path = tempfile.mkstemp(prefix="bench-celery-", suffix=".log")
        self._log = os.fdopen(fd, "wb")

    def start(self) -> None:
        celery = str(Path(PYTHON).with_name("celery"))
        cmd = [
            celery,
            "-A",
            "itsm",
            "worker",
            "--concurrency",
            str(self.concurrency),
            "--loglevel",
            "WARNING",
            "--without-gossip",
            "--without-mingle",
        ]
        log("starting", " ".join(cmd[1:]))
        self.proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def check(self) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(f"celery worker exited with {self.proc.returncode}:\n{self.tail()}")

    def tail(self, lines: int = 40) -> str:
        try:
            text = Path(self._log_path).read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # warm shutdown: finishes running tasks
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
            log("celery worker stopped")
        tail = self.tail()
        if tail.strip():
            log("celery worker log (tail):\n" + tail)
        self._log.close()
        with contextlib.suppress(OSError):
            os.unlink(self._log_path)


# --- the cases ------------------------------------------------------------------------------


@dataclass
class Sizes:
    new: int  # machines of case (a), one report each
    machines: int  # machines of (b) and of (c), each
    unchanged_rounds: int
    change_rounds: int

    @classmethod
    def for_scale(cls, scale: float) -> Sizes:
        new = max(20, round(500 * scale))
        machines = new // 2
        unchanged = max(machines, round(5000 * scale))
        change = max(machines, round(1000 * scale))
        return cls(new, machines, max(1, unchanged // machines), max(1, change // machines))


def run_case(
    ctx: Context,
    server: Gunicorn,
    plan: Plan,
    agent_ids: dict[str, int],
    mode: str,
    worker: CeleryWorker | None,
    **details,
) -> tuple[list[dict], bool]:
    ids = [agent_ids[m.key_id] for m in plan.machines]
    after = max_report_id()
    meter = CpuMeter(server, worker)
    stats = send(server, plan, meter)
    ok = stats["errors"] == 0
    if mode == "worker":
        if worker is not None:
            worker.check()
        counts = wait_processed(ids, after, stats["accepted"])
    else:
        counts = status_counts(ids, after)
    cpu = CpuMeter.per_report(
        stats["cpu_before"], meter.sample(), plan.reports, stats["client_cpu"]
    )
    extra = verify(plan, ids, after, counts)
    ok = ok and extra["processed"] == plan.reports
    if plan.build_seconds + stats["seconds"] > SIGNATURE_WINDOW - 30:
        log(f"WARNING ingest {plan.case}: build + run took longer than the signature window")
    common = {
        "mode": mode,
        "packages": PACKAGES,
        "machines": len(plan.machines),
        "connections": len(plan.per_worker),
        "workers": server.workers,
        "client": stats["client"],
        "seconds": round(stats["seconds"], 2),
        "body_kib": round(plan.body_bytes / 1024, 1),
        **extra,
        **cpu,
        **details,
    }
    if stats["errors"]:
        common["errors"] = stats["errors"]
    n = stats["accepted"]
    records = []
    if mode == "worker":
        last, lags = processing_times(ids, after)
        end_to_end = (last - stats["start"]) if last else float("nan")
        common["seconds_end_to_end"] = round(end_to_end, 2)
        records.append(
            ctx.emit(
                "ingest", plan.case, "reports_per_s", extra["processed"] / end_to_end, n, **common
            )
        )
        records.append(
            ctx.emit("ingest", plan.case, "accepted_per_s", n / stats["seconds"], n, **common)
        )
        records.append(ctx.emit("ingest", plan.case, "p50_ms", stats["p50_ms"], n, **common))
        records.append(ctx.emit("ingest", plan.case, "p95_ms", stats["p95_ms"], n, **common))
        records.append(
            ctx.emit(
                "ingest", plan.case, "processed_p95_ms", percentile(lags, 95), len(lags), **common
            )
        )
    else:
        records.append(
            ctx.emit("ingest", plan.case, "reports_per_s", n / stats["seconds"], n, **common)
        )
        records.append(ctx.emit("ingest", plan.case, "p50_ms", stats["p50_ms"], n, **common))
        records.append(ctx.emit("ingest", plan.case, "p95_ms", stats["p95_ms"], n, **common))
    return records, ok


def warm_up(server: Gunicorn, run_id: str, catalogue: Catalogue, connections: int, mode: str):
    """A few machines through every path (new, unchanged, changed), untimed: imports, schema
    compilation, the catalogue's first rows, both gunicorn workers (and the Celery worker)."""
    machines = make_machines(run_id, WARMUP_MACHINES, label="w")
    agent_ids = create_agents(machines)
    ids = list(agent_ids.values())
    for step, software in enumerate((catalogue.packages, catalogue.packages, catalogue.upgraded)):
        after = max_report_id()
        plan = build_plan(
            server.base, f"warm-up {step}", machines, 1, lambda m, r, s=software: s, connections
        )
        stats = send(server, plan)
        if stats["errors"]:
            raise RuntimeError(f"warm-up: {stats['errors']} requests refused (see above)")
        counts = (
            wait_processed(ids, after, plan.reports, timeout=120)
            if mode == "worker"
            else status_counts(ids, after)
        )
        if counts.get("processed", 0) != plan.reports:
            raise RuntimeError(f"warm-up: reports not processed: {counts}")


def run(ctx: Context, connections: int = 4) -> list[dict]:
    mode = os.environ.get("BENCH_INGEST_MODE", "eager").strip().lower() or "eager"
    if mode not in MODES:
        raise SystemExit(f"bench: BENCH_INGEST_MODE must be one of {', '.join(MODES)}")
    setup_django(ctx.database_url)
    from django.db import connection

    catalogue = make_catalogue()
    cleanup(catalogue)
    vacuum_analyze()
    sizes = Sizes.for_scale(ctx.scale)
    run_id = base36(int(time.time()))
    log(
        f"ingest ({mode}): {sizes.new} new machines; {sizes.machines} machines x "
        f"{sizes.unchanged_rounds} unchanged reports; {sizes.machines} x {sizes.change_rounds} "
        f"changes of {CHANGED_PACKAGES} packages; {connections} connections"
    )
    machines = make_machines(run_id, sizes.new)
    agent_ids = create_agents(machines)
    unchanged_machines = machines[: sizes.machines]
    change_machines = machines[sizes.machines : 2 * sizes.machines]

    extra_env = {"DB_CONN_MAX_AGE": os.environ.get("DB_CONN_MAX_AGE", "60")}
    worker = None
    if mode == "worker":
        import redis

        broker = os.environ.get("BENCH_INGEST_BROKER", DEFAULT_BROKER)
        redis.Redis.from_url(broker).flushdb()  # no message left by an interrupted run
        extra_env["CELERY_BROKER_URL"] = broker
        worker = CeleryWorker(ctx.database_url, extra_env)
    connection.close()  # no connection of ours idling while gunicorn works; reopened on use
    records: list[dict] = []
    failed: list[str] = []
    try:
        if worker is not None:
            worker.start()
        with gunicorn(ctx.database_url, env=extra_env) as server:
            warm_up(server, run_id, catalogue, connections, mode)
            cache = "redis" if BENCH_REDIS_URL != "none" else "none"

            plan = build_plan(
                server.base,
                CASES[0],
                machines,
                1,
                lambda m, r: catalogue.packages,
                connections,
            )
            case_records, ok = run_case(ctx, server, plan, agent_ids, mode, worker, cache=cache)
            created = count_cis(machines)
            log(f"ingest {CASES[0]}: {created} CIs for {len(machines)} machines")
            if created != len(machines):
                ok = False
                log(f"ERROR ingest {CASES[0]}: {created} CIs for {len(machines)} machines")
            records += case_records
            failed += [] if ok else [CASES[0]]

            plan = build_plan(
                server.base,
                CASES[1],
                unchanged_machines,
                sizes.unchanged_rounds,
                lambda m, r: catalogue.packages,
                connections,
            )
            case_records, ok = run_case(ctx, server, plan, agent_ids, mode, worker, cache=cache)
            records += case_records
            failed += [] if ok else [CASES[1]]

            # Previous report: the full catalogue; then upgraded, back, upgraded…
            plan = build_plan(
                server.base,
                CASES[2],
                change_machines,
                sizes.change_rounds,
                lambda m, r: catalogue.upgraded if r % 2 == 0 else catalogue.packages,
                connections,
            )
            case_records, ok = run_case(
                ctx,
                server,
                plan,
                agent_ids,
                mode,
                worker,
                cache=cache,
                changed_packages=CHANGED_PACKAGES,
            )
            records += case_records
            failed += [] if ok else [CASES[2]]
    finally:
        if worker is not None:
            worker.stop()
        cleanup(catalogue)
        vacuum_analyze()
        connection.close()
    if failed:
        raise RuntimeError(f"ingest: errors or unprocessed reports in {failed} (see above)")
    return records


def base36(value: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while value:
        value, rest = divmod(value, 36)
        out = digits[rest] + out
    return out or "0"


if __name__ == "__main__":
    import argparse

    from common import DEFAULT_DATABASE_URL
    from generate import prepare

    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--connections", type=int, default=4)
    args = parser.parse_args()
    sizes = prepare(args.database_url, args.scale)
    run(Context(args.database_url, args.scale, sizes), args.connections)
