#!/usr/bin/python3
"""Turn the selected Debian packages into installable RPMs with rpmbuild.

Two passes. The first reads every .deb's control fields and data.tar headers into a manifest
(cached per .deb in OUT/work/manifests). From all manifests it then plans the corpus as a
whole, so the RPMs install together:
- a directory shipped by several packages gets one mode/owner everywhere (the most common
  one), so rpm never sees two packages disagree about it;
- a non-directory path shipped by several packages (or a directory in one and a file/symlink
  in another) stays in the first package by name and is dropped from the others (logged);
- each Depends/Pre-Depends clause is checked against the selected set with rpm's version
  comparison: where Debian's and rpm's ordering disagree the version is dropped (logged), so
  dnf can install what apt could; Conflicts are kept only where nothing in the set matches
  them; Breaks are dropped.
The second pass extracts each package's files into a build root (modes from data.tar, every
mtime set to SOURCE_DATE_EPOCH), writes a spec (owners by name with %attr, no scriptlets: the
Debian maintainer scripts are not carried) and runs rpmbuild. Fixed build time, build host,
mtimes and payload settings make the RPMs byte-identical across rebuilds on one machine.

It also makes `syslinux-tftpboot` (pxelinux.0 and the BIOS .c32 modules under /tftpboot, from
Debian's pxelinux and syslinux-common) and writes OUT/packages.txt and OUT/corpus.toml.

Usage: deb2rpm.py --selection FILE --debs DIR --out DIR [--jobs N]
"""
import argparse
import collections
import json
import multiprocessing
import os
import re
import shutil
import subprocess
import sys
import tarfile

SOURCE_DATE_EPOCH = 1700000000
PAYLOAD = "w3.zstdio"  # zstd level 3: fast to build; RHEL 9 itself uses zstd (level 19)
ARCH = {"amd64": "x86_64", "all": "noarch"}
OPS = {">=": ">=", "<=": "<=", ">>": ">", "<<": "<", "=": "=", ">": ">=", "<": "<="}
MANIFEST_VERSION = 1

# The one maintainer-script effect carried over: base-passwd's postinst creates /etc/passwd and
# /etc/group from its templates. Without them no user or group name resolves in the image
# (rpm falls back to root); on RHEL the `setup` package ships both files the same way.
EXTRA_FILES = {
    "base-passwd": [("/etc/passwd", "/usr/share/base-passwd/passwd.master"),
                    ("/etc/group", "/usr/share/base-passwd/group.master")],
}


# ---------------------------------------------------------------- Debian fields and versions

def deb_file(debs, name, ver, arch):
    return os.path.join(debs, f"{name}_{ver.replace(':', '%3a')}_{arch}.deb")


def control_fields(path):
    text = subprocess.run(["dpkg-deb", "--field", path], check=True, capture_output=True,
                          text=True, env={**os.environ, "LC_ALL": "C"}).stdout
    fields, key = {}, None
    for line in text.splitlines():
        if line[:1] in (" ", "\t") and key:
            fields[key] += "\n" + line[1:]
        elif ":" in line:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return fields


def map_version(version, native_release="0"):
    """Debian `epoch:upstream-revision` -> rpm (epoch, version, release).

    rpm forbids `-` and `:` in version and release: both become `_` in the upstream part
    (a Debian revision has neither). A version without a revision gets `native_release`
    (None in a dependency: rpm then compares the version only).
    """
    epoch, sep, rest = version.partition(":")
    if not sep:
        epoch, rest = "0", version
    upstream, sep, revision = rest.rpartition("-")
    if not sep:
        upstream, revision = rest, native_release
    return int(epoch), upstream.replace("-", "_").replace(":", "_"), revision


def evr_text(evr):
    e, v, r = evr
    text = f"{e}:{v}" if e else v
    return f"{text}-{r}" if r is not None else text


def parse_atom(atom):
    """`foo:any (>= 1:2.3-4)` -> (name, op or None, evr or None)."""
    m = re.fullmatch(r"\s*([A-Za-z0-9.+-]+)(?::[a-z0-9]+)?\s*(?:\(\s*([<>=]+)\s*([^)\s]+)\s*\))?\s*",
                     atom)
    if not m:
        raise ValueError(f"cannot parse dependency atom {atom!r}")
    name, op, ver = m.groups()
    if not op:
        return name, None, None
    return name, OPS[op], map_version(ver, native_release=None)


