#!/usr/bin/python3
"""recipes/dnf-resolve.py with a kept cache: what dnf does on a warm run (its .solv files
reused, metadata never expired), for bench/run's warm lock rows.
usage: dnf-resolve-cached.py CACHEDIR REPO_URL[,REPO_URL...] PKGSPEC...
prints one `name-E:V-R.arch  repoid  location` line per package (exit 1 on failure)."""
import sys, tempfile, dnf, dnf.exceptions
cachedir, urls, specs = sys.argv[1], sys.argv[2].split(','), sys.argv[3:]
root = tempfile.mkdtemp(prefix='dnf-oracle-')
base = dnf.Base()
c = base.conf
c.installroot = root; c.cachedir = cachedir; c.reposdir = []
c.install_weak_deps = False; c.gpgcheck = False; c.metadata_expire = -1
c.substitutions['releasever'] = '9'; c.substitutions['basearch'] = 'x86_64'; c.substitutions['arch'] = 'x86_64'
for i, u in enumerate(urls):
    base.repos.add_new_repo(f'r{i}', c, baseurl=[u], gpgcheck=False, metadata_expire=-1)
base.fill_sack(load_system_repo=False)
try:
    for s in specs: base.install(s)
    base.resolve()
except dnf.exceptions.Error as e:
    print('UNSOLVABLE:', e); sys.exit(1)
for p in sorted(base.transaction.install_set, key=str):
    print(f'{p.name}-{p.epoch}:{p.version}-{p.release}.{p.arch}  {p.reponame}  {p.location}')
