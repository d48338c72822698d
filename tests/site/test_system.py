"""Machine setup for `build.py test`: apt only for what is missing, `npm ci` only when node_modules/ is stale."""

from __future__ import annotations

import json
import subprocess

import pytest

from site_build import system

PROGRAMS = {"/usr/bin/chromium": "chromium", "/usr/bin/firefox-esr": "firefox-esr"}


class FakeMachine:
    """Records commands; apt-get install makes the named programs exist unless it is told to fail."""

    def __init__(self, present: set[str], install_fails: int = 0, install_works: bool = True):
        self.present = set(present)
        self.install_fails = install_fails
        self.install_works = install_works
        self.commands: list[tuple[list[str], dict]] = []

    def exists(self, path: str) -> bool:
        return path in self.present

    def which(self, name: str) -> str | None:
        return "/usr/bin/npm"

    def run(self, cmd, check=False, **kwargs):
        self.commands.append((list(cmd), kwargs))
        code = 0
        if "install" in cmd:
            if self.install_fails:
                self.install_fails -= 1
                code = 100
            elif self.install_works:
                self.present |= {path for path, package in PROGRAMS.items() if package in cmd}
        if check and code:
            raise subprocess.CalledProcessError(code, cmd)
        return subprocess.CompletedProcess(cmd, code)

    def apt(self, **kwargs) -> list[str]:
        return system.ensure_system_packages(PROGRAMS, run=self.run, exists=self.exists, which=self.which, **kwargs)


def test_nothing_runs_when_every_program_is_there():
    machine = FakeMachine(set(PROGRAMS))
    assert machine.apt() == []
    assert machine.commands == []


def test_only_the_missing_package_is_installed_noninteractively_without_update():
    machine = FakeMachine({"/usr/bin/chromium"})
    assert machine.apt() == ["firefox-esr"]
    [(cmd, kwargs)] = machine.commands
    assert cmd[-5:] == ["apt-get", "install", "-y", "--no-install-recommends", "firefox-esr"]
    assert kwargs["env"]["DEBIAN_FRONTEND"] == "noninteractive"


def test_a_failed_install_updates_the_lists_then_installs_again():
    machine = FakeMachine(set(), install_fails=1)
    assert machine.apt() == ["chromium", "firefox-esr"]
    steps = [cmd[cmd.index("apt-get") + 1] for cmd, _ in machine.commands]
    assert steps == ["install", "update", "install"]


def test_still_missing_after_install_is_an_error_naming_it():
    machine = FakeMachine(set(), install_works=False)
    with pytest.raises(system.SetupError, match="firefox-esr"):
        machine.apt()


def write_lock(root, packages: dict[str, dict]) -> None:
    lock = {"lockfileVersion": 3, "packages": {"": {"name": "x"}, **packages}}
    (root / "package-lock.json").write_text(json.dumps(lock))


def install(root, name: str, version: str) -> None:
    folder = root / "node_modules" / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "package.json").write_text(json.dumps({"name": name, "version": version}))


def test_node_modules_must_hold_every_locked_package_at_its_version(tmp_path):
    write_lock(
        tmp_path,
        {
            "node_modules/pyodide": {"version": "0.27.7"},
            "node_modules/puppeteer-core": {"version": "24.43.1", "dev": True},
            "node_modules/fsevents": {"version": "2.3.3", "optional": True},  # another platform's
        },
    )
    assert not system.node_modules_match_lock(tmp_path), "no node_modules/ at all"
    install(tmp_path, "pyodide", "0.27.7")
    assert not system.node_modules_match_lock(tmp_path), "puppeteer-core is missing"
    install(tmp_path, "puppeteer-core", "24.40.0")
    assert not system.node_modules_match_lock(tmp_path), "puppeteer-core at another version"
    install(tmp_path, "puppeteer-core", "24.43.1")
    assert system.node_modules_match_lock(tmp_path)


def test_npm_ci_runs_only_when_node_modules_differs(tmp_path):
    write_lock(tmp_path, {"node_modules/pyodide": {"version": "0.27.7"}})
    ran = []

    def npm(cmd, cwd, check):
        ran.append(cmd)
        install(cwd, "pyodide", "0.27.7")
        return subprocess.CompletedProcess(cmd, 0)

    assert system.ensure_node_modules(tmp_path, run=npm) is True
    assert ran == [system.NPM_CI] and "--ignore-scripts" in system.NPM_CI
    assert system.ensure_node_modules(tmp_path, run=npm) is False
    assert len(ran) == 1


def test_setup_installs_every_program_the_webkit_tests_start():
    from site_build import webkit

    assert {webkit.WEBDRIVER, webkit.XVFB} <= set(system.SYSTEM_PACKAGES)