def parse_relations(text):
    """A Depends-style field -> list of clauses, each a list of atoms (alternatives)."""
    if not text:
        return []
    return [[parse_atom(a) for a in clause.split("|")]
            for clause in text.replace("\n", " ").split(",") if clause.strip()]


# ---------------------------------------------------------------- rpm version semantics

def _alnum(c):
    return c.isascii() and c.isalnum()


def rpmvercmp(a, b):
    """rpm's version segment comparison (lib/rpmvercmp.c semantics, written from its rules)."""
    if a == b:
        return 0
    i = j = 0
    while i < len(a) or j < len(b):
        while i < len(a) and not _alnum(a[i]) and a[i] not in "~^":
            i += 1
        while j < len(b) and not _alnum(b[j]) and b[j] not in "~^":
            j += 1
        ta, tb = a[i:i + 1] == "~", b[j:j + 1] == "~"
        if ta or tb:
            if not ta:
                return 1
            if not tb:
                return -1
            i, j = i + 1, j + 1
            continue
        ca, cb = a[i:i + 1] == "^", b[j:j + 1] == "^"
        if ca or cb:
            if i >= len(a):
                return -1
            if j >= len(b):
                return 1
            if not ca:
                return 1
            if not cb:
                return -1
            i, j = i + 1, j + 1
            continue
        if i >= len(a) or j >= len(b):
            break
        num = a[i].isdigit()
        pred = (lambda c: c.isascii() and c.isdigit()) if num else (lambda c: c.isascii() and c.isalpha())
        si = i
        while i < len(a) and pred(a[i]):
            i += 1
        sj = j
        while j < len(b) and pred(b[j]):
            j += 1
        sa, sb = a[si:i], b[sj:j]
        if not sb:
            return 1 if num else -1
        if num:
            sa, sb = sa.lstrip("0"), sb.lstrip("0")
            if len(sa) != len(sb):
                return 1 if len(sa) > len(sb) else -1
        if sa != sb:
            return 1 if sa > sb else -1
    if i >= len(a) and j >= len(b):
        return 0
    return 1 if i < len(a) else -1


def evrcmp(p, r):
    """Compare a provided EVR with a required one; releases only when both have one."""
    if p[0] != r[0]:
        return 1 if p[0] > r[0] else -1
    c = rpmvercmp(p[1], r[1])
    if c or p[2] is None or r[2] is None:
        return c
    return rpmvercmp(p[2], r[2])


def matches(op, req, prov):
    if op is None or prov is None:
        return True  # rpm: an unversioned provide satisfies any version
    c = evrcmp(prov, req)
    return {"=": c == 0, ">=": c >= 0, "<=": c <= 0, ">": c > 0, "<": c < 0}[op]


# ---------------------------------------------------------------- pass 1: manifests

def read_manifest(job):
    deb, cache = job
    st = os.stat(deb)
    key = [MANIFEST_VERSION, os.path.basename(deb), st.st_size, int(st.st_mtime)]
    if os.path.exists(cache):
        with open(cache) as f:
            m = json.load(f)
        if m.get("key") == key:
            return m
    fields = control_fields(deb)
    entries = []
    proc = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", deb], stdout=subprocess.PIPE)
    with tarfile.open(fileobj=proc.stdout, mode="r|") as tf:
        for t in tf:
            path = "/" + t.name.lstrip("./") if t.name not in (".", "./") else "/"
            path = os.path.normpath(path)
            if path == "/":
                continue
            kind = ("dir" if t.isdir() else "link" if t.issym() else "hard" if t.islnk()
                    else "file" if t.isfile() else "other")
            entries.append([path, kind, t.mode & 0o7777, t.uname or ("root" if t.uid == 0 else str(t.uid)),
                            t.gname or ("root" if t.gid == 0 else str(t.gid)), t.size,
                            t.linkname if kind in ("link", "hard") else ""])
    if proc.wait():
        raise RuntimeError(f"dpkg-deb --fsys-tarfile {deb} failed")
    m = {"key": key, "fields": fields, "entries": entries}
    tmp = cache + ".tmp"
    with open(tmp, "w") as f:
        json.dump(m, f)
    os.replace(tmp, cache)
    return m


# ---------------------------------------------------------------- planning

