"""Property: any command line drawn from the config schema either runs or is refused with exactly
one line naming the option, no traceback and nothing written.

Drawn: valid values, values out of range, NaN and infinities, wrong types, misspelt keys, keys
with `+`, and `_target_` keys. Most examples go through the command's own check in-process
(:func:`crowdsim.cli.command.check_command_line`, what ``crowdsim`` runs before Hydra starts); a few run
the real command in a subprocess on a tiny market.
"""

import math
import os
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crowdsim.cli.command import check_command_line
from crowdsim.config import ConfigError, option_names, schema

OPTIONS = [o for o in schema() if o.name not in ("scenario_name", "description")]
NUMBERS = [o for o in OPTIONS if o.type in (int, float) or str(o.type) == "float | None"]
TINY = ["population.n_workers=40", "sim.days=1"]


def _bounds(o):
    m = o.meta
    low = m["ge"] if m["ge"] is not None else m["gt"]
    high = m["le"] if m["le"] is not None else m["lt"]
    return low, high


@st.composite
def valid(draw):
    o = draw(st.sampled_from(OPTIONS))
    tp = o.type
    if o.meta["choices"] and tp is str:
        return o.name, f"{o.name}={draw(st.sampled_from(o.meta['choices']))}", "valid"
    if tp is bool:
        return o.name, f"{o.name}={draw(st.sampled_from(['true', 'false']))}", "valid"
    if tp in (int, float) or str(tp) == "float | None":
        low, high = _bounds(o)
        low = 0 if low is None else low
        high = (low + 10) if high is None else high
        if tp is int:
            value = draw(st.integers(int(math.ceil(low)), int(min(high, low + 10))))
        else:
            value = draw(st.floats(float(low), float(high), allow_nan=False))
            if o.meta["gt"] is not None and value <= o.meta["gt"]:
                value = float(high)
        return o.name, f"{o.name}={value!r}", "valid"
    return o.name, f"{o.name}=x", "any"  # a free text, list or mapping: either outcome


@st.composite
def out_of_range(draw):
    o = draw(st.sampled_from([o for o in NUMBERS if any(_bounds(o))]))
    low, high = _bounds(o)
    sides = [s for s, b in (("low", low), ("high", high)) if b is not None]
    side = draw(st.sampled_from(sides))
    step = draw(st.sampled_from([1, 10, 1e6]))
    value = low - step if side == "low" else high + step
    if o.type is int:
        value = int(value)
    return o.name, f"{o.name}={value!r}", "bad"


@st.composite
def not_finite(draw):
    o = draw(st.sampled_from([o for o in NUMBERS if o.type is not int]))
    return o.name, f"{o.name}={draw(st.sampled_from(['nan', 'inf', '-inf']))}", "bad"


@st.composite
def wrong_type(draw):
    o = draw(st.sampled_from([o for o in OPTIONS if o.type is not str]))
    text = draw(st.sampled_from(["abc", "[1,2]", "{a: 1}"]))
    if o.type in (list[str], list[float]) and text == "[1,2]":
        text = "{a: 1}"
    if o.type is int and text == "abc":
        text = "1.5"
    return o.name, f"{o.name}={text}", "bad"


@st.composite
def misspelt(draw):
    o = draw(st.sampled_from(OPTIONS))
    name = o.name
    i = draw(st.integers(0, len(name) - 1))
    kind = draw(st.sampled_from(["drop", "double", "swap"]))
    if kind == "drop":
        typo = name[:i] + name[i + 1 :]
    elif kind == "double":
        typo = name[:i] + name[i] + name[i:]
    else:
        typo = name[:i] + name[i + 1 : i + 2] + name[i : i + 1] + name[i + 2 :]
    if typo in option_names() or "." not in typo.strip(".") and typo.strip(".") == "":
        typo = name + "x"
    prefix = draw(st.sampled_from(["", "+", "++"]))
    return typo, f"{prefix}{typo}=1", "misspelt"


@st.composite
def target(draw):
    o = draw(st.sampled_from(OPTIONS))
    section = o.name.rsplit(".", 1)[0] if "." in o.name else ""
    where = draw(
        st.sampled_from(
            [f"{section}._target_" if section else "_target_", "hydra.callbacks.x._target_"]
        )
    )
    func = draw(st.sampled_from(["os.system", "builtins.open", "pandas.read_pickle"]))
    return where, f"+{where}={func}", "bad"


