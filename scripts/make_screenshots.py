"""Regenerate screenshots/*.svg and *.png from the same scenes the snapshot tests check.

Run by `make screenshots`. PNGs are rendered with rsvg-convert (Debian: librsvg2-bin), which keeps the
monospace grid intact; without it only the SVGs are written, and the script says so.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from tui_rig import demo_app, demo_cluster  # noqa: E402
from tui_scenes import SCENES, Scene, scene_root  # noqa: E402

OUT = ROOT / "screenshots"


async def shoot(scene: Scene, work: Path) -> Path:
    app = demo_app(demo_cluster(scene_root(scene.name)))
    async with app.run_test(size=scene.size) as pilot:
        await scene.run(pilot)
        svg = OUT / f"{scene.name}.svg"
        app.save_screenshot(filename=svg.name, path=str(OUT))
    return svg


def _spaced(svg: Path, work: Path) -> Path:
    """A copy of the SVG that rsvg-convert spaces like the terminal: Textual writes spaces as &#160;,
    and rsvg squeezes them at the start of a text run (`Plan:20:02`, `18:0021:00` in the PNG although
    the screen has the space); plain spaces under xml:space="preserve" keep every column."""
    text = svg.read_text().replace("<svg ", '<svg xml:space="preserve" ', 1).replace("&#160;", " ")
    copy = work / svg.name
    copy.write_text(text)
    return copy


def main() -> int:
    OUT.mkdir(exist_ok=True)
    converter = shutil.which("rsvg-convert")
    with tempfile.TemporaryDirectory(prefix="igor-shots-") as tmp:
        for scene in SCENES:
            svg = asyncio.run(shoot(scene, Path(tmp)))
            line = f"{svg.relative_to(ROOT)}"
            if converter:
                png = svg.with_suffix(".png")
                subprocess.run([converter, "-o", str(png), str(_spaced(svg, Path(tmp)))], check=True)
                line += f", {png.relative_to(ROOT)}"
            print(f"{line}: {scene.shows}")
    if not converter:
        print("rsvg-convert not found (apt-get install librsvg2-bin): PNGs not written", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
