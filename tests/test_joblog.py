"""The progress line of an experiment's runs and the log file of their details
(crowdsim.sweeps.joblog): on a terminal one line rewritten in place, elsewhere plain lines;
what the runs print goes to the log, not the terminal."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import time

from crowdsim.sweeps import joblog


def _finish(run_dirs, pause: float) -> None:
    for i, d in enumerate(run_dirs):
        d.mkdir(parents=True)
        (d / ("FAILED.json" if i == 0 else "DONE.json")).write_text("{}")
        time.sleep(pause)


def test_plain_lines_elsewhere_and_details_in_the_log(tmp_path):
    dirs = [tmp_path / "runs" / f"seed_{k}" for k in range(4)]
    read, write = os.pipe()
    stream = os.fdopen(write, "w")
    log = tmp_path / "compare.log"
    with joblog.runs_logged(
        log, dirs, "crowdsim-compare", stream=stream, every_plain=0.0, tick=0.05
    ):
        print("[job 0: to_min_pay seed=0 (status_quo until day 42)] done")
        subprocess.run([sys.executable, "-c", "print('from a job process')"], check=True)
        _finish(dirs, 0.15)
    stream.close()
    shown = os.fdopen(read).read()
    assert "\r" not in shown
    lines = shown.splitlines()
    assert lines[-1].startswith("[crowdsim-compare] 4/4 runs done, 1 failed (")
    assert any(line.startswith("[crowdsim-compare] 2/4 runs done") for line in lines)
    assert "from a job process" not in shown and "to_min_pay" not in shown
    text = log.read_text()
    assert "to_min_pay seed=0" in text and "from a job process" in text
    print("after: back on the real stdout")  # the descriptors are restored


def test_one_line_rewritten_on_a_terminal(tmp_path):
    dirs = [tmp_path / "runs" / f"seed_{k}" for k in range(3)]
    main, secondary = pty.openpty()
    stream = os.fdopen(secondary, "w")
    with joblog.runs_logged(
        tmp_path / "compare.log", dirs, "crowdsim-compare", stream=stream, tick=0.05
    ):
        _finish(dirs, 0.15)
    stream.close()
    out = b""
    while True:
        try:
            chunk = os.read(main, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    os.close(main)
    text = out.decode().replace("\r\n", "\n")  # the terminal's own line ends
    assert text.count("\n") == 1 and text.endswith("\n")  # one line
    assert text.count("\r") >= 3 and "\x1b[K" in text  # rewritten in place
    assert "[crowdsim-compare] 3/3 runs done, 1 failed" in text.rsplit("\r", 1)[-1]
