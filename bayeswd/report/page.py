"""The HTML page of the report: sections, tables, figures and warning boxes."""

from __future__ import annotations

import html
import io
import re
from dataclasses import dataclass, field
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd

from bayeswd.report.captured import AnalysisWarning
from bayeswd.report.outputs import Outputs


def slug(heading: str) -> str:
    """The HTML anchor of a section heading."""
    return re.sub(r"[^a-z0-9]+", "-", heading.lower()).strip("-")


def warning_box(w: AnalysisWarning) -> str:
    """The HTML box of one warning: the result, the message, what to do."""
    return (
        f"<div class='warn'><b>&#9888; {html.escape(w.result)}</b>: "
        f"{html.escape(w.message)} <code>{html.escape(w.category.__name__)}</code>"
        f"<br><i>What to do:</i> {html.escape(w.advice)}</div>"
    )


@dataclass
class Report:
    """The report being written: title, notes, sections (heading, HTML) and the warnings to place."""

    title: str
    notes: str = ""
    sections: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[AnalysisWarning] = field(default_factory=list)

    def add(self, heading: str, body: str) -> None:
        """Append a section."""
        self.sections.append((heading, body))

    def render(self) -> str:
        """The whole HTML page, each warning in the section of its result."""
        headings = {h for h, _ in self.sections}
        parts = [f"<p class='note'>{self.notes}</p>"] if self.notes else []
        if self.warnings:
            items = "".join(
                f"<li><a href='#{slug(w.section)}'>{html.escape(w.result)}</a>: "
                f"{html.escape(w.summary)}</li>"
                for w in self.warnings if w.section in headings
            )
            loose = "".join(warning_box(w) for w in self.warnings if w.section not in headings)
            parts.append(
                f"<div class='warnings'><p><b>This run raised {len(self.warnings)} warning(s).</b> Each is "
                "shown next to the result it concerns, with what to do about it.</p>"
                + (f"<ul>{items}</ul>" if items else "") + loose + "</div>"
            )
        for heading, body in self.sections:
            boxes = "".join(warning_box(w) for w in self.warnings if w.section == heading)
            parts.append(f"<section id='{slug(heading)}'><h2>{html.escape(heading)}</h2>\n{body}\n{boxes}"
                         "</section>")
        return _HTML.format(title=html.escape(self.title), body="\n".join(parts))


_HTML = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto; max-width: 1100px;
        color: #222; line-height: 1.45; padding: 0 1rem; }}
h1 {{ font-size: 1.7rem; border-bottom: 2px solid #3b6ea5; padding-bottom: .3rem; }}
h2 {{ font-size: 1.25rem; margin-top: 2.2rem; color: #3b6ea5; }}
table {{ border-collapse: collapse; margin: .6rem 0; font-size: .9rem; }}
th, td {{ border: 1px solid #ccc; padding: .25rem .6rem; text-align: right; }}
th {{ background: #eef3f8; }} td:first-child, th:first-child {{ text-align: left; }}
th[colspan] {{ text-align: center; }}
figure {{ margin: 1rem 0; }} img {{ max-width: 100%; border: 1px solid #ddd; }}
figcaption {{ font-size: .85rem; color: #555; }} .note {{ font-size: .9rem; color: #444; }}
code {{ background: #f4f4f4; padding: 0 .2rem; }}
.warn {{ background: #fff4e0; border-left: 4px solid #d98b00; padding: .4rem .8rem; margin: .6rem 0;
         font-size: .9rem; }}
.warnings {{ border: 1px solid #d98b00; padding: .2rem 1rem; margin: 1rem 0; }}
</style></head>
<body><h1>{title}</h1>
{body}
</body></html>
"""


def table(df: pd.DataFrame, float_format: str = "{:.4g}") -> str:
    """A DataFrame as an HTML table."""
    return df.to_html(border=0, float_format=lambda v: float_format.format(v), escape=True, na_rep="—")


def figure(files: Outputs, name: str, fig: Any, caption: str) -> str:
    """Render ``fig`` to ``name.png`` among the run's ``files`` (closing it); its HTML."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    files.add_bytes(f"{name}.png", buffer.getvalue())
    return (
        f'<figure><img src="{name}.png" alt="{html.escape(caption)}">'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


def fig_of(obj: Any) -> Any:
    """The Figure of a Figure or an Axes."""
    return obj if hasattr(obj, "savefig") else obj.figure
