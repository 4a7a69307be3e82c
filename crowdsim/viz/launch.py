"""``crowdsim-app``: start the browser app (a Solara server) on this machine.

    crowdsim-app                   # http://localhost:8765 (or a free port if 8765 is taken)
    crowdsim-app --port 9000       # a given port; --port 0 picks a free one
    crowdsim-app --no-open         # do not open a browser tab
    crowdsim-app --workers 2000    # start with 2,000 workers instead of 5,000
    crowdsim-app --days 7          # markets of 7 days instead of 28
    crowdsim-app --markets DIR     # save markets to DIR (default ./crowdsim-markets) and reload them

The server runs ``solara run crowdsim.viz.app:Page`` in production mode, bound to localhost
only, with Solara's usage telemetry and its version check against PyPI switched off: the app
needs no network beyond this machine.
"""

from __future__ import annotations

import os
import socket
import sys

APP = "crowdsim.viz.app:Page"
DEFAULT_PORT = 8765
# The sidebar's starting population and the run's length (crowdsim.viz.app reads them from here,
# so that --help states what the app does). 5,000 workers: after a week of the status quo the
# median all-in wage over seeds 0-4 ranged $1.18-2.40/h (at 1,000 workers $0.21-2.26/h; 20,000
# workers narrow it only to $1.13-1.95/h, as a few large requesters carry most of the work); a
# week takes about a second to simulate.
DEFAULT_WORKERS = 5000
MAX_WORKERS = 20_000  # the slider's top
DEFAULT_DAYS = 28


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now (the OS chooses it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def server_command(port: int, host: str = "localhost", open_browser: bool = True) -> list[str]:
    """The ``solara run`` command line that serves the app."""
    return [
        sys.executable,
        "-m",
        "solara",
        "run",
        APP,
        "--host",
        host,
        "--port",
        str(port),
        "--production",
        "--no-check-version",
        "--open" if open_browser else "--no-open",
        "--log-level",
        "warning",
    ]


def server_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for the server: no telemetry, no fetching assets from a CDN at run time."""
    env = dict(os.environ if base is None else base)
    env["SOLARA_TELEMETRY_MIXPANEL_ENABLE"] = "False"
    env["SOLARA_THEME_SHOW_BANNER"] = "False"  # Solara's corner banner covered a plot
    env["SOLARA_THEME_TITLE"] = "crowdsim"
    # crowdsim/templates/loader-crowdsim.*: Solara's loader plus a message shown in the page
    # when the front-end files are missing (the page would otherwise stay blank)
    env["SOLARA_THEME_LOADER"] = "crowdsim"
    env.setdefault("MPLBACKEND", "Agg")
    return env


def _warn_if_front_end_missing() -> None:
    from crowdsim.viz import assets

    try:
        missing = assets.missing_packages()
    except Exception:  # a Solara layout this code does not know: let the server cope
        return
    if missing:
        print(
            "crowdsim-app: note: the page's front-end files are not installed here ("
            + ", ".join(f"{n}@{v}" for n, v in missing)
            + "); the server fetches them from a CDN when the page first opens. Without that network, "
            "install them once with: python -m crowdsim.viz.assets",
            file=sys.stderr,
        )


def main(argv: list[str] | None = None) -> None:
    from crowdsim.cli.arguments import Parser, int_at_least

    parser = Parser(
        prog="crowdsim-app",
        description="Explore a crowd-work market in the browser (Mesa SolaraViz on a local Solara server).",
    )
    parser.add_argument(
        "--port",
        type=int_at_least(0),
        default=None,
        help=f"port to listen on (default {DEFAULT_PORT}, or a free port if it is taken; 0: any free port)",
    )
    parser.add_argument(
        "--host", default="localhost", help="interface to listen on (default: localhost only)"
    )
    parser.add_argument(
        "--workers",
        type=int_at_least(1),
        default=None,
        help=f"starting number of workers in the sidebar (default {DEFAULT_WORKERS:,}; the slider "
        f"goes to {MAX_WORKERS:,})",
    )
    parser.add_argument(
        "--days",
        type=int_at_least(1),
        default=None,
        help=f"length of each market's run in days (default {DEFAULT_DAYS}); at its end the run "
        "buttons stop and Reset starts a new market",
    )
    parser.add_argument(
        "--markets",
        default=None,
        metavar="DIR",
        help="folder where the page's 'Save this market' writes markets and from which 'Reload' "
        "lists them (default: crowdsim-markets in the current folder; created on the first save)",
    )
    parser.add_argument(
        "--no-open", dest="open_browser", action="store_false", help="do not open a browser tab"
    )
    args = parser.parse_args(argv)
    env = server_env()
    if args.workers is not None:
        if not 1 <= args.workers <= 100_000:
            parser.error(
                f"invalid value for option '--workers': {args.workers} (allowed: 1 to 100000)"
            )
        env["CROWDSIM_APP_N_WORKERS"] = str(args.workers)
    if args.days is not None:
        if not 1 <= args.days <= 3650:
            parser.error(f"invalid value for option '--days': {args.days} (allowed: 1 to 3650)")
        env["CROWDSIM_APP_DAYS"] = str(args.days)
    if args.markets is not None:
        markets = os.path.abspath(args.markets)
        if os.path.exists(markets) and not os.path.isdir(markets):
            parser.error(
                f"invalid value for option '--markets': {args.markets!r} (allowed: a folder, or a "
                "path where one can be created; this is a file)"
            )
        env["CROWDSIM_APP_MARKETS"] = markets

    host_for_bind = "127.0.0.1" if args.host == "localhost" else args.host
    try:
        free_port(host_for_bind)  # an address of this machine (else no port is "free")
    except OSError as exc:
        parser.error(
            f"invalid value for option '--host': {args.host!r} (allowed: localhost, 0.0.0.0 or an "
            f"address of this machine; {exc.strerror or exc})"
        )
    if args.port is None:
        port = (
            DEFAULT_PORT if port_is_free(DEFAULT_PORT, host_for_bind) else free_port(host_for_bind)
        )
    elif args.port == 0:
        port = free_port(host_for_bind)
    else:
        if not 1 <= args.port <= 65535:
            parser.error(f"invalid value for option '--port': {args.port} (allowed: 0 to 65535)")
        if not port_is_free(args.port, host_for_bind):
            parser.error(
                f"invalid value for option '--port': {args.port} (allowed: a free port; this one "
                "is taken: --port 0 or no --port picks a free one)"
            )
        port = args.port
    cmd = server_command(port, args.host, args.open_browser)
    _warn_if_front_end_missing()
    print(f"crowdsim-app: serving on http://{args.host}:{port} (Ctrl-C to stop)", flush=True)
    # replace this process with the server, so that signals (Ctrl-C, kill) reach it directly
    os.execve(sys.executable, cmd, env)


if __name__ == "__main__":
    main()
