"""Open a local HTML file in headless Chromium, through Selenium, and report what a test needs to know about it.

Debian's Chromium and ChromeDriver (/usr/bin/chromium, /usr/bin/chromedriver; tools/bootstrap installs them) are
used as they are, so Selenium Manager never downloads a browser or a driver. Without them, Browser() fails with a
message that says so: a browser test is never skipped.

Usage::

    from chromium import Browser, png_info

    with Browser() as browser:                      # one Chromium, 1400 x 1000 CSS pixels, scale 1
        browser.open(html_path)                     # a local file (str or pathlib.Path)
        matrix = browser.matrix()                   # the readiness page's #readiness-matrix
        matrix.rows                                 # requirement rows: 12
        matrix.hosts                                # host column headers, in page order: ["kf-app01", ...]
        matrix.cells                                # td.cell by status: {"pass": 20, "fail": 3, "warn": 2, "na": 5, "error": 12}
        matrix.total                                # every td.cell: 48
        browser.console()                           # [ConsoleEntry(level="SEVERE", message="..."), ...] since open()
        browser.screenshot(png_path)                # the window (1400 x 1000); full_page=True for the whole page
        png_info(png_path)                          # PngInfo(width=1400, height=1000, colours=1600)
        detail = browser.open_detail("fail", host="kf-app02")   # clicks that host's first FAIL cell
        detail.element_id, detail.text, detail.visible          # the element that is now :target, as the user sees it

Several Browser()s can run at once (pytest -n 2): each has its own temporary profile and its own ChromeDriver port.
"""

from __future__ import annotations

import base64
import dataclasses
import pathlib
import shutil
import struct
import tempfile
import zlib

from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

CHROMIUM = pathlib.Path("/usr/bin/chromium")
CHROMEDRIVER = pathlib.Path("/usr/bin/chromedriver")
WINDOW = (1400, 1000)
FLAGS = (
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage", "--force-device-scale-factor=1",
    "--hide-scrollbars",
)
STATUSES = ("pass", "fail", "warn", "na", "error")

_MATRIX_SCRIPT = """
const table = document.getElementById('readiness-matrix');
if (!table) { return null; }
const cells = {};
for (const status of arguments[0]) {
  cells[status] = table.querySelectorAll('td.cell.status-' + status).length;
}
return {
  rows: table.querySelectorAll('tbody tr.requirement').length,
  hosts: Array.from(table.querySelectorAll('thead tr.host-names th.host'), th => th.innerText.trim()),
  cells: cells,
  total: table.querySelectorAll('td.cell').length,
};
"""

_TARGET_SCRIPT = """
const target = document.querySelector(':target');
if (!target) { return null; }
const box = target.getBoundingClientRect();
return {
  id: target.id,
  text: target.innerText,
  visible: box.bottom > 0 && box.top < window.innerHeight && box.width > 0 && box.height > 0,
  hash: window.location.hash,
};
"""


@dataclasses.dataclass(frozen=True)
class ConsoleEntry:
    level: str      # SEVERE, WARNING, INFO or DEBUG, as ChromeDriver names them
    message: str
    source: str = ""


@dataclasses.dataclass(frozen=True)
class Matrix:
    rows: int                   # tbody tr.requirement
    hosts: list[str]            # thead th.host, in page order
    cells: dict[str, int]       # td.cell.status-<status>, for every status in STATUSES
    total: int                  # every td.cell


@dataclasses.dataclass(frozen=True)
class Detail:
    href: str                   # the clicked link's target, "#d-..."
    element_id: str             # the id of the element that is :target after the click ("" when none is)
    text: str                   # its visible text (innerText)
    visible: bool               # whether it is in the window after the click


@dataclasses.dataclass(frozen=True)
class PngInfo:
    width: int
    height: int
    colours: int                # distinct RGB(A) values


class ChromiumMissing(RuntimeError):
    """Chromium or ChromeDriver is not installed where tools/bootstrap puts them."""


