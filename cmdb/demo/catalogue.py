"""What the demo organisation is made of: sites, departments, people, hardware, software, services.

Plain data, no logic and no database: `blueprint.py` draws from it with a fixed random seed.
The organisation is "Harbour & Finch", a retailer with an online shop, offices in London,
Manchester and Dublin and its servers in a Frankfurt data centre.

Versions are listed newest first; the blueprint installs the first one most often, so that
"which CIs still run openssl 3.0.2 / 7-Zip 19.00" has a short but non-empty answer.

The tables are kept aligned by hand (`fmt: off`): one row per thing reads better than the
formatter's one argument per line.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from itsm import roles

ORGANISATION = "Harbour & Finch"
EMAIL_DOMAIN = "harbourfinch.example"
SEED = 42
DEFAULT_CI_COUNT = 500
DEFAULT_PASSWORD = "demo-Passw0rd!"  # documented in the README; printed by demo_logins
DEV_SERVER_URL = "http://127.0.0.1:8000/"


# --- organisation -------------------------------------------------------------------------


@dataclass(frozen=True)
class SiteSpec:
    code: str  # hostname prefix
    name: str
    slug: str
    address: str
    phone_prefix: str  # fictional numbers (Ofcom's drama ranges for the UK sites)
    office: bool = True  # people work here (the data centre has no desks)


# fmt: off
SITES = (
    SiteSpec("lon", "London HQ",             "london-hq",    "12 Finch Lane, London EC3V 3NB",           "+44 20 7946 0"),
    SiteSpec("man", "Manchester office",     "manchester",   "40 Quay Street, Manchester M3 3JZ",        "+44 161 496 0"),
    SiteSpec("dub", "Dublin office",         "dublin",       "7 Harbour Square, Dublin 2, D02 X285",     "+353 1 555 0"),
    SiteSpec("fra", "Frankfurt data centre", "frankfurt-dc", "Kleyerstraße 90, 60326 Frankfurt am Main", "+49 69 5550 0",
             office=False),
)
# fmt: on


@dataclass(frozen=True)
class DepartmentSpec:
    name: str
    site: str  # SiteSpec.code
    staff_weight: int  # share of the ordinary staff working here
    laptop_share: float  # chance that a person here has a laptop rather than a desktop
    job_titles: tuple[str, ...]


IT_OPERATIONS = "IT Operations"

# fmt: off
DEPARTMENTS = (
    DepartmentSpec("Finance",          "lon", 10, 0.3, ("Accountant", "Financial analyst", "Accounts payable clerk",
                                                        "Financial controller")),
    DepartmentSpec("Human Resources",  "lon",  6, 0.5, ("HR business partner", "Recruiter", "HR administrator",
                                                        "Payroll officer")),
    DepartmentSpec("Legal",            "lon",  5, 0.6, ("Solicitor", "Paralegal", "Compliance analyst",
                                                        "Contracts manager")),
    DepartmentSpec("Marketing",        "lon", 10, 0.7, ("Marketing manager", "Content writer", "Graphic designer",
                                                        "SEO specialist")),
    DepartmentSpec(IT_OPERATIONS,      "lon",  5, 0.8, ("Systems administrator", "Network technician",
                                                        "Cloud engineer", "Backup administrator")),
    DepartmentSpec("Sales",            "man", 18, 0.8, ("Account executive", "Sales development representative",
                                                        "Key account manager", "Sales operations analyst")),
    DepartmentSpec("Engineering",      "man", 16, 0.9, ("Software engineer", "Senior software engineer",
                                                        "QA engineer", "Site reliability engineer",
                                                        "Data engineer")),
    DepartmentSpec("Service Desk",     "man",  0, 0.2, ("Service desk analyst",)),
    DepartmentSpec("Customer Support", "dub", 16, 0.1, ("Customer support agent", "Customer support team lead",
                                                        "Returns specialist")),
    DepartmentSpec("Procurement",      "dub",  5, 0.3, ("Buyer", "Procurement specialist", "Vendor manager")),
)
# fmt: on


@dataclass(frozen=True)
class PersonSpec:
    """A named person of the demo: a login in one or more role groups, or a business owner."""

    username: str
    first_name: str
    last_name: str
    department: str
    job_title: str
    groups: tuple[str, ...] = ()


ADMIN = PersonSpec("admin", "System", "Administrator", IT_OPERATIONS, "System administrator")

# CI responsibilities, by username (see blueprint.py).
INFRA_LEAD = "lukas.weber"
LINUX_ADMIN = "ravi.patel"
WINDOWS_ADMIN = "george.evans"
NETWORK_ADMIN = "felix.braun"
DBA = "aisha.rahman"
APP_ADMIN = "mohammed.ali"
PLATFORM_LEAD = "hannah.schmidt"
DESK_LEAD = "amelia.hughes"

_DESK = (roles.SERVICE_DESK,)
_CAB = (roles.CAB_MEMBER,)
_TECH = (roles.DEPLOYMENT_TECHNICIAN,)

# fmt: off
ROLE_PEOPLE = (
    PersonSpec("amelia.hughes",  "Amelia",   "Hughes",   "Service Desk",  "Service desk team lead",     _DESK),
    PersonSpec("oliver.bennett", "Oliver",   "Bennett",  "Service Desk",  "Service desk analyst",       _DESK),
    PersonSpec("priya.sharma",   "Priya",    "Sharma",   "Service Desk",  "Service desk analyst",       _DESK),
    PersonSpec("tom.walsh",      "Tom",      "Walsh",    "Service Desk",  "Service desk analyst",       _DESK),
    PersonSpec("grace.okafor",   "Grace",    "Okafor",   IT_OPERATIONS,   "Problem manager",            (roles.PROBLEM_MANAGER,)),
    PersonSpec("daniel.fischer", "Daniel",   "Fischer",  IT_OPERATIONS,   "Change manager",             (roles.CHANGE_MANAGER,)),
    PersonSpec("lukas.weber",    "Lukas",    "Weber",    IT_OPERATIONS,   "Head of infrastructure",     _CAB),
    PersonSpec("sophie.turner",  "Sophie",   "Turner",   "Finance",       "Finance director",           _CAB),
    PersonSpec("hannah.schmidt", "Hannah",   "Schmidt",  "Engineering",   "Head of platform engineering", _CAB),
    PersonSpec("james.oconnor",  "James",    "O'Connor", "Legal",         "Information security officer", _CAB),
    PersonSpec("marta.kowalska", "Marta",    "Kowalska", "Engineering",   "Release manager",            (roles.RELEASE_MANAGER,)),
    PersonSpec("ravi.patel",     "Ravi",     "Patel",    IT_OPERATIONS,   "Linux systems engineer",     _TECH),
    PersonSpec("george.evans",   "George",   "Evans",    IT_OPERATIONS,   "Windows systems engineer",   _TECH),
    PersonSpec("felix.braun",    "Felix",    "Braun",    IT_OPERATIONS,   "Network engineer",           _TECH),
    PersonSpec("aisha.rahman",   "Aisha",    "Rahman",   IT_OPERATIONS,   "Database administrator",     _TECH),
    PersonSpec("chloe.martin",   "Chloe",    "Martin",   IT_OPERATIONS,   "Desktop engineer",           _TECH),
    PersonSpec("mohammed.ali",   "Mohammed", "Ali",      "Engineering",   "Application administrator",  _TECH),
    PersonSpec("emma.clarke",    "Emma",     "Clarke",   IT_OPERATIONS,   "Configuration manager",      (roles.CMDB_MANAGER,)),
    PersonSpec("noah.davies",    "Noah",     "Davies",   "Legal",         "Internal auditor",           (roles.READ_ONLY,)),
    # Business owners: ordinary staff logins, owners of services in the CMDB.
    PersonSpec("isabel.moreno",  "Isabel",   "Moreno",   "Marketing",        "Head of e-commerce"),
    PersonSpec("william.grant",  "William",  "Grant",    "Human Resources",  "HR director"),
    PersonSpec("olivia.reid",    "Olivia",   "Reid",     "Sales",            "Sales director"),
    PersonSpec("sean.murphy",    "Seán",     "Murphy",   "Customer Support", "Head of customer support"),
)

FIRST_NAMES = (
    "Adam", "Aoife", "Alice", "Amir", "Anna", "Ben", "Bethany", "Callum", "Charlotte", "Ciara",
    "Conor", "Daisy", "David", "Eilidh", "Elena", "Ethan", "Fatima", "Finn", "Freya", "Gabriel",
    "Hamza", "Harriet", "Harry", "Holly", "Isaac", "Isla", "Jack", "Jasmine", "Jonas", "Julia",
    "Kai", "Katie", "Leah", "Leon", "Liam", "Lily", "Lucy", "Maja", "Mark", "Matteo", "Megan",
    "Mia", "Nathan", "Niamh", "Nina", "Omar", "Oscar", "Paul", "Rachel", "Rhys", "Rosa", "Ryan",
    "Samuel", "Sara", "Sinead", "Tariq", "Theo", "Yasmin", "Zara", "Zoe",
)

LAST_NAMES = (
    "Adams", "Ahmed", "Baker", "Barnes", "Becker", "Brennan", "Brown", "Byrne", "Campbell",
    "Carter", "Chen", "Clark", "Collins", "Cooper", "Doyle", "Edwards", "Evans", "Foster",
    "Green", "Hall", "Harris", "Hoffmann", "Hughes", "Jackson", "Jones", "Kaur", "Kelly", "Khan",
    "King", "Kowalski", "Lee", "Lewis", "Lynch", "Martin", "Mitchell", "Moore", "Morgan",
    "Morris", "Muller", "Murray", "Nguyen", "Novak", "Obi", "Parker", "Phillips", "Price",
    "Quinn", "Roberts", "Robinson", "Rossi", "Ryan", "Scott", "Singh", "Smith", "Taylor",
    "Thomas", "Thompson", "Walker", "Ward", "Watson", "White", "Wilson", "Wood", "Wright", "Young",
)
# fmt: on


# --- hardware -----------------------------------------------------------------------------


@dataclass(frozen=True)
class SerialFormat:
    """A vendor-like serial number: a fixed prefix, then `length` characters."""

    prefix: str
    length: int
    digits_only: bool = False


@dataclass(frozen=True)
class ComputerModel:
    manufacturer: str
    model: str
    serial: SerialFormat
    cpu_model: str
    cpu_cores: int
    memory_mb: tuple[int, ...]
    os: tuple[str, ...] = ()  # OSProfile keys, most common first


DELL = SerialFormat("", 7)
HP_DESKTOP = SerialFormat("CZC", 7)
HP_LAPTOP = SerialFormat("5CG", 7)
LENOVO = SerialFormat("PF", 6)
APPLE = SerialFormat("", 10)
HPE = SerialFormat("CZJ", 7)

# fmt: off
DESKTOP_MODELS = (
    ComputerModel("Dell Inc.", "OptiPlex 7010",          DELL,       "13th Gen Intel(R) Core(TM) i5-13500",      14, (16384, 32768), ("windows-11",)),
    ComputerModel("HP",        "EliteDesk 800 G9",       HP_DESKTOP, "12th Gen Intel(R) Core(TM) i7-12700",      12, (16384, 32768), ("windows-11", "windows-10")),
    ComputerModel("Lenovo",    "ThinkCentre M90q Gen 4", LENOVO,     "13th Gen Intel(R) Core(TM) i5-13500T",     14, (16384,),       ("windows-11",)),
    ComputerModel("Dell Inc.", "OptiPlex 7080",          DELL,       "Intel(R) Core(TM) i5-10500 CPU @ 3.10GHz",  6, (8192, 16384),  ("windows-10", "windows-11")),
)

LAPTOP_MODELS = (
    ComputerModel("Lenovo",    "ThinkPad T14 Gen 4",     LENOVO,     "13th Gen Intel(R) Core(TM) i7-1365U",      10, (16384, 32768), ("windows-11",)),
    ComputerModel("Dell Inc.", "Latitude 5440",          DELL,       "13th Gen Intel(R) Core(TM) i5-1345U",      10, (16384,),       ("windows-11", "windows-10")),
    ComputerModel("HP",        "EliteBook 840 G10",      HP_LAPTOP,  "13th Gen Intel(R) Core(TM) i7-1355U",      10, (16384, 32768), ("windows-11",)),
)

MAC_LAPTOP_MODELS = (
    ComputerModel("Apple Inc.", "MacBook Pro 14-inch (M3 Pro)", APPLE, "Apple M3 Pro", 12, (18432, 36864)),
    ComputerModel("Apple Inc.", "MacBook Air 13-inch (M2)",     APPLE, "Apple M2",      8, (16384,)),
)
MAC_DEPARTMENTS = ("Engineering", "Marketing")
MAC_OS = ("macos-14", "macos-13")

SERVER_MODELS = {
    "r750":    ComputerModel("Dell Inc.", "PowerEdge R750",            DELL, "Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz",   64, (524288,)),
    "r650":    ComputerModel("Dell Inc.", "PowerEdge R650",            DELL, "Intel(R) Xeon(R) Gold 6326 CPU @ 2.90GHz",   32, (262144,)),
    "r740xd2": ComputerModel("Dell Inc.", "PowerEdge R740xd2",         DELL, "Intel(R) Xeon(R) Silver 4214R CPU @ 2.40GHz", 24, (131072,)),
    "dl380":   ComputerModel("HPE",       "ProLiant DL380 Gen10 Plus", HPE,  "Intel(R) Xeon(R) Gold 5318Y CPU @ 2.10GHz",  48, (393216,)),
    "dl360":   ComputerModel("HPE",       "ProLiant DL360 Gen10",      HPE,  "Intel(R) Xeon(R) Silver 4210R CPU @ 2.40GHz", 20, (65536,)),
    "t550":    ComputerModel("Dell Inc.", "PowerEdge T550",            DELL, "Intel(R) Xeon(R) Silver 4314 CPU @ 2.40GHz",  16, (131072,)),
    "t350":    ComputerModel("Dell Inc.", "PowerEdge T350",            DELL, "Intel(R) Xeon(R) E-2378 CPU @ 2.60GHz",        8, (65536,)),
}

# What a virtual machine reports as its hardware, per hypervisor platform of its site.
VM_HARDWARE = {
    "fra": ("QEMU",                  "Standard PC (Q35 + ICH9, 2009)", "Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz"),
    "lon": ("Microsoft Corporation", "Virtual Machine",                "Intel(R) Xeon(R) Gold 5318Y CPU @ 2.10GHz"),
    "man": ("Microsoft Corporation", "Virtual Machine",                "Intel(R) Xeon(R) Silver 4314 CPU @ 2.40GHz"),
}
# fmt: on


@dataclass(frozen=True)
class NetworkModel:
    manufacturer: str
    model: str
    serial: SerialFormat
    firmware: tuple[str, ...]  # most common first
    ports: int


# fmt: off
NETWORK_MODELS = {
    "pa3220":      NetworkModel("Palo Alto Networks", "PA-3220",             SerialFormat("0130", 8, True),     ("PAN-OS 10.2.9-h1", "PAN-OS 10.2.7-h3"), 16),
    "arista-7050": NetworkModel("Arista Networks",    "7050SX3-48YC8",       SerialFormat("JPE", 8),            ("EOS 4.31.2F",),                         56),
    "arista-7010": NetworkModel("Arista Networks",    "7010TX-48",           SerialFormat("JPE", 8),            ("EOS 4.31.2F", "EOS 4.29.5M"),           52),
    "bigip-i5800": NetworkModel("F5, Inc.",           "BIG-IP i5800",        SerialFormat("F5-", 8),            ("BIG-IP 17.1.1.3",),                      8),
    "isr4331":     NetworkModel("Cisco Systems",      "ISR 4331",            SerialFormat("FDO", 8),            ("IOS XE 17.9.4a",),                       3),
    "fg100f":      NetworkModel("Fortinet",           "FortiGate 100F",      SerialFormat("FG100FTK", 8, True), ("FortiOS 7.2.8", "FortiOS 7.2.5"),       22),
    "fg60f":       NetworkModel("Fortinet",           "FortiGate 60F",       SerialFormat("FGT60FTK", 8, True), ("FortiOS 7.2.8",),                       10),
    "fg40f":       NetworkModel("Fortinet",           "FortiGate 40F",       SerialFormat("FGT40FTK", 8, True), ("FortiOS 7.0.15",),                       5),
    "c9500":       NetworkModel("Cisco Systems",      "Catalyst 9500-24Y4C", SerialFormat("FCW", 8),            ("IOS XE 17.9.4a",),                      28),
    "c9300":       NetworkModel("Cisco Systems",      "Catalyst 9300-48P",   SerialFormat("FOC", 8),            ("IOS XE 17.9.4a", "IOS XE 17.6.5"),      52),
    "c9200-48":    NetworkModel("Cisco Systems",      "Catalyst 9200-48P",   SerialFormat("JAE", 8),            ("IOS XE 17.6.5",),                       52),
    "c9200-24":    NetworkModel("Cisco Systems",      "Catalyst 9200-24P",   SerialFormat("JAE", 8),            ("IOS XE 17.6.5",),                       28),
    "mr46":        NetworkModel("Cisco Meraki",       "MR46",                SerialFormat("Q3AC", 8),           ("MR 30.6", "MR 29.7.1"),                  2),
    "mr36":        NetworkModel("Cisco Meraki",       "MR36",                SerialFormat("Q3AJ", 8),           ("MR 30.6",),                              1),
}
# fmt: on


@dataclass(frozen=True)
class NetworkDeviceSpec:
    name: str
    role: str  # device_role of the network-device schema
    model: str  # NETWORK_MODELS key
    uplinks: tuple[str, ...] = ()  # devices that connect this one
    status: str = "production"


FRA_CORE = ("fra-core-01", "fra-core-02")

# fmt: off
NETWORK_DEVICES = (
    NetworkDeviceSpec("fra-fw-01",   "firewall",      "pa3220"),
    NetworkDeviceSpec("fra-fw-02",   "firewall",      "pa3220"),
    NetworkDeviceSpec("fra-core-01", "switch",        "arista-7050", ("fra-fw-01", "fra-fw-02")),
    NetworkDeviceSpec("fra-core-02", "switch",        "arista-7050", ("fra-fw-01", "fra-fw-02")),
    NetworkDeviceSpec("fra-sw-01",   "switch",        "arista-7010", FRA_CORE),
    NetworkDeviceSpec("fra-sw-02",   "switch",        "arista-7010", FRA_CORE),
    NetworkDeviceSpec("fra-sw-03",   "switch",        "arista-7010", FRA_CORE),
    NetworkDeviceSpec("fra-sw-04",   "switch",        "arista-7010", FRA_CORE),
    NetworkDeviceSpec("fra-sw-05",   "switch",        "arista-7010", status="received"),
    NetworkDeviceSpec("fra-lb-01",   "load_balancer", "bigip-i5800", FRA_CORE),
    NetworkDeviceSpec("lon-rtr-01",  "router",        "isr4331"),
    NetworkDeviceSpec("lon-fw-01",   "firewall",      "fg100f",      ("lon-rtr-01",)),
    NetworkDeviceSpec("lon-core-01", "switch",        "c9500",       ("lon-fw-01",)),
    NetworkDeviceSpec("lon-sw-01",   "switch",        "c9300",       ("lon-core-01",)),
    NetworkDeviceSpec("lon-sw-02",   "switch",        "c9300",       ("lon-core-01",)),
    NetworkDeviceSpec("lon-sw-03",   "switch",        "c9300",       ("lon-core-01",)),
    NetworkDeviceSpec("lon-sw-04",   "switch",        "c9300",       ("lon-core-01",)),
    NetworkDeviceSpec("lon-ap-01",   "access_point",  "mr46",        ("lon-sw-01",)),
    NetworkDeviceSpec("lon-ap-02",   "access_point",  "mr46",        ("lon-sw-02",)),
    NetworkDeviceSpec("lon-ap-03",   "access_point",  "mr46",        ("lon-sw-03",), status="under_repair"),
    NetworkDeviceSpec("lon-ap-04",   "access_point",  "mr46",        ("lon-sw-04",)),
    NetworkDeviceSpec("man-fw-01",   "firewall",      "fg60f"),
    NetworkDeviceSpec("man-sw-01",   "switch",        "c9200-48",    ("man-fw-01",)),
    NetworkDeviceSpec("man-sw-02",   "switch",        "c9200-48",    ("man-fw-01",)),
    NetworkDeviceSpec("man-ap-01",   "access_point",  "mr36",        ("man-sw-01",)),
    NetworkDeviceSpec("man-ap-02",   "access_point",  "mr36",        ("man-sw-02",)),
    NetworkDeviceSpec("dub-fw-01",   "firewall",      "fg40f"),
    NetworkDeviceSpec("dub-sw-01",   "switch",        "c9200-24",    ("dub-fw-01",)),
    NetworkDeviceSpec("dub-ap-01",   "access_point",  "mr36",        ("dub-sw-01",)),
)
# fmt: on

# Switches that desktops and printers of an office site hang off.
ACCESS_SWITCHES = {
    "lon": ("lon-sw-01", "lon-sw-02", "lon-sw-03", "lon-sw-04"),
    "man": ("man-sw-01", "man-sw-02"),
    "dub": ("dub-sw-01",),
}


@dataclass(frozen=True)
class PrinterModel:
    manufacturer: str
    model: str
    serial: SerialFormat


@dataclass(frozen=True)
class PhoneModel:
    model: str
    os: str
    os_versions: tuple[str, ...]


# fmt: off
PRINTER_MODELS = (
    PrinterModel("HP",      "Color LaserJet Enterprise M554dn", SerialFormat("CNB", 7)),
    PrinterModel("HP",      "LaserJet Enterprise M611dn",       SerialFormat("PHB", 7)),
    PrinterModel("Canon",   "imageRUNNER ADVANCE DX C5840i",    SerialFormat("XQK", 5, True)),
    PrinterModel("Brother", "HL-L6400DW",                       SerialFormat("E7", 8)),
)

PHONE_MODELS = (
    PhoneModel("Apple iPhone 15",    "iOS",     ("17.5.1", "17.4.1")),
    PhoneModel("Apple iPhone 14",    "iOS",     ("17.5.1", "17.3.1", "16.7.8")),
    PhoneModel("Apple iPhone 13",    "iOS",     ("17.5.1", "16.7.8")),
    PhoneModel("Samsung Galaxy S23", "Android", ("14", "13")),
    PhoneModel("Samsung Galaxy A54", "Android", ("14",)),
    PhoneModel("Google Pixel 8",     "Android", ("14",)),
)
# fmt: on
IMEI = SerialFormat("35", 13, True)


# --- operating systems and software --------------------------------------------------------

Package = tuple[str, str, str]  # (name, vendor, version)


@dataclass(frozen=True)
class OSProfile:
    os: str
    os_version: str
    kernel: str = ""
    platform: str = "linux"  # linux, windows or mac
    packages: tuple[Package, ...] = ()


def _linux_base(openssl: str, openssh: str, curl: str, python: str, sudo: str) -> tuple:
    packages = [
        ("openssl", "OpenSSL Project", openssl),
        ("openssh-server", "OpenBSD Project", openssh),
        ("curl", "curl project", curl),
        ("python3", "Python Software Foundation", python),
        ("sudo", "Todd C. Miller", sudo),
    ]
    return tuple(p for p in packages if p[2])


WINDOWS_SERVER_BASE = (
    ("Microsoft Edge", "Microsoft", "126.0.2592.68"),
    ("Microsoft Visual C++ 2015-2022 Redistributable (x64)", "Microsoft", "14.38.33135"),
    ("Veeam Agent for Microsoft Windows", "Veeam Software", "6.1.2.134"),
)
PROXMOX_PACKAGES = (
    ("proxmox-ve", "Proxmox Server Solutions", "8.2.0"),
    ("qemu-server", "Proxmox Server Solutions", "8.2.1"),
    ("zfsutils-linux", "OpenZFS", "2.2.3"),
)

# fmt: off
OS_PROFILES = {
    #                            os                          os_version     kernel
    "ubuntu-20.04": OSProfile("Ubuntu",                    "20.04.6 LTS", "5.4.0-182-generic",
                              packages=_linux_base("1.1.1f", "8.2p1", "7.68.0", "3.8.10", "1.8.31")),
    "ubuntu-22.04": OSProfile("Ubuntu",                    "22.04.4 LTS", "5.15.0-107-generic",
                              packages=_linux_base("3.0.2", "8.9p1", "7.81.0", "3.10.12", "1.9.9")),
    "ubuntu-24.04": OSProfile("Ubuntu",                    "24.04 LTS",   "6.8.0-35-generic",
                              packages=_linux_base("3.0.13", "9.6p1", "8.5.0", "3.12.3", "1.9.15p5")),
    "debian-12":    OSProfile("Debian GNU/Linux",          "12.5",        "6.1.0-21-amd64",
                              packages=_linux_base("3.0.11", "9.2p1", "7.88.1", "3.11.2", "1.9.13p3")),
    "proxmox-8":    OSProfile("Proxmox VE",                "8.2.2",       "6.8.4-3-pve",
                              packages=_linux_base("3.0.11", "9.2p1", "7.88.1", "3.11.2", "") + PROXMOX_PACKAGES),
    "rhel-9":       OSProfile("Red Hat Enterprise Linux",  "9.4",         "5.14.0-427.18.1.el9_4.x86_64",
                              packages=_linux_base("3.0.7", "8.7p1", "7.76.1", "3.9.18", "1.9.5p2")),
    "windows-server-2022": OSProfile("Microsoft Windows Server 2022 Standard", "10.0.20348",
                                     platform="windows", packages=WINDOWS_SERVER_BASE),
    "windows-server-2019": OSProfile("Microsoft Windows Server 2019 Standard", "10.0.17763",
                                     platform="windows", packages=WINDOWS_SERVER_BASE),
    "windows-11":   OSProfile("Microsoft Windows 11 Enterprise", "10.0.22631", platform="windows"),
    "windows-10":   OSProfile("Microsoft Windows 10 Enterprise", "10.0.19045", platform="windows"),
    "macos-14":     OSProfile("macOS", "14.5",   "Darwin 23.5.0", platform="mac"),
    "macos-13":     OSProfile("macOS", "13.6.7", "Darwin 22.6.0", platform="mac"),
}
# fmt: on


@dataclass(frozen=True)
class ServerPackage:
    """A package a server role installs; its version depends on the OS ("*": any OS)."""

    vendor: str
    versions: dict[str, tuple[str, ...]]


U20, U22, U24, DEB12, RHEL9 = "ubuntu-20.04", "ubuntu-22.04", "ubuntu-24.04", "debian-12", "rhel-9"

# fmt: off
SERVER_PACKAGES = {
    "nginx":          ServerPackage("F5 NGINX", {U20: ("1.18.0",), U22: ("1.18.0",), U24: ("1.24.0",),
                                                 DEB12: ("1.22.1",), RHEL9: ("1.20.1",)}),
    "postgresql":     ServerPackage("PostgreSQL Global Development Group",
                                    {U20: ("12.18",), U22: ("14.11", "14.10"), U24: ("16.2",),
                                     DEB12: ("15.6",), RHEL9: ("13.14",)}),
    "mysql-server":   ServerPackage("Oracle", {U20: ("8.0.36",), U22: ("8.0.36", "8.0.35")}),
    "mariadb-server": ServerPackage("MariaDB Foundation", {U20: ("10.3.39",), U22: ("10.6.16",), U24: ("10.11.7",)}),
    "redis-server":   ServerPackage("Redis Ltd.", {U22: ("6.0.16",), U24: ("7.0.15",)}),
    "mongodb-org":    ServerPackage("MongoDB, Inc.", {"*": ("7.0.8", "6.0.15")}),
    "elasticsearch":  ServerPackage("Elastic", {"*": ("8.13.4",)}),
    "openjdk-17-jre-headless": ServerPackage("OpenJDK", {"*": ("17.0.11", "17.0.10")}),
    "nodejs":         ServerPackage("OpenJS Foundation", {"*": ("20.13.1", "18.20.2")}),
    "gunicorn":       ServerPackage("Gunicorn", {"*": ("22.0.0", "21.2.0")}),
    "php-fpm":        ServerPackage("The PHP Group", {U22: ("8.1.2",), U24: ("8.3.6",)}),
    "wordpress":      ServerPackage("WordPress.org", {"*": ("6.5.3", "6.4.4")}),
    "suitecrm":       ServerPackage("SalesAgility", {"*": ("8.6.1",)}),
    "odoo":           ServerPackage("Odoo S.A.", {"*": ("17.0.20240610",)}),
    "keycloak":       ServerPackage("Red Hat", {"*": ("24.0.4",)}),
    "openvpn-as":     ServerPackage("OpenVPN Inc.", {"*": ("2.13.1",)}),
    "freeradius":     ServerPackage("FreeRADIUS Project", {U20: ("3.0.20",), U22: ("3.0.26",)}),
    "postfix":        ServerPackage("Wietse Venema", {U22: ("3.6.4",), U24: ("3.8.6",), DEB12: ("3.7.11",)}),
    "rspamd":         ServerPackage("Rspamd Project", {"*": ("3.8.4",)}),
    "docker-ce":      ServerPackage("Docker, Inc.", {"*": ("26.1.3", "25.0.5")}),
    "gitlab-runner":  ServerPackage("GitLab", {"*": ("17.0.1",)}),
    "bacula-director": ServerPackage("Bacula Project", {"*": ("13.0.3",)}),
    "Microsoft SQL Server 2019":      ServerPackage("Microsoft", {"*": ("15.0.4360.2", "15.0.4355.3")}),
    "Microsoft Exchange Server 2019": ServerPackage("Microsoft", {"*": ("15.2.1544.4",)}),
    "Sage Payroll":                   ServerPackage("Sage", {"*": ("2024.1.0",)}),
    "Power BI Report Server":         ServerPackage("Microsoft", {"*": ("15.0.1115.165",)}),
    "7-Zip":                          ServerPackage("Igor Pavlov", {"*": ("23.01", "19.00")}),
}
# fmt: on


@dataclass(frozen=True)
class DesktopApp:
    """An application installed on some desktops and laptops."""

    name: str
    vendor: str
    versions: tuple[str, ...]  # newest (most common) first
    share: float  # chance a matching machine has it
    platforms: tuple[str, ...] = ("windows", "mac")
    departments: tuple[str, ...] = ()  # empty: every department


WIN = ("windows",)
MAC = ("mac",)
ANY = ("windows", "mac")

# fmt: off
DESKTOP_APPS = (
    DesktopApp("Microsoft Office",     "Microsoft", ("16.0.17628.20144", "16.0.17531.20152", "16.0.17328.20282"), 1.0, WIN),
    DesktopApp("Microsoft Office",     "Microsoft", ("16.86", "16.85"), 1.0, MAC),
    DesktopApp("Microsoft Teams",      "Microsoft", ("24124.2315.2911.3357", "24102.2223.2870.9480"), 0.95),
    DesktopApp("Google Chrome",        "Google",    ("126.0.6478.127", "125.0.6422.142", "124.0.6367.208"), 0.9),
    DesktopApp("Firefox",              "Mozilla",   ("127.0.2", "126.0.1", "115.12.0esr"), 0.35),
    DesktopApp("Adobe Acrobat Reader", "Adobe",     ("24.002.20857", "24.002.20759", "23.008.20533"), 0.8),
    DesktopApp("Zoom",                 "Zoom Video Communications", ("6.1.1", "6.0.11", "5.17.11"), 0.7),
    DesktopApp("7-Zip",                "Igor Pavlov", ("24.06", "23.01", "19.00"), 0.55, WIN),
    DesktopApp("VLC media player",     "VideoLAN",  ("3.0.21", "3.0.20", "3.0.18"), 0.2),
    DesktopApp("Notepad++",            "Don Ho",    ("8.6.8", "8.6.4", "8.5.8"), 0.15, WIN),
    # Department-specific tools.
    DesktopApp("Visual Studio Code",   "Microsoft", ("1.90.2", "1.89.1"), 0.9, ANY, ("Engineering",)),
    DesktopApp("Git",                  "Git",       ("2.45.2", "2.44.0"), 0.95, ANY, ("Engineering",)),
    DesktopApp("Docker Desktop",       "Docker, Inc.", ("4.31.1", "4.29.0"), 0.7, ANY, ("Engineering",)),
    DesktopApp("Python",               "Python Software Foundation", ("3.12.4", "3.11.9"), 0.6, ANY, ("Engineering",)),
    DesktopApp("Microsoft Power BI Desktop", "Microsoft", ("2.130.930.0", "2.129.1229.0"), 0.7, WIN, ("Finance",)),
    DesktopApp("Sage Payroll Client",  "Sage",      ("2024.1.0",), 0.9, WIN, ("Human Resources",)),
    DesktopApp("Adobe Photoshop",      "Adobe",     ("25.9.1", "25.7"), 0.6, ANY, ("Marketing",)),
    DesktopApp("Adobe Illustrator",    "Adobe",     ("28.5",), 0.4, ANY, ("Marketing",)),
    DesktopApp("Adobe Acrobat Pro",    "Adobe",     ("24.002.20857",), 0.8, ANY, ("Legal",)),
    DesktopApp("PuTTY",                "Simon Tatham", ("0.81", "0.80", "0.76"), 0.8, WIN, (IT_OPERATIONS, "Service Desk")),
    DesktopApp("Wireshark",            "Wireshark Foundation", ("4.2.5", "4.0.15"), 0.5, ANY, (IT_OPERATIONS,)),
)
# fmt: on


# --- services, applications, databases, servers --------------------------------------------


@dataclass(frozen=True)
class BusinessServiceSpec:
    name: str
    criticality: str
    sla_hours: float
    owner: str  # username of the business owner
    description: str


# fmt: off
BUSINESS_SERVICES = (
    BusinessServiceSpec("Online shop",             "critical",  2, "isabel.moreno", "shop.harbourfinch.example: web shop."),
    BusinessServiceSpec("Payroll",                 "high",      8, "william.grant", "Monthly payroll and payslips."),
    BusinessServiceSpec("E-mail",                  "high",      4, INFRA_LEAD,      "Company e-mail, calendars, spam filter."),
    BusinessServiceSpec("CRM",                     "high",      8, "olivia.reid",   "Customer accounts, leads, opportunities."),
    BusinessServiceSpec("VPN access",              "high",      4, INFRA_LEAD,      "Remote access for staff."),
    BusinessServiceSpec("Intranet",                "medium",   24, "william.grant", "News, policies, HR forms."),
    BusinessServiceSpec("Finance & accounting",    "critical",  8, "sophie.turner", "Ledger, invoicing, reporting."),
    BusinessServiceSpec("Customer support portal", "medium",   12, "sean.murphy",   "Order tracking and returns."),
)
# fmt: on


@dataclass(frozen=True)
class ServerGroupSpec:
    """Physical servers named `<prefix>-01`…, each hanging off its site's switches."""

    prefix: str
    count: int
    model: str  # SERVER_MODELS key
    os: tuple[str, ...]  # OSProfile keys, most common first
    description: str
    packages: tuple[str, ...] = ()  # SERVER_PACKAGES keys
    hypervisor: bool = False
    switches: tuple[str, ...] = ()  # with four, each server takes a pair (01+02 or 03+04)
    environment: str = "production"
    statuses: dict[int, str] = field(default_factory=dict)  # number → status other than production