class Plan:
    def __init__(self, pkgs, log):
        self.pkgs = pkgs  # name -> dict(fields, entries, evr, arch)
        self.log = log
        self.dir_attrs = {}
        self.drop = collections.defaultdict(set)  # package -> paths not shipped by it
        self.providers = collections.defaultdict(list)  # capability -> [(pkg, evr or None)]

    def plan_files(self):
        votes = collections.defaultdict(collections.Counter)
        nondir = collections.defaultdict(list)
        for name in sorted(self.pkgs):
            for path, kind, mode, user, group, _size, _link in self.pkgs[name]["entries"]:
                if kind == "dir":
                    votes[path][(mode, user, group)] += 1
                else:
                    nondir[path].append((name, kind))
        for path, counter in votes.items():
            self.dir_attrs[path] = min(counter.items(), key=lambda kv: (-kv[1], kv[0]))[0]
            if len(counter) > 1:
                self.log(f"dir {path}: attrs {sorted(counter)} -> {self.dir_attrs[path]}")
        for path, owners in sorted(nondir.items()):
            if path in self.dir_attrs:
                for name, kind in owners:
                    self.drop[name].add(path)
                    self.log(f"drop {path} ({kind}) from {name}: a directory in another package")
                continue
            for name, kind in owners[1:]:
                self.drop[name].add(path)
                self.log(f"drop {path} ({kind}) from {name}: also shipped by {owners[0][0]}")
        symlinks = {p for p, owners in nondir.items() if owners[0][1] == "link" and p not in self.dir_attrs}
        for path in sorted(set(votes) | set(nondir)):
            parent = os.path.dirname(path)
            while parent != "/":
                if parent in symlinks:
                    self.log(f"note {path}: below symlink {parent}")
                    break
                parent = os.path.dirname(parent)

    def plan_deps(self):
        for name, p in self.pkgs.items():
            self.providers[name].append((name, p["evr"]))
            for clause in parse_relations(p["fields"].get("Provides", "")):
                for cap, op, evr in clause:
                    self.providers[cap].append((name, evr if op == "=" else None))

    def satisfied(self, atom, exclude=None):
        cap, op, evr = atom
        return [n for n, prov in self.providers.get(cap, ()) if n != exclude and matches(op, evr, prov)]

    def requires(self, name):
        out = []
        fields = self.pkgs[name]["fields"]
        for field in ("Pre-Depends", "Depends"):
            for clause in parse_relations(fields.get(field, "")):
                if not any(self.satisfied(a) for a in clause):
                    relaxed = [(c, None, None) for c, _op, _evr in clause]
                    if any(self.satisfied(a) for a in relaxed):
                        self.log(f"requires {name}: {rich(clause)} unsatisfied under rpm ordering -> {rich(relaxed)}")
                        clause = relaxed
                    else:
                        self.log(f"requires {name}: {rich(clause)} has no provider in the set, dropped")
                        continue
                out.append(rich(clause))
        return sorted(set(out))

    def provides(self, name):
        out = []
        for clause in parse_relations(self.pkgs[name]["fields"].get("Provides", "")):
            for cap, op, evr in clause:
                out.append(f"{cap} = {evr_text(evr)}" if op == "=" else cap)
        return sorted(set(out))

    def conflicts(self, name):
        out = []
        for clause in parse_relations(self.pkgs[name]["fields"].get("Conflicts", "")):
            for atom in clause:
                if any(self.satisfied(atom)):
                    self.log(f"conflicts {name}: {rich([atom])} matches {self.satisfied(atom)} in the set, dropped")
                else:
                    out.append(rich([atom]))
        return sorted(set(out))


def rich(clause):
    atoms = [f"{c} {op} {evr_text(evr)}" if op else c for c, op, evr in clause]
    return atoms[0] if len(atoms) == 1 else "(" + " or ".join(atoms) + ")"


# ---------------------------------------------------------------- pass 2: build

def spec_text(s):
    return s.replace("%", "%%")


def quote_path(path):
    if '"' in path or "\n" in path:
        raise ValueError(f"path {path!r} cannot be quoted in a spec %files list")
    return '"' + spec_text(path) + '"'