class Browser:
    """One headless Chromium; use it as a context manager so that it always quits."""

    def __init__(self, window: tuple[int, int] = WINDOW):
        missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.is_file()]
        if missing:
            raise ChromiumMissing(f"{' and '.join(missing)} not found: run tools/bootstrap, which installs Debian's chromium and "
                                  "chromium-driver; the browser tests do not skip without them")
        self.window = window
        self._profile = tempfile.mkdtemp(prefix="chromium-profile-")
        options = webdriver.ChromeOptions()
        options.binary_location = str(CHROMIUM)
        for flag in FLAGS:
            options.add_argument(flag)
        options.add_argument(f"--window-size={window[0]},{window[1]}")
        options.add_argument(f"--user-data-dir={self._profile}")
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        try:
            self.driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
        except WebDriverException:
            shutil.rmtree(self._profile, ignore_errors=True)
            raise
        # The viewport itself is the window's size: headless Chromium keeps part of --window-size for its toolbars.
        self.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                                    {"width": window[0], "height": window[1], "deviceScaleFactor": 1, "mobile": False})
        self._console: list[ConsoleEntry] = []

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        try:
            self.driver.quit()
        finally:
            shutil.rmtree(self._profile, ignore_errors=True)

    def open(self, path: str | pathlib.Path) -> None:
        """Load a local file, from the top, and start a new console record."""
        self._drain()
        self._console = []
        self.driver.get("about:blank")
        self.driver.get(pathlib.Path(path).resolve().as_uri())
        self.driver.execute_script("return document.readyState")

    def _drain(self) -> None:
        for entry in self.driver.get_log("browser"):
            self._console.append(ConsoleEntry(entry.get("level", ""), entry.get("message", ""), entry.get("source", "")))

    def console(self) -> list[ConsoleEntry]:
        """Every console message and browser error (a refused asset, a script error) since open()."""
        self._drain()
        return list(self._console)

    def matrix(self) -> Matrix:
        found = self.driver.execute_script(_MATRIX_SCRIPT, list(STATUSES))
        if found is None:
            raise AssertionError(f"{self.driver.current_url} has no table with id readiness-matrix")
        return Matrix(rows=found["rows"], hosts=list(found["hosts"]), cells=dict(found["cells"]), total=found["total"])

    def screenshot(self, path: str | pathlib.Path, full_page: bool = False) -> pathlib.Path:
        """A PNG of the window, or of the whole page with full_page=True, written to path."""
        path = pathlib.Path(path)
        params: dict = {"format": "png"}
        if full_page:
            size = self.driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
            params.update(captureBeyondViewport=True,
                          clip={"x": 0, "y": 0, "width": max(size["width"], self.window[0]), "height": size["height"], "scale": 1})
        data = self.driver.execute_cdp_cmd("Page.captureScreenshot", params)["data"]
        path.write_bytes(base64.b64decode(data))
        return path

    def open_detail(self, status: str = "fail", host: str | None = None, requirement: str | None = None) -> Detail:
        """Click the first td.cell of that status (of that host, of that requirement id) and report what is :target then."""
        selector = f"#readiness-matrix td.cell.status-{status}"
        cells = [cell for cell in self.driver.find_elements(By.CSS_SELECTOR, selector)
                 if (host is None or cell.get_attribute("data-host") == host)
                 and (requirement is None or cell.get_attribute("data-requirement") == requirement)]
        if not cells:
            raise AssertionError(f"no {selector} cell for host {host!r}, requirement {requirement!r}")
        link = cells[0].find_element(By.TAG_NAME, "a")
        href = link.get_attribute("href") or ""
        link.click()
        found = self.driver.execute_script(_TARGET_SCRIPT)
        if found is None:
            return Detail(href="#" + href.split("#", 1)[-1], element_id="", text="", visible=False)
        return Detail(href="#" + href.split("#", 1)[-1], element_id=found["id"], text=found["text"], visible=found["visible"])


def png_info(path: str | pathlib.Path, count_colours: bool = True, max_colours: int = 4096) -> PngInfo:
    """Width, height and the number of distinct colours (counted up to max_colours) of an 8-bit RGB or RGBA PNG.

    Counting decodes every pixel in Python, about a second for 1400 x 1000; with count_colours=False only the
    header is read and colours is 0.
    """
    data = pathlib.Path(path).read_bytes()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise AssertionError(f"{path} is not a PNG file")
    offset, idat, header = 8, [], None
    while offset < len(data):
        length, kind = struct.unpack(">I4s", data[offset:offset + 8])
        chunk = data[offset + 8:offset + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", chunk)
            if not count_colours:
                break
        elif kind == b"IDAT":
            idat.append(chunk)
        elif kind == b"IEND":
            break
        offset += 12 + length
    if header is None:
        raise AssertionError(f"{path} has no IHDR chunk")
    width, height, depth, colour_type, _compression, _filter, interlace = header
    if not count_colours:
        return PngInfo(width=width, height=height, colours=0)
    channels = {2: 3, 6: 4}.get(colour_type)
    if depth != 8 or channels is None or interlace:
        raise AssertionError(f"{path}: only 8-bit, non-interlaced RGB or RGBA is read here (depth {depth}, colour type {colour_type})")
    raw = zlib.decompress(b"".join(idat))
    stride = width * channels
    previous = bytearray(stride)
    colours: set[bytes] = set()
    for y in range(height):
        start = y * (stride + 1)
        line = _unfilter(raw[start], bytearray(raw[start + 1:start + 1 + stride]), previous, channels)
        if len(colours) < max_colours:
            colours.update(bytes(line[x:x + channels]) for x in range(0, stride, channels * 7))
        previous = line
    return PngInfo(width=width, height=height, colours=len(colours))


def _unfilter(kind: int, line: bytearray, previous: bytearray, bpp: int) -> bytearray:
    """One scanline with its PNG filter undone (RFC 2083, section 6)."""
    if kind == 0:
        return line
    if kind == 2:
        return bytearray((a + b) & 0xFF for a, b in zip(line, previous))
    for i in range(len(line)):
        left = line[i - bpp] if i >= bpp else 0
        if kind == 1:
            line[i] = (line[i] + left) & 0xFF
        elif kind == 3:
            line[i] = (line[i] + ((left + previous[i]) >> 1)) & 0xFF
        elif kind == 4:
            up, corner = previous[i], previous[i - bpp] if i >= bpp else 0
            estimate = left + up - corner
            pa, pb, pc = abs(estimate - left), abs(estimate - up), abs(estimate - corner)
            line[i] = (line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)) & 0xFF
        else:
            raise AssertionError(f"unknown PNG filter type {kind}")
    return line