FRA_TOR = ("fra-sw-01", "fra-sw-02", "fra-sw-03", "fra-sw-04")
WS2022, WS2019 = ("windows-server-2022",), ("windows-server-2019",)

# fmt: off
SERVER_GROUPS = (
    ServerGroupSpec("fra-hv",  9, "r750",    ("proxmox-8",), "Proxmox VE hypervisor", hypervisor=True,
                    switches=FRA_TOR, statuses={9: "ordered"}),
    ServerGroupSpec("fra-db",  2, "r650",    (U22,), "Bare-metal PostgreSQL server for the shop", ("postgresql",),
                    switches=FRA_TOR, statuses={2: "under_repair"}),
    ServerGroupSpec("fra-bak", 1, "r740xd2", (U22,), "Backup server (Bacula, 200 TB)", ("bacula-director",),
                    switches=FRA_TOR),
    ServerGroupSpec("lon-hv",  3, "dl380",   WS2022, "Hyper-V host", hypervisor=True, switches=("lon-core-01",)),
    ServerGroupSpec("lon-dc",  1, "dl360",   WS2022, "Domain controller", switches=("lon-core-01",)),
    ServerGroupSpec("lon-fs",  2, "dl380",   WS2019, "File server", ("7-Zip",), switches=("lon-core-01",),
                    statuses={2: "disposed"}),
    ServerGroupSpec("man-srv", 1, "t550",    WS2022, "Branch Hyper-V host", hypervisor=True, switches=("man-sw-01",)),
    ServerGroupSpec("dub-srv", 1, "t350",    WS2022, "Branch file and print server", ("7-Zip",),
                    switches=("dub-sw-01",)),
)
# fmt: on


