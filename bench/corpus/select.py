#!/usr/bin/python3
"""Pick the corpus: a typical Debian bookworm server install, closed under Depends/Pre-Depends.

Seeds: every `Priority: required` and `Priority: important` package (what debootstrap puts in
a minimal base; Essential packages such as coreutils are never named in anyone's Depends),
plus the server packages in SERVER below. The closure is apt's own answer: `apt-get -s
install --no-install-recommends` against an empty dpkg status, so each package appears once,
with apt's candidate version, and alternatives/virtual packages are decided the way apt does.

Writes SELECTION (one `name version arch role` line per package, sorted; role `top` for seeds,
`dep` for the closure, `boot` for the packages syslinux-tftpboot is made from). The file is
committed: re-runs download exactly these versions (repeatable), RESELECT=1 refreshes it.

Usage: select.py SELECTION
"""
import os
import re
import subprocess
import sys
import tempfile

SERVER = """
systemd openssh-server openssh-client coreutils bash python3 perl util-linux iproute2
nfs-common rsync vim less curl wget sudo cron isc-dhcp-client kmod linux-image-amd64
firmware-linux-free ca-certificates bind9-host lsof strace tcpdump man-db file xz-utils
bzip2 zstd parted lvm2 mdadm xfsprogs dbus chrony rsyslog psmisc iptables ethtool pciutils
usbutils bash-completion tmux htop jq gnupg openssl ipmitool numactl rpcbind autofs at
sysstat
""".split()

# Turned into the extra syslinux-tftpboot RPM, not installed in the image.
BOOT = ["pxelinux", "syslinux-common"]


def apt(*args):
    return subprocess.run(["apt-get", *args], check=True, capture_output=True, text=True,
                          env={**os.environ, "LC_ALL": "C"}).stdout


def priority_seeds():
    out = subprocess.run(["apt-cache", "dumpavail"], check=True, capture_output=True,
                         text=True, env={**os.environ, "LC_ALL": "C"}).stdout
    seeds = set()
    for block in out.split("\n\n"):
        f = dict(re.findall(r"^([A-Za-z-]+): (.*)$", block, re.M))
        if f.get("Priority") in ("required", "important") and f.get("Architecture") in ("amd64", "all"):
            seeds.add(f["Package"])
    return seeds


def simulate(names, status):
    out = apt("-s", "-o", f"Dir::State::status={status}", "-o", "APT::Install-Recommends=false",
              "-o", "APT::Install-Suggests=false", "install", *names)
    chosen = {}
    for line in out.splitlines():
        m = re.match(r"Inst (\S+) \((\S+) .*\[(\S+)\]\)", line)
        if m:
            chosen[m.group(1)] = (m.group(2), m.group(3))
    return chosen


def main():
    target = sys.argv[1]
    seeds = sorted(priority_seeds() | set(SERVER))
    with tempfile.NamedTemporaryFile() as empty:
        chosen = simulate(seeds, empty.name)
        boot = simulate(BOOT, empty.name)
    lines = []
    for name, (ver, arch) in sorted(chosen.items()):
        if arch not in ("amd64", "all"):
            sys.exit(f"select: {name} {ver} has architecture {arch}")
        lines.append(f"{name} {ver} {arch} {'top' if name in seeds else 'dep'}\n")
    for name in BOOT:
        ver, arch = boot[name]
        lines.append(f"{name} {ver} {arch} boot\n")
    with open(target, "w") as f:
        f.write("# name version arch role; written by bench/corpus/select.py, see bench/README.md\n")
        f.writelines(lines)
    top = sum(1 for line in lines if line.endswith(" top\n"))
    print(f"select: {len(chosen)} packages ({top} seeds) + {len(BOOT)} boot packages -> {target}")


if __name__ == "__main__":
    main()
