"""The browser app's front-end files, installed once so that the app needs no network at run time.

A Solara page loads its JavaScript and CSS (the Vuetify app, require.js, Font Awesome) from
``/_solara/cdn/...``. The Solara server answers these from a cache folder,
``<venv>/share/solara/cdn/``, and fills that cache from a public CDN the first time a file is
asked for. On a machine without that network (a CI runner, a classroom behind a firewall) the
page then stays blank.

``python -m crowdsim.viz.assets`` fills the cache beforehand from the npm registry with the
ordinary ``npm pack``, with exactly the package versions the installed Solara asks for (read from
its page template). The ``solara-assets`` package on PyPI does the same job but lags behind Solara
releases, so its versions would not match.

    python -m crowdsim.viz.assets           # install what is missing (needs npm)
    python -m crowdsim.viz.assets --check   # list what is missing; exit status 1 if anything is
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

_CDN_REF = re.compile(r"\{\{\s*cdn\s*\}\}/((?:@[\w.-]+/)?[\w.-]+)@(\d[\w.+-]*)/")


def cache_dir() -> Path:
    """The folder the Solara server serves ``/_solara/cdn/`` from."""
    from solara.server import settings

    return Path(settings.assets.proxy_cache_dir)


def required_packages() -> list[tuple[str, str]]:
    """(npm package, exact version) pairs the installed Solara's page loads from its CDN."""
    import ipyvue
    import solara.server
    from solara.server import settings

    template = (Path(solara.server.__file__).parent / "templates" / "solara.html.j2").read_text()
    vue3 = ipyvue.__version__.startswith("3")  # as solara.server.server decides
    app = "@widgetti/solara-vuetify3-app" if vue3 else "@widgetti/solara-vuetify-app"
    found = dict.fromkeys(_CDN_REF.findall(template))
    packages = [
        (name, version)
        for name, version in found
        if not name.startswith("@widgetti/solara-vuetify") or name == app
    ]
    if settings.assets.fontawesome_enabled:
        m = re.match(r"/?((?:@[\w.-]+/)?[\w.-]+)@(\d[\w.+-]*)/", settings.assets.fontawesome_path)
        if m:
            packages.append((m.group(1), m.group(2)))
    return list(dict.fromkeys(packages))


def missing_packages(directory: Path | None = None) -> list[tuple[str, str]]:
    directory = cache_dir() if directory is None else directory
    return [
        (n, v)
        for n, v in required_packages()
        if not (directory / f"{n}@{v}" / "package.json").exists()
    ]


def npm_pack(name: str, version: str, directory: Path) -> Path:
    """Unpack ``name@version`` from the npm registry into ``directory/name@version``."""
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError(
            "npm is not installed: install Node.js (Debian: apt-get install npm), or let the Solara server "
            "fetch the files from its CDN the first time the app is opened"
        )
    target = directory / f"{name}@{version}"
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run(
            [npm, "pack", f"{name}@{version}", "--silent"], cwd=tmp, capture_output=True, text=True
        )
        if out.returncode != 0:
            raise RuntimeError(f"npm pack {name}@{version} failed: {out.stderr.strip()[-500:]}")
        tgz = next(Path(tmp).glob("*.tgz"))
        with tarfile.open(tgz) as tar:
            tar.extractall(tmp, filter="data")
        if target.exists():
            shutil.rmtree(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(Path(tmp) / "package"), str(target))
    return target


def install(directory: Path | None = None, quiet: bool = False) -> list[tuple[str, str]]:
    """Install the missing packages; return what was installed."""
    directory = cache_dir() if directory is None else directory
    todo = missing_packages(directory)
    for name, version in todo:
        if not quiet:
            print(f"installing {name}@{version} into {directory}", flush=True)
        npm_pack(name, version, directory)
    return todo


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m crowdsim.viz.assets", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--check", action="store_true", help="only list missing packages (exit status 1 if any)"
    )
    args = parser.parse_args(argv)
    if args.check:
        missing = missing_packages()
        for name, version in missing:
            print(f"missing: {name}@{version}")
        raise SystemExit(1 if missing else 0)
    try:
        done = install()
    except RuntimeError as exc:
        print(f"crowdsim.viz.assets: error: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    print(
        f"front-end files in {cache_dir()}: {'installed ' + str(len(done)) if done else 'all present'}"
    )


if __name__ == "__main__":
    main()