@dataclass(frozen=True)
class VMGroupSpec:
    """Virtual machines named `<prefix>-01`…, spread over the hypervisors of their site."""

    prefix: str
    count: int
    os: tuple[str, ...]
    packages: tuple[str, ...]
    cpu_cores: int
    memory_mb: int
    description: str
    environment: str = "production"
    load_balancer: str = ""  # network device in front of the group
    statuses: dict[int, str] = field(default_factory=dict)

    @property
    def site(self) -> str:
        return self.prefix.split("-", 1)[0]


LB = "fra-lb-01"

# fmt: off
VM_GROUPS = (
    # prefix        n  os            packages                                  cores memory  description
    VMGroupSpec("fra-web",     4, (U22, U24), ("nginx", "nodejs"),                     4,  8192, "Shop web front end", load_balancer=LB),
    VMGroupSpec("fra-api",     2, (U22,),     ("nginx", "gunicorn"),                   4,  8192, "Checkout API", load_balancer=LB),
    VMGroupSpec("fra-pay",     2, (RHEL9,),   ("openjdk-17-jre-headless",),            2,  4096, "Payment connector"),
    VMGroupSpec("fra-search",  3, (U22,),     ("elasticsearch", "openjdk-17-jre-headless"), 8, 32768, "Elasticsearch node"),
    VMGroupSpec("fra-redis",   2, (U22,),     ("redis-server",),                       2, 16384, "Redis cache for the shop"),
    VMGroupSpec("fra-mongo",   3, (U22, U20), ("mongodb-org",),                        4, 16384, "MongoDB replica set member"),
    VMGroupSpec("fra-pg",      2, (U22, U24), ("postgresql",),                         8, 32768, "Shared PostgreSQL server"),
    VMGroupSpec("fra-mysql",   1, (U20,),     ("mysql-server",),                       4, 16384, "MySQL server for the CRM"),
    VMGroupSpec("fra-hr",      1, (U22,),     ("nginx", "gunicorn"),                   2,  4096, "HR self-service portal"),
    VMGroupSpec("fra-mx",      2, (DEB12,),   ("postfix", "rspamd"),                   2,  4096, "Mail relay and spam filter"),
    VMGroupSpec("fra-crm",     2, (U22,),     ("nginx", "php-fpm", "suitecrm"),        4,  8192, "SuiteCRM application server"),
    VMGroupSpec("fra-portal",  2, (U24,),     ("nginx", "nodejs"),                     2,  4096, "Customer portal", load_balancer=LB),
    VMGroupSpec("fra-vpn",     2, (U22,),     ("openvpn-as",),                         4,  4096, "VPN gateway"),
    VMGroupSpec("fra-radius",  1, (U20,),     ("freeradius", "mariadb-server"),        2,  2048, "RADIUS server"),
    VMGroupSpec("fra-idp",     2, (RHEL9,),   ("keycloak", "openjdk-17-jre-headless"), 4,  8192, "Keycloak single sign-on"),
    VMGroupSpec("fra-erp",     2, (U22,),     ("odoo", "nginx"),                       8, 16384, "Odoo ERP"),
    VMGroupSpec("lon-web",     2, (U22,),     ("nginx", "php-fpm", "wordpress"),       2,  4096, "Intranet web server"),
    VMGroupSpec("lon-db",      1, (U22,),     ("mariadb-server",),                     2,  8192, "MariaDB for the intranet"),
    VMGroupSpec("lon-mbx",     2, WS2019,     ("Microsoft Exchange Server 2019",),     8, 65536, "Exchange mailbox server"),
    VMGroupSpec("lon-payroll", 1, WS2022,     ("Sage Payroll",),                       4, 16384, "Sage Payroll server"),
    VMGroupSpec("lon-sql",     1, WS2022,     ("Microsoft SQL Server 2019",),          8, 32768, "SQL Server for payroll"),
    VMGroupSpec("lon-bi",      1, WS2022,     ("Power BI Report Server",),             4, 16384, "Power BI Report Server"),
    VMGroupSpec("man-dc",      1, WS2022,     (),                                      2,  4096, "Domain controller"),
    # Not production: staging, test and development machines.
    VMGroupSpec("fra-stg-web", 2, (U24,),     ("nginx", "nodejs"),                     2,  4096, "Shop web front end", "staging"),
    VMGroupSpec("fra-stg-api", 1, (U24,),     ("nginx", "gunicorn"),                   2,  4096, "Checkout API", "staging"),
    VMGroupSpec("fra-test-erp", 1, (U22,),    ("odoo", "postgresql"),                  4,  8192, "Odoo 17 upgrade test", "test",
                statuses={1: "under_test"}),
    VMGroupSpec("fra-ci",      3, (U24,),     ("docker-ce", "gitlab-runner"),          8, 16384, "GitLab CI runner", "development"),
    VMGroupSpec("fra-dev",     2, (U24, U22), ("docker-ce", "postgresql"),             4, 16384, "Developer sandbox", "development",
                statuses={2: "under_test"}),
)
# fmt: on


