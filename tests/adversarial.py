"""An adversarial probe of the ``crowdsim`` command: configs that try to run code, change files
outside their run, leak the environment into results, exhaust memory or hang.

Each :class:`Case` plants what it needs in a fresh folder (a user config dir, files and symbolic
links in the output folder, a victim file outside it, a fake ``git`` on a PATH it sets), runs the
real command in a subprocess with a secret in its environment, and is *handled* when:

- the command exits 0, or is refused with exactly one line on stderr and exit status 2 (no
  traceback, no hang: a time limit);
- no payload ran: the file the payload would create does not exist;
- no file outside the run's folder changed (SHA-256 of every file under the case's folder,
  except the run's, before and after; the victim files are among them);
- the secret is in no file the run wrote.

``python tests/adversarial.py`` runs every case and prints one line each and the totals (cases
tried / handled); ``tests/test_adversarial.py`` runs one case of each category of the probe.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

SECRET = "s3cret-token-4f1c"
TINY = ["population.n_workers=40", "sim.days=1"]
CLI = [sys.executable, "-c", "from crowdsim.sweeps.app import main; main()"]
GLOBAL = "# @package _global_\n"


@dataclass
class Case:
    """One attack: ``argv`` (with ``{root}``, ``{run}``, ``{payload}``, ``{conf}``, ``{victim}``
    filled in), what ``setup(root)`` plants first, and its category (the issue's numbering)."""

    category: str
    name: str
    argv: list[str]
    setup: Callable[[Path], None] | None = None
    env: dict[str, str] = field(default_factory=dict)
    multirun: bool = False
    concurrent: list[str] | None = None  # a second command started at the same moment
    timeout: float = 240.0


def _paths(root: Path) -> dict[str, str]:
    return {
        "root": str(root),
        "run": str(root / "RUN"),
        "payload": str(root / "PAYLOAD"),
        "conf": str(root / "conf"),
        "victim": str(root / "outside" / "victim.txt"),
        "outside": str(root / "outside"),
    }


def _fill(args: list[str], root: Path) -> list[str]:
    p = _paths(root)
    return [a.format(**p) for a in args]


def scenario(name: str, body: str) -> Callable[[Path], None]:
    """Plant ``conf/scenario/NAME.yaml`` (with ``{payload}`` etc. filled in)."""

    def setup(root: Path) -> None:
        d = root / "conf" / "scenario"
        d.mkdir(parents=True, exist_ok=True)
        (d / f"{name}.yaml").write_text(body.format(**_paths(root)))

    return setup


def planted(*items: tuple[str, str, str]) -> Callable[[Path], None]:
    """Plant files, folders and symbolic links: (kind, path under root, content or target)."""

    def setup(root: Path) -> None:
        for kind, rel, what in items:
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            if kind == "file":
                path.write_text(what)
            elif kind == "dir":
                (path / what).mkdir(parents=True, exist_ok=True) if what else path.mkdir()
            elif kind == "link":
                os.symlink(what.format(**_paths(root)), path)

    return setup


def fake_git(root: Path) -> None:
    """An attacker's ``git`` first on a PATH, which would create the payload file."""
    bin_dir = root / "evil_bin"
    bin_dir.mkdir()
    git = bin_dir / "git"
    git.write_text(f'#!/bin/sh\ntouch {root / "PAYLOAD"}\nexec /usr/bin/git "$@"\n')
    git.chmod(0o755)


def evil_gitconfig(root: Path) -> None:
    """A HOME whose .gitconfig runs the payload through core.fsmonitor (and a pager, hooks)."""
    home = root / "evil_home"
    home.mkdir()
    (home / ".gitconfig").write_text(
        f"[core]\n\tfsmonitor = touch {root / 'PAYLOAD'}\n\tpager = touch {root / 'PAYLOAD'}\n"
    )


def _bomb(levels: int = 9) -> str:
    lines = ["# @package _global_", 'a0: &a0 ["x","x","x","x","x","x","x","x","x"]']
    for i in range(1, levels):
        prev = f"*a{i - 1}"
        lines.append(f"a{i}: &a{i} [{', '.join([prev] * 9)}]")
    lines.append(f"description: {{b: *a{levels - 1}}}")
    return "\n".join(lines) + "\n"


def _run_once(root: Path, argv: list[str]) -> None:
    """Run the command once (set-up of a case that attacks crowdsim's own folder)."""
    subprocess.run(
        [*CLI, *TINY, *_fill(argv, root)], cwd=root, capture_output=True, check=True, timeout=240
    )


def _victim(root: Path) -> None:
    out = root / "outside"
    out.mkdir(exist_ok=True)
    (out / "victim.txt").write_text("the user's own file\n")
    (out / "summary.json").write_text('{"theirs": true}\n')


OPEN_PAYLOAD = "{{_target_: builtins.open, file: {payload}, mode: w}}"
MAKEDIRS = "{{_target_: os.makedirs, name: {payload}}}"
RUN_DIR = "hydra.run.dir={run}"
SWEEP_DIR = "hydra.sweep.dir={run}"

CASES: list[Case] = [
    # 1. interpolation hides _target_ -----------------------------------------------------------
    Case("1 interpolated _target_", "oc.create callback",
         ["+hydra.callbacks.x=${{oc.create:" + MAKEDIRS + "}}", RUN_DIR]),
    Case("1 interpolated _target_", "oc.create callback, quoted",
         ["+hydra.callbacks.x='${{oc.create:" + MAKEDIRS + "}}'", RUN_DIR]),
    Case("1 interpolated _target_", "oc.decode callback",
         ["+hydra.callbacks.x=\"${{oc.decode:'" + OPEN_PAYLOAD + "'}}\"", RUN_DIR]),
    Case("1 interpolated _target_", "site.addsitedir through oc.create",
         ["+hydra.callbacks.x='${{oc.create:{{_target_: site.addsitedir, sitedir: {root}}}}}'",
          RUN_DIR]),
    Case("1 interpolated _target_", "shutil.copyfile over the victim",
         ["+hydra.callbacks.x='${{oc.create:{{_target_: shutil.copyfile, src: /etc/hostname, "
          "dst: {victim}}}}}'", RUN_DIR]),
    Case("1 interpolated _target_", "oc.create in a crowdsim option",
         ["description='${{oc.create:" + MAKEDIRS + "}}'", RUN_DIR]),
    Case("1 interpolated _target_", "oc.create in a scenario file",
         ["--config-dir", "{conf}", "scenario=evil", RUN_DIR],
         scenario("evil", GLOBAL + "scenario_name: evil\ndescription: '${{oc.create:"
                  + MAKEDIRS + "}}'\n")),
    Case("1 interpolated _target_", "a node reference to the launcher as a callback",
         ["+hydra.callbacks.x=${{hydra.launcher}}", RUN_DIR]),
    Case("1 interpolated _target_", "a resolver in a key",
         ["+platform.${{oc.env:HOME}}=1", RUN_DIR]),
    Case("1 interpolated _target_", "oc.create in the run folder",
         ["hydra.run.dir={run}/${{oc.create:" + MAKEDIRS + "}}"]),
    Case("1 interpolated _target_", "oc.create in a sweep's subdir",
         ["-m", "seed=0,1", SWEEP_DIR, "hydra.sweep.subdir='${{oc.create:" + MAKEDIRS + "}}'"],
         multirun=True),
    Case("1 interpolated _target_", "oc.create in an experiment file's sweep",
         ["-m", "--config-dir", "{conf}", "+experiment=evil", SWEEP_DIR],
         lambda r: (r / "conf" / "experiment").mkdir(parents=True) or (
             r / "conf" / "experiment" / "evil.yaml").write_text(
             GLOBAL + "hydra:\n  sweeper:\n    params:\n      description: "
             "\"'${oc.create:{_target_: os.makedirs, name: " + str(r / "PAYLOAD") + "}}'\"\n"),
         multirun=True),
    # 2. the job's environment --------------------------------------------------------------
    Case("2 environment", "env_set PATH to an attacker's git",
         ["+hydra.job.env_set.PATH={root}/evil_bin:/usr/bin:/bin", RUN_DIR], fake_git),
    Case("2 environment", "env_set HOME to an attacker's .gitconfig",
         ["+hydra.job.env_set.HOME={root}/evil_home", RUN_DIR], evil_gitconfig),
    Case("2 environment", "env_copy",
         ["hydra.job.env_copy=[SECRET]", RUN_DIR]),
    Case("2 environment", "env_set in a scenario file",
         ["--config-dir", "{conf}", "scenario=evil", RUN_DIR],
         scenario("evil", GLOBAL + "scenario_name: evil\nhydra:\n  job:\n    env_set:\n"
                  "      HOME: {root}/evil_home\n")),
    Case("2 environment", "an inherited PATH with an attacker's git",
         ["description=plain", RUN_DIR], fake_git, env={"PATH": "{root}/evil_bin:/usr/bin:/bin"}),
    Case("2 environment", "an inherited HOME with an fsmonitor .gitconfig",
         ["description=plain", RUN_DIR], evil_gitconfig, env={"HOME": "{root}/evil_home"}),
    Case("2 environment", "an inherited GIT_CONFIG_GLOBAL",
         ["description=plain", RUN_DIR], evil_gitconfig,
         env={"GIT_CONFIG_GLOBAL": "{root}/evil_home/.gitconfig"}),
    Case("2 environment", "LD_PRELOAD through env_set",
         ["+hydra.job.env_set.LD_PRELOAD={root}/x.so", RUN_DIR]),
    # 3. logging writes anywhere ------------------------------------------------------------
    Case("3 logging", "job log file onto the victim, mode w",
         ["hydra.job_logging.handlers.file.filename={victim}",
          "+hydra.job_logging.handlers.file.mode=w", RUN_DIR]),
    Case("3 logging", "hydra_logging handler",
         ["+hydra.hydra_logging.handlers.f={{class: logging.FileHandler, filename: {victim}}}",
          RUN_DIR]),
    Case("3 logging", "job_logging=disabled choice",
         ["hydra/job_logging=disabled", RUN_DIR]),
    Case("3 logging", "a logging factory",
         ["+hydra.job_logging.filters.f.()=os.system", RUN_DIR]),
    Case("3 logging", "job_logging in a scenario file",
         ["--config-dir", "{conf}", "scenario=evil", RUN_DIR],
         scenario("evil", GLOBAL + "scenario_name: evil\nhydra:\n  job_logging:\n    handlers:\n"
                  "      file:\n        filename: {victim}\n")),
    Case("3 logging", "hydra/job_logging in a scenario file's defaults",
         ["--config-dir", "{conf}", "scenario=evil", RUN_DIR],
         scenario("evil", GLOBAL + "defaults:\n  - override /hydra/job_logging: disabled\n"
                  "scenario_name: evil\n")),
    Case("3 logging", "hydra.output_subdir outside",
         ["hydra.output_subdir={outside}", RUN_DIR]),
    # 4. files crowdsim did not write ------------------------------------------------------
    Case("4 foreign files", "a run into a folder with someone's summary.json",
         [RUN_DIR], planted(("file", "RUN/summary.json", '{"theirs": 1}'))),
    Case("4 foreign files", "a run into a folder with someone's config.yaml",
         [RUN_DIR], planted(("file", "RUN/config.yaml", "theirs: 1\n"))),
    Case("4 foreign files", "a failing run into a folder with someone's files",
         ["population.n_workers=40", "sim.days=1", "workers.skill_mean=0", RUN_DIR],
         planted(("file", "RUN/summary.json", '{"theirs": 1}'))),
    Case("4 foreign files", "a folder named DONE.json",
         [RUN_DIR], planted(("file", "RUN/DONE.json/precious.txt", "keep me"))),
    Case("4 foreign files", "symlink .hydra/config.yaml -> victim",
         [RUN_DIR], planted(("link", "RUN/.hydra/config.yaml", "{victim}"))),
    Case("4 foreign files", "symlink crowdsim.log -> victim",
         [RUN_DIR], planted(("link", "RUN/crowdsim.log", "{victim}"))),
    Case("4 foreign files", "symlink .hydra -> outside",
         [RUN_DIR], planted(("link", "RUN/.hydra", "{outside}"))),
    Case("4 foreign files", "the run folder itself a symlink -> outside",
         [RUN_DIR], planted(("link", "RUN", "{outside}"))),
    Case("4 foreign files", "symlink summary.json -> victim",
         [RUN_DIR], planted(("link", "RUN/summary.json", "{victim}"))),
    Case("4 foreign files", "a sweep into a folder with someone's files",
         ["-m", "seed=0,1", SWEEP_DIR], planted(("file", "RUN/notes.txt", "mine")),
         multirun=True),
    Case("4 foreign files", "a sweep whose job folder is a symlink",
         ["-m", "seed=0,1", SWEEP_DIR], planted(("link", "RUN/0", "{outside}")), multirun=True),
    Case("4 foreign files", "a forged owner mark that is a symlink",
         [RUN_DIR], planted(("link", "RUN/.crowdsim-owner", "{victim}"))),
    Case("4 foreign files", "a run into a comparison's folder",
         [RUN_DIR], planted(("file", "RUN/.crowdsim-owner", '{"kind": "compare"}'))),
    Case(
        "4 foreign files",
        "symlink crowdsim.log planted in the run's own folder",
        [RUN_DIR, "seed=1"],
        lambda r: (_run_once(r, ["hydra.run.dir={run}"]),
                   (r / "RUN" / "crowdsim.log").unlink(),
                   os.symlink(r / "outside" / "victim.txt", r / "RUN" / "crowdsim.log")),
    ),
    Case(
        "4 foreign files",
        "symlink .hydra/config.yaml planted in a sweep's own job folder",
        ["-m", "seed=0,1", SWEEP_DIR],
        lambda r: (_run_once(r, ["-m", "seed=0,1", "hydra.sweep.dir={run}"]),
                   (r / "RUN" / "1" / ".hydra" / "config.yaml").unlink(),
                   os.symlink(r / "outside" / "victim.txt", r / "RUN" / "1" / ".hydra" / "config.yaml"),
                   (r / "RUN" / "1" / "DONE.json").unlink()),
        multirun=True,
    ),
    # 5. races ------------------------------------------------------------------------------
    Case("5 races", "two different sweeps at once into one folder",
         ["-m", "seed=0,1", SWEEP_DIR], multirun=True,
         concurrent=["-m", "seed=2,3", SWEEP_DIR]),
    Case("5 races", "two single runs at once into one folder",
         [RUN_DIR, "seed=1"], concurrent=[RUN_DIR, "seed=2"]),
    # 6. secrets ---------------------------------------------------------------------------
    Case("6 secrets", "oc.env in a scenario file's description",
         ["--config-dir", "{conf}", "scenario=evil", RUN_DIR],
         scenario("evil", GLOBAL + "scenario_name: evil\ndescription: ${{oc.env:SECRET}}\n")),
    Case("6 secrets", "oc.env on the command line",
         ["description=${{oc.env:SECRET}}", RUN_DIR]),
    Case("6 secrets", "oc.env with a default, nested",
         ["description='${{oc.env:SECRET,${{oc.env:HOME}}}}'", RUN_DIR]),
    Case("6 secrets", "oc.env in a reform file",
         ["--config-dir", "{conf}", "reform=evil", "sim.reform_day=0", RUN_DIR],
         lambda r: (r / "conf" / "reform").mkdir(parents=True) or (
             r / "conf" / "reform" / "evil.yaml").write_text(
             "name: ${oc.env:SECRET}\nrules: {}\n")),
    Case("6 secrets", "a plugin resolver",
         ["description=${{python:__import__('os').system('touch {payload}')}}", RUN_DIR]),
    # 7. a scenario file chooses where output goes ----------------------------------------
    Case("7 output folder", "hydra.run.dir in a scenario file",
         ["--config-dir", "{conf}", "scenario=evil"],
         scenario("evil", GLOBAL + "scenario_name: evil\nhydra:\n  run:\n    dir: {outside}\n")),
    Case("7 output folder", "hydra.sweep.dir in an experiment file",
         ["-m", "--config-dir", "{conf}", "+experiment=evil"],
         lambda r: (r / "conf" / "experiment").mkdir(parents=True) or (
             r / "conf" / "experiment" / "evil.yaml").write_text(
             GLOBAL + f"hydra:\n  sweep:\n    dir: {r / 'outside'}\n  sweeper:\n    params:\n"
             "      seed: 0,1\n"), multirun=True),
    Case("7 output folder", "hydra.searchpath with pkg://",
         ["hydra.searchpath=[pkg://os]", RUN_DIR]),
    Case("7 output folder", "a population file with hydra keys",
         ["--config-dir", "{conf}", "population=evil", RUN_DIR],
         lambda r: (r / "conf" / "population").mkdir(parents=True) or (
             r / "conf" / "population" / "evil.yaml").write_text(
             f"n_workers: 40\nhydra:\n  run:\n    dir: {r / 'outside'}\n")),
    Case("7 output folder", "scenario_name ../.. in a scenario file (names outputs/<scenario>/)",
         ["--config-dir", "{conf}", "scenario=evil"],
         scenario("evil", GLOBAL + "scenario_name: ../../outside/x\n")),
    Case("7 output folder", "hydra.sweep.subdir climbing out of the sweep",
         ["-m", "seed=0,1", SWEEP_DIR, "hydra.sweep.subdir=../outside/${{hydra.job.num}}"],
         multirun=True),
    Case("7 output folder", "--cfg job of a scenario file with a callback",
         ["--cfg", "job", "--config-dir", "{conf}", "scenario=evil"],
         scenario("evil", GLOBAL + "hydra:\n  callbacks:\n    x:\n      _target_: os.makedirs\n"
                  "      name: {payload}\n")),
    # 8. sizes ------------------------------------------------------------------------------
    Case("8 sizes", "market.max_task_minutes=1e-9", ["market.max_task_minutes=1e-9", RUN_DIR]),
    Case("8 sizes", "seed=range(0,1e9)", ["-m", "seed=range(0,1000000000)", SWEEP_DIR],
         multirun=True),
    Case("8 sizes", "two sweeps multiplying", ["-m", "seed=range(0,100000)",
         "platform.commission=range(0,1,0.00001)", SWEEP_DIR], multirun=True),
    Case("8 sizes", "population.n_workers=1e12", ["population.n_workers=1000000000000", RUN_DIR]),
    # 9. tracebacks and hangs ----------------------------------------------------------------
    Case("9 hangs", "a YAML alias bomb", ["--config-dir", "{conf}", "scenario=bomb", RUN_DIR],
         scenario("bomb", _bomb().replace("{", "{{").replace("}", "}}")), timeout=120),
    Case("9 hangs", "defaults including itself", ["--config-dir", "{conf}", "scenario=loop", RUN_DIR],
         scenario("loop", GLOBAL + "defaults:\n  - /scenario: loop\nscenario_name: loop\n")),
    Case("9 hangs", "two files including each other",
         ["--config-dir", "{conf}", "scenario=ping", RUN_DIR],
         lambda r: (scenario("ping", GLOBAL + "defaults:\n  - /scenario: pong\nscenario_name: p\n")(r),
                    scenario("pong", GLOBAL + "defaults:\n  - /scenario: ping\nscenario_name: q\n")(r))),
    Case("9 hangs", "nesting 200 levels", ["--config-dir", "{conf}", "scenario=deep", RUN_DIR],
         scenario("deep", GLOBAL + "description: " + "[" * 200 + "]" * 200 + "\n")),
    Case("9 hangs", "a 5 MB scenario file", ["--config-dir", "{conf}", "scenario=big", RUN_DIR],
         scenario("big", GLOBAL + "# " + "x" * 5_000_000 + "\nscenario_name: big\n")),
    Case("9 hangs", "workers.skill_mean=0", ["workers.skill_mean=0", RUN_DIR]),
    Case("9 hangs", "workers.skill_mean=1", ["workers.skill_mean=1", RUN_DIR]),
    Case("9 hangs", "a seed above int64", ["-m", "seed=9223372036854775808,1", SWEEP_DIR],
         multirun=True),
    Case("9 hangs", "a value that depends on env_set",
         ["+hydra.job.env_set.N=40", "population.n_workers=${{oc.env:N}}", RUN_DIR]),
    # launchers' options that run commands or read pickles ------------------------------------
    Case("launchers", "submitit setup commands",
         ["-m", "hydra/launcher=local_submitit", "+hydra.launcher.setup=[touch {payload}]",
          "seed=0", SWEEP_DIR], multirun=True),
    Case("launchers", "submitit_folder outside",
         ["-m", "hydra/launcher=local_submitit", "hydra.launcher.submitit_folder={outside}",
          "seed=0", SWEEP_DIR], multirun=True),
    Case("launchers", "joblib temp_folder",
         ["-m", "hydra/launcher=cores", "+hydra.launcher.temp_folder={outside}", "seed=0",
          SWEEP_DIR], multirun=True),
    Case("launchers", "a launcher's _target_",
         ["-m", "hydra.launcher._target_=os.system", "seed=0", SWEEP_DIR], multirun=True),
    Case("launchers", "a plugin launcher not shipped by crowdsim",
         ["-m", "hydra/launcher=basic", "seed=0", SWEEP_DIR], multirun=True),
    # accepted on purpose: what a user legitimately sets -----------------------------------
    Case("allowed", "a plain run", [RUN_DIR]),
    Case("allowed", "now and hydra resolvers in the folders",
         ["-m", "seed=0", "hydra.sweep.dir={run}/${{now:%Y}}",
          "hydra.sweep.subdir=${{hydra:runtime.choices.scenario}}_${{seed}}"], multirun=True),
    Case("allowed", "verbose and chdir", ["hydra.verbose=true", "hydra.job.chdir=false", RUN_DIR]),
    Case("allowed", "a reference to another option", ["description=${{scenario_name}}", RUN_DIR]),
    Case("allowed", "a run resumed into its own folder", [RUN_DIR],
         lambda r: _run_once(r, ["hydra.run.dir={run}"])),
]  # fmt: skip


@dataclass
class Outcome:
    handled: bool
    status: str  # "ran", "refused", or what went wrong
    detail: str


def _checksums(root: Path, skip: Path) -> dict[str, str]:
    out = {}
    for dirpath, dirs, files in os.walk(root, followlinks=False):
        here = Path(dirpath)
        if here == skip or skip in here.parents:
            dirs[:] = []
            continue
        for name in files:
            path = here / name
            if path == skip or path.is_symlink():
                out[str(path)] = "link:" + os.readlink(path) if path.is_symlink() else "skip"
                continue
            out[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
        for name in dirs:
            if (here / name).is_symlink():
                out[str(here / name)] = "link:" + os.readlink(here / name)
    return out


def _files_with(folder: Path, text: str) -> list[str]:
    found = []
    if folder.is_symlink() or not folder.is_dir():
        return found
    for dirpath, _dirs, files in os.walk(folder, followlinks=False):
        for name in files:
            path = Path(dirpath) / name
            if path.is_symlink():
                continue
            try:
                if text.encode() in path.read_bytes():
                    found.append(str(path))
            except OSError:
                pass
    return found


def _start(argv: list[str], root: Path, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [*CLI, *TINY, *argv], cwd=root, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def _judge(proc: subprocess.Popen, timeout: float) -> tuple[str, str]:
    try:
        _out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        return "hang", f"still running after {timeout:.0f} s"
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    if proc.returncode == 0:
        return "ran", ""
    if proc.returncode == 2 and len(lines) == 1 and "Traceback" not in err:
        return "refused", lines[0]
    return "bad exit", f"exit {proc.returncode}, {len(lines)} lines: {(lines or [''])[-1][:200]}"


def run_case(case: Case, root: Path) -> Outcome:
    """Run one case in the empty folder ``root`` (see the module doc for what *handled* means)."""
    root.mkdir(parents=True, exist_ok=True)
    _victim(root)
    if case.setup is not None:
        case.setup(root)
    run = root / "RUN"
    before = _checksums(root, run)
    run_before = _checksums(run, root / "-") if run.is_dir() and not run.is_symlink() else {}
    precious = run / "DONE.json" / "precious.txt"
    had_precious = precious.is_file()
    env = dict(os.environ, HYDRA_FULL_ERROR="0", SECRET=SECRET, NUMBA_NUM_THREADS="1")
    env.update({k: v.format(**_paths(root)) for k, v in case.env.items()})
    procs = [_start(_fill(case.argv, root), root, env)]
    if case.concurrent:
        procs.append(_start(_fill(case.concurrent, root), root, env))
    results = [_judge(p, case.timeout) for p in procs]
    after = _checksums(root, run)
    problems = []
    for status, detail in results:
        if status not in ("ran", "refused"):
            problems.append(f"{status}: {detail}")
    if case.concurrent and all(s == "ran" for s, _ in results) and case.multirun:
        problems.append("both concurrent sweeps were accepted")
    if (root / "PAYLOAD").exists():
        problems.append("the payload ran")
    changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    if changed:
        problems.append(f"changed outside the run's folder: {', '.join(changed[:3])}")
    leaked = _files_with(run, SECRET)
    if leaked:
        problems.append(f"the secret is in {', '.join(leaked[:2])}")
    if had_precious and not precious.is_file():
        problems.append("a folder named DONE.json was deleted")
    if all(s == "refused" for s, _ in results) and run_before:
        # refused: nothing in the run's folder changed either (someone's files there are intact)
        run_after = _checksums(run, root / "-") if run.is_dir() else {}
        changed = sorted(k for k in set(run_before) | set(run_after)
                         if run_before.get(k) != run_after.get(k))  # fmt: skip
        if changed:
            problems.append(f"a refused command changed {', '.join(changed[:3])}")
    status = "+".join(s for s, _ in results)
    detail = " | ".join(d for _, d in results if d)
    return Outcome(not problems, status, "; ".join(problems) or detail)


def main() -> int:
    import tempfile

    handled = 0
    by_category: dict[str, list[int]] = {}
    with tempfile.TemporaryDirectory(prefix="crowdsim-probe-") as tmp:
        for i, case in enumerate(CASES):
            t0 = time.perf_counter()
            out = run_case(case, Path(tmp) / f"case{i:02d}")
            handled += out.handled
            counts = by_category.setdefault(case.category, [0, 0])
            counts[0] += 1
            counts[1] += out.handled
            mark = "ok " if out.handled else "BAD"
            print(
                f"{mark} [{case.category}] {case.name}: {out.status} "
                f"({time.perf_counter() - t0:.1f} s) {out.detail[:240]}",
                flush=True,
            )
    for cat, (n, ok) in by_category.items():
        print(f"  {cat}: {ok}/{n} handled")
    print(f"cases tried: {len(CASES)}, handled: {handled}")
    return 0 if handled == len(CASES) else 1


if __name__ == "__main__":
    threading.current_thread().name = "probe"
    raise SystemExit(main())