LINES = st.one_of(valid(), out_of_range(), not_finite(), wrong_type(), misspelt(), target())


def _check(option, override, kind):
    try:
        check_command_line([*TINY, override])
    except ConfigError as exc:
        message = str(exc)
        assert "\n" not in message and "Traceback" not in message
        if kind != "valid" and kind != "any":
            assert f"'{option}" in message or option in message, (override, message)
        else:  # a valid value may break a cross-field rule: the message names an option
            assert "option '" in message, (override, message)
        return "refused"
    assert kind in ("valid", "any"), f"{override} was accepted"
    return "accepted"


@settings(
    max_examples=40,  # each composes and validates a config: keep the default suite short
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(LINES)
def test_every_drawn_command_line_runs_or_is_refused_in_one_line(line):
    _check(*line)


@pytest.mark.parametrize(
    ("override", "accepted"),
    [
        ("platform.commission=0.3", True),
        ("platform.min_pay_usd_per_hour=nan", False),
        ("+platform.comission=0.5", False),
        ("+hydra.callbacks.x._target_=os.system", False),
    ],
)
def test_a_few_real_commands_on_tiny_markets(tmp_path, override, accepted):
    out = tmp_path / "RUN"
    p = subprocess.run(
        [
            sys.executable,
            "-c",
            "from crowdsim.sweeps.app import main; main()",
            *TINY,
            override,
            f"hydra.run.dir={out}",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ, HYDRA_FULL_ERROR="0"),
    )
    if accepted:
        assert p.returncode == 0, p.stderr
        assert (out / "DONE.json").is_file()
    else:
        assert p.returncode == 2
        lines = p.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in p.stderr
        key = override.lstrip("+").split("=")[0]
        assert key in lines[0]
        assert not out.exists() and list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------------ adversarial generators
# Configs an adversary writes: resolvers that create objects or read the environment, a
# _target_ hidden in an interpolation, Hydra keys outside crowdsim's allow-list (the job's
# environment, logging, callbacks, a launcher's commands), the same in scenario files, and
# planted symlinks, foreign files and concurrent starts in the output folder (tests/adversarial.py
# runs those with the real command: the payload never runs, no file outside the run changes).
RESOLVERS = ["oc.create", "oc.decode", "oc.env", "oc.select", "oc.dict.values", "python", "eval"]
PAYLOADS = [
    "{{_target_: os.makedirs, name: {p}}}",
    "'{{_target_: builtins.open, file: {p}, mode: w}}'",
    "SECRET",
    "SECRET,${{oc.env:HOME}}",
]
STR_OPTIONS = [
    "description",
    "scenario_name",
    "hydra.run.dir",
    "hydra.sweep.subdir",
    "+hydra.callbacks.x",
]


@st.composite
def resolver_value(draw):
    name = draw(st.sampled_from(RESOLVERS))
    payload = draw(st.sampled_from(PAYLOADS)).format(p="/tmp/crowdsim-never-created")
    space = draw(st.sampled_from(["", " "]))
    key = draw(st.sampled_from(STR_OPTIONS))
    inner = f"${{{space}{name}{space}:{payload}}}"
    if draw(st.booleans()):  # nested inside an allowed interpolation or text
        inner = f"x_{inner}_${{now:%Y}}"
    quote = draw(st.sampled_from(["'", '"', ""]))
    return key.lstrip("+"), f"{key}={quote}{inner}{quote}", "bad"


HYDRA_REFUSED = [
    "hydra.job.env_set.PATH", "hydra.job.env_set.HOME", "hydra.job.env_set.LD_PRELOAD",
    "hydra.job.env_copy", "hydra.job_logging.handlers.file.filename",
    "hydra.job_logging.handlers.file.mode", "hydra.hydra_logging.root.level",
    "hydra.callbacks.x._target_", "hydra.callbacks.sweep_results._target_",
    "hydra.launcher._target_", "hydra.launcher.setup", "hydra.launcher.submitit_folder",
    "hydra.launcher.temp_folder", "hydra.output_subdir", "hydra.job.name", "hydra.mode",
    "hydra.runtime.output_dir", "hydra.sweeper._target_", "hydra/job_logging", "hydra/hydra_logging",
    "hydra/sweeper", "hydra.job.config.override_dirname.exclude_keys",
]  # fmt: skip


@st.composite
def hydra_key(draw):
    key = draw(st.sampled_from(HYDRA_REFUSED))
    prefix = draw(st.sampled_from(["", "+", "++"]))
    value = draw(st.sampled_from(["/tmp/crowdsim-x", "os.system", "[touch,/tmp/crowdsim-x]", "w"]))
    return key, f"{prefix}{key}={value}", "bad"


@st.composite
def hydra_allowed(draw):
    line = draw(
        st.sampled_from(
            [
                "hydra.verbose=true",
                "hydra.job.chdir=false",
                "hydra.run.dir=/tmp/crowdsim-prop/${now:%H-%M-%S}",
                "hydra/launcher=cores",
                "hydra.sweeper.max_batch_size=2",
            ]
        )
    )
    return line.split("=")[0], line, "valid"


ADVERSARIAL = st.one_of(resolver_value(), hydra_key(), hydra_allowed())


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(ADVERSARIAL)
def test_adversarial_command_lines_run_or_are_refused_in_one_line(line):
    option, override, kind = line
    try:
        check_command_line([*TINY, override])
    except ConfigError as exc:
        message = str(exc)
        assert "\n" not in message and "Traceback" not in message
        assert kind == "bad", (override, message)
        # names the key, or the whole override when Hydra's parser cannot read it
        assert option in message or "'command line'" in message, (override, message)
        return
    assert kind == "valid", f"{override} was accepted"


SCENARIO_KEYS = [
    "hydra:\n  run:\n    dir: /tmp/crowdsim-x\n",
    "hydra:\n  job:\n    env_set:\n      HOME: /tmp/crowdsim-x\n",
    "hydra:\n  job_logging:\n    handlers:\n      file:\n        filename: /tmp/crowdsim-x\n",
    "hydra:\n  callbacks:\n    x:\n      _target_: os.system\n",
    "hydra:\n  sweeper:\n    params:\n      seed: 0,1\n",
    "description: ${oc.env:SECRET}\n",
    "description: '${oc.create:{_target_: os.makedirs, name: /tmp/crowdsim-x}}'\n",
    "defaults:\n  - override /hydra/job_logging: disabled\n",
    "defaults:\n  - /scenario: evil\n",
    "a: &a [1, 1]\nb: &b [*a, *a]\n",  # an unknown key, with aliases: refused either way
]


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(SCENARIO_KEYS), st.sampled_from(["scenario", "reform", "population"]))
def test_group_files_with_hydra_keys_or_resolvers_are_refused_naming_the_file(body, group):
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        d = os.path.join(tmp, group)
        os.makedirs(d)
        header = "# @package _global_\n" if group == "scenario" else ""
        with open(os.path.join(d, "evil.yaml"), "w") as fh:
            fh.write(header + body)
        extra = ["sim.reform_day=0"] if group == "reform" else []
        with pytest.raises(ConfigError) as err:
            check_command_line(["--config-dir", tmp, f"{group}=evil", *TINY, *extra])
        message = str(err.value)
        assert "\n" not in message and "evil.yaml" in message, message
        assert not os.path.exists("/tmp/crowdsim-x")


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(
        ["crowdsim.log", ".hydra", ".hydra/config.yaml", "summary.json", "config.yaml",
         "DONE.json", ".crowdsim-owner", "0", "notes.txt"]
    ),
    st.sampled_from(["link", "file", "dir"]),
    st.booleans(),
)  # fmt: skip
def test_planted_files_and_links_in_the_output_folder_change_nothing_outside(name, kind, sweep):
    import tempfile
    from pathlib import Path

    from adversarial import Case, planted, run_case

    what = {"link": "{victim}", "file": "planted", "dir": "inside"}[kind]
    argv = ["-m", "seed=0", "hydra.sweep.dir={run}"] if sweep else ["hydra.run.dir={run}"]
    case = Case(
        "property", f"{kind} {name}", argv, planted((kind, f"RUN/{name}", what)), multirun=sweep
    )
    with tempfile.TemporaryDirectory() as tmp:
        out = run_case(case, Path(tmp) / "case")
    assert out.handled, (name, kind, sweep, out)