def extract(deb, root, members=None, rename=None):
    """Extract data.tar of `deb` into `root` (all members, or the named ones, renamed)."""
    proc = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", deb], stdout=subprocess.PIPE)
    with tarfile.open(fileobj=proc.stdout, mode="r|") as tf:
        for t in tf:
            path = os.path.normpath("/" + t.name.lstrip("./"))
            if members is not None:
                if path not in members:
                    continue
                t.name = "." + (rename or {}).get(path, path)
            if t.isdev() or t.isfifo():
                raise RuntimeError(f"{deb}: {path} is a device or fifo")
            tf.extract(t, root, set_attrs=True, numeric_owner=True)
    if proc.wait():
        raise RuntimeError(f"dpkg-deb --fsys-tarfile {deb} failed")


def set_mtimes(root):
    for dirpath, dirnames, filenames in os.walk(root):
        for n in dirnames + filenames:
            os.utime(os.path.join(dirpath, n), (SOURCE_DATE_EPOCH, SOURCE_DATE_EPOCH), follow_symlinks=False)
    os.utime(root, (SOURCE_DATE_EPOCH, SOURCE_DATE_EPOCH))


def rpmbuild(spec, root, work, rpmdir):
    env = {**os.environ, "LC_ALL": "C", "SOURCE_DATE_EPOCH": str(SOURCE_DATE_EPOCH), "TZ": "UTC"}
    defines = {
        "_topdir": os.path.join(work, "top"),
        "_rpmdir": rpmdir,
        "_rpmfilename": "%{NAME}-%{VERSION}-%{RELEASE}.%{ARCH}.rpm",
        "_binary_payload": PAYLOAD,
        "_binary_filedigest_algorithm": "8",
        "_buildhost": "corpus.diskless.invalid",
        "use_source_date_epoch_as_buildtime": "1",
        "clamp_mtime_to_source_epoch": "1",
        "_build_id_links": "none",
        "debug_package": "%{nil}",
        "_binaries_in_noarch_packages_terminate_build": "0",
        "_unpackaged_files_terminate_build": "1",
        "_smp_build_ncpus": "1",
    }
    cmd = ["rpmbuild", "-bb", "--quiet", "--buildroot", root, "--target", "x86_64-linux"]
    for k, v in defines.items():
        cmd += ["--define", f"{k} {v}"]
    r = subprocess.run(cmd + [spec], env=env, capture_output=True, text=True)
    if r.returncode:
        raise RuntimeError(f"rpmbuild {spec} failed:\n{r.stdout[-3000:]}{r.stderr[-3000:]}")


def write_spec(path, name, evr, arch, summary, description, url, requires, provides, conflicts, files):
    e, v, r = evr
    lines = [f"Name: {name}", f"Version: {v}", f"Release: {r}"]
    if e:
        lines.append(f"Epoch: {e}")
    lines += [f"Summary: {spec_text(summary) or name}",
              f"License: Debian, see /usr/share/doc/{name}/copyright",
              "Vendor: Debian (converted by diskless bench/corpus)",
              "AutoReqProv: no"]
    if url:
        lines.append(f"URL: {spec_text(url)}")
    if arch == "noarch":
        lines.append("BuildArch: noarch")
    lines += [f"Requires: {spec_text(x)}" for x in requires]
    lines += [f"Provides: {spec_text(x)}" for x in provides]
    lines += [f"Conflicts: {spec_text(x)}" for x in conflicts]
    lines += ["", "%description", spec_text(description) or name, "", "%files"]
    lines += files
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def debian_description(fields):
    text = fields.get("Description", "")
    summary, _, body = text.partition("\n")
    body = "\n".join("" if line.strip() == "." else line.strip() for line in body.splitlines())
    return summary.strip(), body.strip() or summary.strip()


def files_lines(entries, dir_attrs, drop):
    lines = []
    for path, kind, mode, user, group, _size, _link in sorted(entries):
        if path in drop:
            continue
        if kind == "dir":
            dmode, duser, dgroup = dir_attrs[path]
            lines.append(f"%attr({dmode:04o},{duser},{dgroup}) %dir {quote_path(path)}")
        elif kind == "link":
            lines.append(f"%attr(-,{user},{group}) {quote_path(path)}")
        else:
            lines.append(f"%attr({mode:04o},{user},{group}) {quote_path(path)}")
    return lines


