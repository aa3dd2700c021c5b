"""Check every internal link of the built HTML docs: the page it points at exists, and so does its #anchor.

    python tests/check_links.py docs/_build/html

Sphinx's nitpicky mode already fails on references it cannot resolve; this catches what it does not
see, such as a raw ``href`` or an anchor that a renamed section no longer has. External links
(``http:``, ``https:``, ``mailto:``...) are never fetched. Exits with 1 and lists the broken links.
"""

from __future__ import annotations

import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit


class Page(HTMLParser):
    """The links and the anchors (``id`` and ``<a name>``) of one HTML file."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.anchors: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if values.get("id"):
            self.anchors.add(values["id"])
        if tag == "a" and values.get("name"):
            self.anchors.add(values["name"])
        for name in ("href", "src"):
            if values.get(name):
                self.links.append(values[name])


def parse(path: Path) -> Page:
    page = Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def broken_links(root: Path) -> list[str]:
    """Return one line per broken internal link of the HTML files under ``root``."""
    pages = {path.resolve(): parse(path) for path in sorted(root.rglob("*.html"))}
    problems = []
    for path, page in pages.items():
        for link in page.links:
            parts = urlsplit(link)
            if parts.scheme or parts.netloc:
                continue  # External: never fetched.
            target = (path.parent / unquote(parts.path)).resolve() if parts.path else path
            if target.is_dir():
                target = target / "index.html"
            where = f"{path.relative_to(root.resolve())}: {link}"
            if not target.exists():
                problems.append(f"{where}: no such file")
            elif parts.fragment and target.suffix == ".html":
                anchors = pages[target].anchors if target in pages else parse(target).anchors
                if unquote(parts.fragment) not in anchors:
                    problems.append(f"{where}: no anchor #{parts.fragment} in {target.name}")
    return problems


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__.strip().splitlines()[0], file=sys.stderr)
        return 2
    root = Path(argv[0])
    if not (root / "index.html").exists():
        print(f"{root} holds no built site (no index.html).", file=sys.stderr)
        return 2
    problems = broken_links(root)
    for problem in problems:
        print(problem, file=sys.stderr)
    count = sum(1 for _ in root.rglob("*.html"))
    if problems:
        print(f"{len(problems)} broken internal link(s) in {count} page(s).", file=sys.stderr)
        return 1
    print(f"Internal links of {count} page(s) are all right.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