@dataclass(frozen=True)
class DatabaseSpec:
    name: str
    engine: str
    engine_version: str  # used when the host does not tell (its package version wins)
    size_gb: float
    hosted_on: tuple[str, ...]  # server/VM names or group prefixes
    provides_to: tuple[str, ...]  # application names
    description: str


POWER_BI = "Finance reporting (Power BI)"

# fmt: off
DATABASES = (
    DatabaseSpec("shop-db",     "postgresql", "14.11",       420.0, ("fra-db",),        ("Shop storefront", "Checkout API", "Payment gateway connector"),
                 "Orders, products and customers of the online shop (primary + streaming replica)."),
    DatabaseSpec("shop-cache",  "redis",      "6.0.16",        8.0, ("fra-redis",),     ("Shop storefront", "Checkout API"),
                 "Sessions and baskets of the online shop."),
    DatabaseSpec("events-db",   "mongodb",    "7.0.8",       150.0, ("fra-mongo",),     ("Checkout API", "Customer portal"),
                 "Order events and tracking updates."),
    DatabaseSpec("payroll-db",  "sqlserver",  "15.0.4360.2",  35.0, ("lon-sql-01",),    ("Sage Payroll", POWER_BI),
                 "Payroll runs, employees' pay data."),
    DatabaseSpec("hr-db",       "postgresql", "14.11",        12.0, ("fra-pg-01",),     ("HR self-service portal", "Sage Payroll"),
                 "Employee records and absences."),
    DatabaseSpec("crm-db",      "mysql",      "8.0.36",       60.0, ("fra-mysql-01",),  ("SuiteCRM", "Customer portal"),
                 "Accounts, contacts and cases."),
    DatabaseSpec("portal-db",   "postgresql", "14.11",        20.0, ("fra-pg-01",),     ("Customer portal",),
                 "Customer portal users and returns."),
    DatabaseSpec("radius-db",   "mariadb",    "10.3.39",       1.5, ("fra-radius-01",), ("FreeRADIUS",),
                 "RADIUS clients and accounting."),
    DatabaseSpec("idp-db",      "postgresql", "14.11",         4.0, ("fra-pg-02",),     ("Keycloak SSO",),
                 "Keycloak realms and sessions."),
    DatabaseSpec("intranet-db", "mariadb",    "10.6.16",       6.0, ("lon-db-01",),     ("Intranet (WordPress)",),
                 "WordPress content of the intranet."),
    DatabaseSpec("erp-db",      "postgresql", "14.11",       210.0, ("fra-pg-02",),     ("Odoo ERP", POWER_BI),
                 "General ledger, invoices, purchase orders."),
)
# fmt: on


