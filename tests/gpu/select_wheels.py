"""The wheels tests/gpu/check.sh installs: every one in .whl/, and one in .whl/fallback/ only where
the image's own copy does not satisfy a requirement. Prints their paths, one a line."""

import glob
import sys
import zipfile
from email.parser import Parser
from importlib import metadata

try:
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name
except ImportError:
    from pip._vendor.packaging.requirements import Requirement
    from pip._vendor.packaging.utils import canonicalize_name


def wheel(path):
    with zipfile.ZipFile(path) as z:
        name = next(n for n in z.namelist() if n.count("/") == 1 and n.endswith(".dist-info/METADATA"))
        meta = Parser().parsestr(z.read(name).decode())
    return canonicalize_name(meta["Name"]), (path, meta["Version"], meta.get_all("Requires-Dist") or [])


def image(name):
    try:
        dist = metadata.distribution(name)
        return dist.version, dist.requires or []
    except metadata.PackageNotFoundError:
        return None, []


chosen = dict(wheel(p) for p in sorted(glob.glob(".whl/*.whl")))
spare = dict(wheel(p) for p in sorted(glob.glob(".whl/fallback/*.whl")))
todo, seen, unmet = [(n, "") for n in chosen], set(), []
while todo:
    name, extra = todo.pop()
    if (name, extra) in seen:
        continue
    seen.add((name, extra))
    for line in chosen[name][2] if name in chosen else image(name)[1]:
        req = Requirement(line)
        if req.marker is not None and not req.marker.evaluate({"extra": extra}):
            continue
        dep = canonicalize_name(req.name)
        have = chosen[dep][1] if dep in chosen else image(dep)[0]
        if have is not None and req.specifier.contains(have, prereleases=True):
            todo += [(dep, e) for e in req.extras]
        elif dep in spare and req.specifier.contains(spare[dep][1], prereleases=True):
            chosen[dep] = spare[dep]
            print(f"fallback wheel {dep} {spare[dep][1]} (image: {have}) for {name}: {line}", file=sys.stderr)
            todo += [(dep, "")] + [(dep, e) for e in req.extras]
        else:
            unmet.append(f"{name} needs {line}; image has {have}")
for problem in unmet:
    print("UNMET (no wheel shipped):", problem, file=sys.stderr)
print("\n".join(path for path, _, _ in chosen.values()))
