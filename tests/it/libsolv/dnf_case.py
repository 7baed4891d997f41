#!/usr/bin/python3
"""dnf as an oracle for small generated repositories (tests/it/libsolv/dnf.rs).

usage: dnf_case.py JSON   with JSON = {"repos": [{"id", "url", "priority"}], "specs": [...],
                                       "weak": bool, "arch": "x86_64"}
Prints `NEVRA@repoid` per installed package (NEVRA without a zero epoch), or `UNSOLVABLE: ...`
and exits 1. Like recipes/dnf-resolve.py (empty install root, no system repo), plus repository
priorities and install_weak_deps."""
import json, sys, tempfile, dnf, dnf.exceptions
a = json.loads(sys.argv[1])
root = tempfile.mkdtemp(prefix='dnf-case-')
base = dnf.Base()
c = base.conf
c.installroot = root; c.cachedir = root + '/cache'; c.reposdir = []
c.install_weak_deps = a['weak']; c.gpgcheck = False
c.substitutions['releasever'] = '9'; c.substitutions['basearch'] = a['arch']; c.substitutions['arch'] = a['arch']
for r in a['repos']:
    base.repos.add_new_repo(r['id'], c, baseurl=[r['url']], gpgcheck=False, priority=r['priority'])
base.fill_sack(load_system_repo=False)
try:
    for s in a['specs']:
        base.install(s)
    base.resolve()
except dnf.exceptions.Error as e:
    print('UNSOLVABLE:', str(e).replace('\n', ' ')); sys.exit(1)
for p in sorted(base.transaction.install_set, key=str):
    e = f'{p.epoch}:' if p.epoch else ''
    print(f'{p.name}-{e}{p.version}-{p.release}.{p.arch}@{p.reponame}')
