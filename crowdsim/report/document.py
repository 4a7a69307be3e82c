"""The report's document writer: one document, written as Markdown and as self-contained HTML.

:class:`Document` collects headings, paragraphs, tables, lists and images (embedded in the HTML
as base64) in order; :meth:`Document.markdown` and :meth:`Document.html` write them out. Numbers
in table cells are right-aligned in the HTML (:func:`html_table`); :data:`STYLE` is its CSS.
"""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path

import pandas as pd


def md_table(df: pd.DataFrame) -> str:
    cols = [str(c) for c in df.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for _, row in df.iterrows():
        lines.append("| " + " | ".join(str(v).replace("|", "\\|") for v in row.to_list()) + " |")
    return "\n".join(lines)


def inline(text: str) -> str:
    """HTML of a text with ``**bold**`` spans."""
    parts = html.escape(text).split("**")
    return "".join(f"<strong>{p}</strong>" if i % 2 else p for i, p in enumerate(parts))


SHORT_CELL = 32  # characters: a cell this short is kept on one line


def _cell_html(text: str) -> str:
    """A table cell: a value with its interval ``1.23 [1.10, 1.40] (n.d.)`` on two lines (the
    value, then the interval in smaller type), each kept on its line; other text as it is."""
    value, sep, rest = text.partition(" [")
    if not sep or "]" not in rest:  # a short text on one line ("too few workers (n = 9)")
        return f'<span class="v">{inline(text)}</span>' if len(text) <= SHORT_CELL else inline(text)
    return f'<span class="v">{inline(value)}</span><span class="ci">[{html.escape(rest)}</span>'


_NUMBER = re.compile(r"[+−-]?\$?[\d,]*\.?\d+(%|/h| pp| days)?( / 10| of 10)?")
_NOTES = re.compile(r" \(n = [\d,]+\)$| †+$| \(n\.d\.\)$")


def _numeric(text: str) -> bool:
    """Whether a cell is a number (right-aligned): ``$1.23/h``, ``+4.5 pp [..]``, ``0 / 10``."""
    value = _NOTES.sub("", text.split(" [", 1)[0].strip())
    return bool(_NUMBER.fullmatch(value))


def html_table(df: pd.DataFrame, css: str = "") -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    body = "".join(
        "<tr>"
        + "".join(
            f"<td{' class=num' if _numeric(str(v)) else ''}>{_cell_html(str(v))}</td>"
            for v in row.to_list()
        )
        + "</tr>"
        for _, row in df.iterrows()
    )
    cls = f' class="{css}"' if css else ""
    return (
        f'<div class="tablewrap"><table{cls}><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table></div>"
    )


def glance_html(grid: pd.DataFrame) -> str:
    """The at-a-glance grid: (text, css) cells coloured by what the change means for workers."""
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in grid.columns)
    body = ""
    for _, row in grid.iterrows():
        cells = []
        for v in row.to_list():
            if isinstance(v, tuple):
                cells.append(f'<td class="{v[1]}">{html.escape(v[0])}</td>')
            else:
                cells.append(f'<th scope="row">{html.escape(str(v))}</th>')
        body += "<tr>" + "".join(cells) + "</tr>"
    return (
        f'<div><table class="glance"><thead><tr>{head}</tr></thead><tbody>{body}</tbody>'
        "</table></div>"
    )


STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;max-width:1320px;margin:1em auto;padding:0 1em;color:#1d1d1d;line-height:1.4}
h1{font-size:1.5em;margin:.2em 0}h2{margin-top:1.4em;border-bottom:1px solid #ddd;padding-bottom:.15em}
#glance h2{margin-top:.4em}
.setup{color:#555;margin-top:0}
.warning{background:#fff8e1;border-left:4px solid #e0a800;padding:.3em .8em}
.glance-wrap{display:grid;grid-template-columns:minmax(0,1fr) 320px;gap:1.2em;align-items:start}.glance-wrap>div{overflow-x:auto}
table.glance{font-size:.95em;margin:.3em 0}
table.glance td{text-align:left;white-space:nowrap;font-weight:600;padding:5px 9px}
table.glance th{text-align:left;vertical-align:bottom;font-size:.9em}
table.glance tbody th{background:none;font-weight:600;min-width:15em;max-width:20em}
td.good{background:#e3f4e1;color:#17612a}td.bad{background:#fbe3e1;color:#9b1c1c}
td.up,td.down{background:#eef1f5;color:#333}td.nd,td.na{color:#777;font-weight:400!important}
td.mdc{font-weight:400!important;color:#333}
aside.notation{font-size:.86em;background:#f6f8fa;border:1px solid #d8dee4;border-radius:6px;padding:.2em .9em}
aside.notation h3{font-size:1em;margin:.4em 0}aside.notation ul{margin:.2em 0;padding-left:1.1em}
figure.forest{margin:.6em 0}
section.summary{background:#f6f8fa;border:1px solid #d8dee4;border-radius:6px;padding:.2em 1.2em .6em}
section.summary h2{margin-top:.4em}section.summary ul{padding-left:1.1em}section.summary li{margin:.25em 0}
.tablewrap{overflow-x:auto}
table{border-collapse:collapse;margin:.8em 0;font-size:.84em;font-variant-numeric:tabular-nums}
th,td{border:1px solid #ccc;padding:3px 7px;text-align:left;vertical-align:top}th{background:#f1f3f5}
td.num{text-align:right}
td .v,td .ci{display:block;white-space:nowrap}td .ci{font-size:.86em;color:#555}
td:first-child .v{white-space:normal}td:first-child{min-width:16em}
table.glance tbody th{min-width:17em!important}
figure{margin:1.2em 0}figure img{max-width:100%;height:auto}figcaption{color:#555;font-size:.9em}
dl.defs dt{font-weight:600;margin-top:.4em}dl.defs dd{margin-left:1.2em;color:#333}
footer{margin-top:2em;border-top:1px solid #ddd;padding-top:.5em;color:#555;font-size:.85em}
code{font-size:.95em}
@media print{body{max-width:none;margin:0;font-size:10pt}section.summary,aside.notation{background:none}
.glance-wrap{display:block}h2{break-after:avoid}figure,table{break-inside:avoid}a{color:inherit;text-decoration:none}}
"""


class Document:
    """A report as a list of blocks, rendered to Markdown and to one self-contained HTML page."""

    def __init__(self) -> None:
        self.blocks: list[tuple[str, object]] = []

    def h(self, level: int, text: str) -> None:
        self.blocks.append(("h", (level, text)))

    def p(self, text: str, css: str = "") -> None:
        self.blocks.append(("p", (text, css)))

    def ul(self, items: list[str]) -> None:
        self.blocks.append(("ul", items))

    def table(self, df: pd.DataFrame) -> None:
        self.blocks.append(("table", df))

    def img(self, path: Path, alt: str, css: str = "") -> None:
        self.blocks.append(("img", (path, alt, css)))

    def raw(self, md: str, htm: str) -> None:
        self.blocks.append(("raw", (md, htm)))

    def markdown(self) -> str:
        out = []
        for kind, x in self.blocks:
            if kind == "h":
                out.append("#" * x[0] + " " + x[1])
            elif kind == "p":
                out.append(x[0])
            elif kind == "ul":
                out.append("\n".join(f"- {i}" for i in x))
            elif kind == "table":
                out.append(md_table(x))
            elif kind == "img":
                out.append(f"![{x[1]}]({x[0].name})")
            elif kind == "raw":
                out.append(x[0])
        return "\n\n".join(out) + "\n"

    def html(self, title: str) -> str:
        out = []
        for kind, x in self.blocks:
            if kind == "h":
                out.append(f"<h{x[0]}>{inline(x[1])}</h{x[0]}>")
            elif kind == "p":
                cls = f' class="{x[1]}"' if x[1] else ""
                out.append(f"<p{cls}>{inline(x[0])}</p>")
            elif kind == "ul":
                out.append("<ul>" + "".join(f"<li>{inline(i)}</li>" for i in x) + "</ul>")
            elif kind == "table":
                out.append(html_table(x))
            elif kind == "img":
                data = base64.b64encode(Path(x[0]).read_bytes()).decode("ascii")
                cls = f' class="{x[2]}"' if x[2] else ""
                out.append(
                    f'<figure{cls}><img src="data:image/png;base64,{data}" '
                    f'alt="{html.escape(x[1])}"></figure>'
                )
            elif kind == "raw":
                out.append(x[1])
        return (
            f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>\n"
            + "\n".join(out)
            + "\n</body></html>\n"
        )


# ------------------------------------------------------------------------------------ report
