"""The live cluster page: its JSON, a page that fetches nothing from outside, and a real headless browser watching
the page update as a node dies (skipped, with the reason, when no Chromium or chromedriver is installed)."""

from __future__ import annotations

import json
import shutil
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from cli_process import zactor_command

from zactor.services.cluster.local_cluster import LocalCluster

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")


@contextmanager
def dashboard(seed: str) -> Iterator[str]:
    """`zactor dashboard --seed SEED --port 0 --interval 0.3` in a subprocess; yields the page's URL."""
    with zactor_command("dashboard", "--seed", seed, "--port", "0", "--interval", "0.3") as proc:
        line = proc.stdout.readline()  # type: ignore[union-attr]
        assert " at http://" in line, line
        yield line.rsplit(" at ", 1)[1].strip()


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:
        body: bytes = response.read()
    return body


def _cluster_json(url: str, ready: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    deadline = time.monotonic() + 20
    while True:
        data: dict[str, Any] = json.loads(_get(url + "api/cluster"))
        if "members" in data and ready(data):
            return data
        if time.monotonic() > deadline:
            raise AssertionError(f"the dashboard never showed what was expected: {data}")
        time.sleep(0.2)


def test_the_page_and_its_json(local_cluster_factory: Callable[..., LocalCluster]) -> None:
    """/api/cluster lists every member with its load; the page's only script is inline."""
    cluster = local_cluster_factory(2, actors={"calc": "zactor.services.cluster.demo:Calculator"})
    with dashboard(cluster.seed) as url:
        data = _cluster_json(url, lambda d: len(d["members"]) == 2 and all(m["answered"] for m in d["members"]))
        page = _get(url).decode()
    assert [(m["node"], m["status"], m["actors"]) for m in data["members"]] == [
        ("node0", "live", ["calc"]),
        ("node1", "live", ["calc"]),
    ]
    assert "<script>" in page and "src=" not in page and "href=" not in page


@pytest.mark.skipif(CHROMIUM is None or CHROMEDRIVER is None, reason="no chromium and chromedriver installed")
def test_a_browser_watches_a_node_die(local_cluster_factory: Callable[..., LocalCluster]) -> None:
    """Headless Chromium renders a row per member, keeps refreshing, and shows a SIGKILLed node as dead."""
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    cluster = local_cluster_factory(3)
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(flag)
    with dashboard(cluster.seed) as url:
        browser = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
        try:
            browser.get(url)
            wait = WebDriverWait(browser, 30, poll_frequency=0.2)

            def statuses(driver: Any) -> dict[str, str]:  # read in one script: the page redraws every second
                rows = driver.execute_script(
                    "return Array.from(document.querySelectorAll('#members tr'))"
                    ".map(r => [r.dataset.node, r.children[1].textContent]);"
                )
                return dict(rows)

            wait.until(lambda d: statuses(d) == {"node0": "live", "node1": "live", "node2": "live"})
            first = int(browser.find_element(By.ID, "updated").get_attribute("data-refreshes") or 0)
            wait.until(lambda d: int(d.find_element(By.ID, "updated").get_attribute("data-refreshes") or 0) > first)
            cluster.kill(2)
            wait.until(lambda d: statuses(d).get("node2") == "dead")
            assert statuses(browser)["node0"] == "live"
        finally:
            browser.quit()