def build_one(job):
    name, deb, work, rpmdir, spec_args, entries, dir_attrs, drop = job
    pwork = os.path.join(work, "build", name)
    shutil.rmtree(pwork, ignore_errors=True)
    root = os.path.join(pwork, "root")
    os.makedirs(root)
    extract(deb, root)
    for path in sorted(drop, reverse=True):
        full = root + path
        if os.path.isdir(full) and not os.path.islink(full):
            shutil.rmtree(full)
        elif os.path.lexists(full):
            os.unlink(full)
    for path, kind, *_ in entries:
        if kind == "dir" and path in dir_attrs and path not in drop:
            os.chmod(root + path, dir_attrs[path][0])
    extra = []
    for path, template in EXTRA_FILES.get(name, []):
        os.makedirs(os.path.dirname(root + path), exist_ok=True)
        shutil.copyfile(root + template, root + path)
        os.chmod(root + path, 0o644)
        extra.append(f"%attr(0644,root,root) %config(noreplace) {quote_path(path)}")
    set_mtimes(root)
    spec = os.path.join(pwork, f"{name}.spec")
    write_spec(spec, name, files=files_lines(entries, dir_attrs, drop) + extra, **spec_args)
    rpmbuild(spec, root, pwork, rpmdir)
    shutil.rmtree(pwork, ignore_errors=True)
    return name


def build_tftpboot(pkgs, debs_of, work, rpmdir):
    """syslinux-tftpboot: pxelinux.0 and the BIOS .c32 modules under /tftpboot, as on RHEL."""
    name = "syslinux-tftpboot"
    pwork = os.path.join(work, "build", name)
    shutil.rmtree(pwork, ignore_errors=True)
    root = os.path.join(pwork, "root")
    os.makedirs(root + "/tftpboot")
    want = {}
    for pkg in ("pxelinux", "syslinux-common"):
        members = {}
        for path, kind, *_ in pkgs[pkg]["entries"]:
            base = os.path.basename(path)
            if kind == "file" and (path == "/usr/lib/PXELINUX/pxelinux.0" or
                                   (path.startswith("/usr/lib/syslinux/modules/bios/") and base.endswith(".c32"))):
                members[path] = "/tftpboot/" + base
        extract(debs_of[pkg], root, set(members), members)
        want.update(members)
    for needed in ("pxelinux.0", "ldlinux.c32", "vesamenu.c32", "libcom32.c32", "libutil.c32"):
        if "/tftpboot/" + needed not in want.values():
            raise RuntimeError(f"{name}: {needed} not found in pxelinux/syslinux-common")
    set_mtimes(root)
    files = ["%attr(0755,root,root) %dir /tftpboot"]
    files += [f"%attr(0644,root,root) {quote_path(p)}" for p in sorted(want.values())]
    for p in want.values():
        os.chmod(root + p, 0o644)
    evr = pkgs["syslinux-common"]["evr"]
    spec = os.path.join(pwork, f"{name}.spec")
    write_spec(spec, name, evr, "noarch", "SYSLINUX modules in /tftpboot, for PXE boot",
               "pxelinux.0 and the BIOS COM32 modules from Debian's pxelinux and syslinux-common, "
               "placed in /tftpboot as the RHEL package syslinux-tftpboot does.",
               "https://www.syslinux.org/", [], [], [], files)
    rpmbuild(spec, root, pwork, rpmdir)
    shutil.rmtree(pwork, ignore_errors=True)
    return len(want)


# ---------------------------------------------------------------- outputs