@dataclass(frozen=True)
class ApplicationSpec:
    name: str
    vendor: str
    version: str
    url: str
    hosted_on: tuple[str, ...]  # server/VM names or group prefixes
    supports: tuple[str, ...]  # business services
    required_by: tuple[str, ...] = ()  # applications that cannot work without this one
    admin: str = APP_ADMIN
    owner: str = INFRA_LEAD
    status: str = "production"


IN_HOUSE = "Harbour & Finch (in-house)"
SHOP_OWNER = "isabel.moreno"

# fmt: off
APPLICATIONS = (
    ApplicationSpec("Shop storefront",    IN_HOUSE, "4.12.3", "https://shop.harbourfinch.example/", ("fra-web",), ("Online shop",),
                    admin=PLATFORM_LEAD, owner=SHOP_OWNER),
    ApplicationSpec("Checkout API",       IN_HOUSE, "2.7.0", "https://api.harbourfinch.example/checkout/", ("fra-api",), ("Online shop",),
                    required_by=("Shop storefront",), admin=PLATFORM_LEAD, owner=SHOP_OWNER),
    ApplicationSpec("Payment gateway connector", IN_HOUSE, "1.9.4", "", ("fra-pay",), ("Online shop",),
                    required_by=("Checkout API",), admin=PLATFORM_LEAD, owner=SHOP_OWNER),
    ApplicationSpec("Product search",     "Elastic", "8.13.4", "", ("fra-search",), ("Online shop",),
                    required_by=("Shop storefront",), owner=SHOP_OWNER),
    ApplicationSpec("Sage Payroll",       "Sage", "2024.1", "", ("lon-payroll",), ("Payroll",),
                    admin=WINDOWS_ADMIN, owner="william.grant"),
    ApplicationSpec("HR self-service portal", IN_HOUSE, "3.4.1", "https://hr.harbourfinch.example/", ("fra-hr",),
                    ("Payroll", "Intranet"), owner="william.grant"),
    ApplicationSpec("Microsoft Exchange", "Microsoft", "2019 CU14", "https://mail.harbourfinch.example/owa/", ("lon-mbx",),
                    ("E-mail",), admin=WINDOWS_ADMIN),
    ApplicationSpec("Mail relay (Postfix)", "Postfix", "3.7.11", "", ("fra-mx",), ("E-mail",), admin=LINUX_ADMIN),
    ApplicationSpec("Spam filter (Rspamd)", "Rspamd", "3.8.4", "", ("fra-mx",), ("E-mail",), admin=LINUX_ADMIN),
    ApplicationSpec("SuiteCRM",           "SalesAgility", "8.6.1", "https://crm.harbourfinch.example/", ("fra-crm",), ("CRM",),
                    owner="olivia.reid"),
    ApplicationSpec("Customer portal",    IN_HOUSE, "3.2.0", "https://my.harbourfinch.example/", ("fra-portal",),
                    ("Customer support portal", "CRM"), admin=PLATFORM_LEAD, owner="sean.murphy"),
    ApplicationSpec("OpenVPN Access Server", "OpenVPN Inc.", "2.13.1", "https://vpn.harbourfinch.example/", ("fra-vpn",),
                    ("VPN access",), admin=NETWORK_ADMIN),
    ApplicationSpec("FreeRADIUS",         "FreeRADIUS Project", "3.0.20", "", ("fra-radius",), (),
                    required_by=("OpenVPN Access Server",), admin=NETWORK_ADMIN),
    ApplicationSpec("Keycloak SSO",       "Red Hat", "24.0.4", "https://sso.harbourfinch.example/", ("fra-idp",), (),
                    required_by=("OpenVPN Access Server", "Intranet (WordPress)", "HR self-service portal", "SuiteCRM")),
    ApplicationSpec("Intranet (WordPress)", "WordPress.org", "6.5.3", "https://intranet.harbourfinch.example/", ("lon-web",),
                    ("Intranet",), owner="william.grant"),
    ApplicationSpec("Odoo ERP",           "Odoo S.A.", "17.0", "https://erp.harbourfinch.example/", ("fra-erp",),
                    ("Finance & accounting",), owner="sophie.turner"),
    ApplicationSpec(POWER_BI,             "Microsoft", "Power BI Report Server January 2024",
                    "https://reports.harbourfinch.example/reports/", ("lon-bi",), ("Finance & accounting",),
                    admin=WINDOWS_ADMIN, owner="sophie.turner"),
    ApplicationSpec("Active Directory",   "Microsoft", "Windows Server 2022", "", ("lon-dc-01", "man-dc-01"), (),
                    required_by=("Microsoft Exchange", "Keycloak SSO", "Sage Payroll"), admin=WINDOWS_ADMIN),
    ApplicationSpec("Legacy intranet (SharePoint 2013)", "Microsoft", "15.0.5545.1000", "", (), (),
                    admin=WINDOWS_ADMIN, owner="william.grant", status="disposed"),
)
# fmt: on


# --- end-user devices -----------------------------------------------------------------------

#: How the CIs left over after the fixed infrastructure are shared out among end-user devices.
ENDPOINT_SHARES = {"desktop": 0.41, "laptop": 0.38, "phone": 0.14, "printer": 0.07}
#: Share of desktops and laptops that belong to someone (the rest: stock, meeting rooms, scrap).
OWNED_COMPUTER_SHARE = 0.85
#: Departments whose people more often carry a company phone.
PHONE_HEAVY_DEPARTMENTS = ("Sales", IT_OPERATIONS, "Service Desk")