PROFILE = """\
# The benchmark corpus (bench/corpus/build.sh): {count} Debian bookworm packages as RPMs.
# The repository is served from 127.0.0.1:$corpus_port by the bench runner, e.g.
#   python3 -m http.server -d {repo} -b 127.0.0.1 8123
# Another port: change `corpus_port` below. Without a server: replace the baseurl line with
#   baseurl = "file://{repo}/"

[image]
name = "corpus"
arch = "x86_64"
releasever = "9"
compression = "gzip"
source_date_epoch = {epoch}

[vars]
corpus_port = "8123"

[[repo]]
id = "corpus"
name = "diskless benchmark corpus (Debian bookworm as RPMs)"
baseurl = "http://127.0.0.1:$corpus_port/"
gpgcheck = false

[packages]
install = [
{install}
]
weak_deps = false

[boot]
packages = ["syslinux-tftpboot"]
cmdline = "ip=dhcp"
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--selection", required=True)
    ap.add_argument("--debs", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--only", action="append", default=[],
                    help="build only this package (repeatable) into OUT/repo/Packages, keeping "
                         "what is there; the plan still covers the whole selection")
    args = ap.parse_args()

    work = os.path.join(args.out, "work")
    rpmdir = os.path.join(args.out, "repo", "Packages")
    os.makedirs(os.path.join(work, "manifests"), exist_ok=True)
    shutil.rmtree(os.path.join(work, "build"), ignore_errors=True)
    if not args.only:
        shutil.rmtree(rpmdir, ignore_errors=True)
    os.makedirs(rpmdir, exist_ok=True)
    logf = open(os.path.join(args.out, "convert.log"), "w")

    def log(msg):
        logf.write(msg + "\n")

    sel = []
    with open(args.selection) as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                sel.append(line.split())
    debs_of = {n: deb_file(args.debs, n, v, a) for n, v, a, _ in sel}
    jobs = [(debs_of[n], os.path.join(work, "manifests", n + ".json")) for n, *_ in sel]
    with multiprocessing.Pool(args.jobs) as pool:
        manifests = pool.map(read_manifest, jobs, chunksize=4)
    pkgs, boot, top = {}, {}, []
    for (n, v, a, role), m in zip(sel, manifests):
        if m["fields"].get("Package") != n or m["fields"].get("Version") != v:
            sys.exit(f"deb2rpm: {debs_of[n]} is {m['fields'].get('Package')} {m['fields'].get('Version')}, expected {n} {v}")
        rec = {"fields": m["fields"], "entries": m["entries"], "evr": map_version(v), "arch": ARCH[a]}
        (boot if role == "boot" else pkgs)[n] = rec
        if role == "top":
            top.append(n)

    plan = Plan(pkgs, log)
    plan.plan_files()
    plan.plan_deps()
    build_jobs = []
    for n in sorted(pkgs, key=lambda n: -os.path.getsize(debs_of[n])):
        if args.only and n not in args.only:
            continue
        p = pkgs[n]
        summary, description = debian_description(p["fields"])
        spec_args = {"evr": p["evr"], "arch": p["arch"], "summary": summary, "description": description,
                     "url": p["fields"].get("Homepage", ""), "requires": plan.requires(n),
                     "provides": plan.provides(n), "conflicts": plan.conflicts(n)}
        dirs = {e[0]: plan.dir_attrs[e[0]] for e in p["entries"] if e[1] == "dir"}
        build_jobs.append((n, debs_of[n], work, rpmdir, spec_args, p["entries"], dirs, plan.drop.get(n, set())))
    logf.flush()
    with multiprocessing.Pool(args.jobs) as pool:
        for i, _ in enumerate(pool.imap_unordered(build_one, build_jobs), 1):
            if i % 50 == 0:
                print(f"convert: {i}/{len(build_jobs)} RPMs", flush=True)
    if args.only:
        logf.close()
        print(f"convert: {len(build_jobs)} RPMs ({', '.join(args.only)})")
        return
    tftp_files = build_tftpboot(boot, debs_of, work, rpmdir)

    files = sum(len(p["entries"]) - len(plan.drop.get(n, ())) for n, p in pkgs.items())
    installed = sum(e[5] for n, p in pkgs.items() for e in p["entries"]
                    if e[1] == "file" and e[0] not in plan.drop.get(n, ()))
    rpm_bytes = sum(os.path.getsize(os.path.join(rpmdir, f)) for f in os.listdir(rpmdir))
    dropped = sum(len(v) for v in plan.drop.values())
    with open(os.path.join(args.out, "packages.txt"), "w") as f:
        f.writelines(n + "\n" for n in sorted(top))
    with open(os.path.join(args.out, "corpus.toml"), "w") as f:
        f.write(PROFILE.format(count=len(pkgs), repo=os.path.join(args.out, "repo"), epoch=SOURCE_DATE_EPOCH,
                               install="\n".join(f'  "{n}",' for n in sorted(top))))
    logf.close()
    print(f"convert: {len(pkgs)} packages ({len(top)} in the install list) + syslinux-tftpboot "
          f"({tftp_files} files); {files} entries, {installed / 2**20:.0f} MiB of regular files; "
          f"RPMs {rpm_bytes / 2**20:.0f} MiB ({PAYLOAD}); {dropped} paths dropped as shared "
          f"(see {os.path.join(args.out, 'convert.log')})")


if __name__ == "__main__":
    main()
