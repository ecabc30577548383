"""The install targets as `make -n` prints them: an upgrade (`git pull && sudo make
install-service`, again) must end with the new code running, so the unit is restarted
after the new package is in place; `systemctl enable --now` only starts a stopped one
and leaves a running raspyd on the old code, its files replaced under it."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(
    shutil.which("make") is None, reason="make is not installed here"
)


def _dry_run(tmp_path: Path, target: str, *assignments: str) -> list[str]:
    """The commands `make -n target` would run, one a line (nothing is run)."""
    result = subprocess.run(
        [
            "make",
            "-n",
            "-C",
            str(REPO),
            target,
            f"PREFIX={tmp_path / 'opt'}",
            *assignments,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def _restarted_after_install(lines: list[str], unit: str) -> None:
    installed = next(i for i, line in enumerate(lines) if "pip install" in line)
    reloaded = lines.index("systemctl daemon-reload")
    assert f"systemctl restart {unit}" in lines, lines
    restarted = lines.index(f"systemctl restart {unit}")
    assert installed < reloaded < restarted
    assert f"systemctl enable {unit}" in lines  # started at each boot too


@pytest.mark.timeout(60)
def test_install_service_restarts_a_running_raspyd(tmp_path: Path) -> None:
    _restarted_after_install(
        _dry_run(tmp_path, "install-service", f"UNIT_DIR={tmp_path}"),
        "raspyd.service",
    )


@pytest.mark.timeout(60)
def test_install_poller_restarts_a_running_poller(tmp_path: Path) -> None:
    _restarted_after_install(
        _dry_run(
            tmp_path, "install-poller", "HUB=tcp://hub:5514", f"UNIT_DIR={tmp_path}"
        ),
        "raspy-poller.service",
    )


@pytest.mark.timeout(60)
def test_install_service_checks_the_config_where_raspyd_runs(tmp_path: Path) -> None:
    """A relative path in the config is taken from raspyd's working directory, the
    unit's /run/raspy: the check before the restart looks for it there too (it
    looked in the clone `make` ran in), in the directory made as systemd makes it.
    And it runs as raspy, as raspyd does: run as root, a root-only password file
    passed the check and raspyd, which could not read it, exited at every start."""
    lines = _dry_run(tmp_path, "install-service", f"UNIT_DIR={tmp_path}")
    unit = (REPO / "raspy/defaults/raspyd.service").read_text().splitlines()
    assert "WorkingDirectory=%t/raspy" in unit  # %t: /run for a system unit
    assert "RuntimeDirectoryMode=0700" in unit
    made = lines.index("install -d -m 0700 -o raspy -g raspy /run/raspy")
    checked = lines.index(
        f"cd /run/raspy && runuser -u raspy -- {tmp_path / 'opt'}/bin/raspyd"
        " --check-config /etc/raspy/raspyd.toml"
    )
    assert made < checked < lines.index("systemctl restart raspyd.service")


def test_raspyd_starts_after_the_time_is_synchronised_where_that_is_asked() -> None:
    """Ordered after time-sync.target, which holds it only where a unit such as
    systemd-time-wait-sync is enabled: the unit itself never pulls it in."""
    unit = (REPO / "raspy/defaults/raspyd.service").read_text().splitlines()
    after = [line for line in unit if line.startswith("After=")]
    assert after == ["After=network-online.target time-sync.target"]
    pulls = [line for line in unit if line.startswith(("Wants=", "Requires="))]
    assert all("time-sync" not in line for line in pulls)


def _fake_system(tmp_path: Path, *, gpio_group: bool) -> dict[str, str]:
    """An environment whose `getent` knows a gpio group or not, and whose `usermod`
    writes its arguments to usermod.log instead of /etc/group."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    found = 0 if gpio_group else 2
    (bin_dir / "getent").write_text(
        f'#!/bin/sh\n[ "$1 $2" = "group gpio" ] && echo gpio:x:997: && exit {found}\n'
        "exit 2\n"
    )
    (bin_dir / "usermod").write_text(
        f'#!/bin/sh\necho "$@" >> {tmp_path}/usermod.log\n'
    )
    for tool in bin_dir.iterdir():
        tool.chmod(0o755)
    return {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}


def _gpio_access(
    tmp_path: Path, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    units = tmp_path / "units"
    units.mkdir(exist_ok=True)
    return subprocess.run(
        ["make", "-C", str(REPO), "install-gpio-access", f"UNIT_DIR={units}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )


@pytest.mark.timeout(60)
def test_where_a_gpio_group_exists_raspy_joins_it_and_the_unit_gets_the_chips(
    tmp_path: Path,
) -> None:
    """Raspberry Pi OS: /dev/gpiochip* belong to the gpio group, which the raspy user
    was not in, and the unit's lines for it were commented out: lgpio could not open
    a chip. Now raspy joins the group and a drop-in gives the unit the group and
    every gpiochip (a Pi 5's is gpiochip4 or gpiochip0, by kernel)."""
    env = _fake_system(tmp_path, gpio_group=True)
    drop_in = tmp_path / "units/raspyd.service.d/gpio.conf"
    shipped = REPO / "raspy/defaults/raspyd-gpio.conf"
    for _ in range(2):  # an upgrade does it again; --append keeps raspy's other groups
        result = _gpio_access(tmp_path, env)
        assert result.returncode == 0, result.stderr
        assert "GPIO: raspy is in the gpio group" in result.stdout
        assert drop_in.read_text() == shipped.read_text()
    usermod = (tmp_path / "usermod.log").read_text()
    assert usermod == "--append --groups gpio raspy\n" * 2


@pytest.mark.timeout(60)
def test_without_a_gpio_group_nothing_names_one(tmp_path: Path) -> None:
    """SupplementaryGroups=gpio on a machine with no such group keeps raspyd from
    starting: no drop-in there, and one from before (the group since removed) goes;
    the raspy user is left as it is."""
    drop_in = tmp_path / "units/raspyd.service.d/gpio.conf"
    drop_in.parent.mkdir(parents=True)
    drop_in.write_text((REPO / "raspy/defaults/raspyd-gpio.conf").read_text())
    result = _gpio_access(tmp_path, _fake_system(tmp_path, gpio_group=False))
    assert result.returncode == 0, result.stderr
    assert not drop_in.exists()
    assert not (tmp_path / "usermod.log").exists()
    assert "GPIO: no gpio group on this machine" in result.stdout


@pytest.mark.timeout(60)
def test_install_service_gives_gpio_access_before_raspyd_restarts(
    tmp_path: Path,
) -> None:
    """After the unit is written (the drop-in's directory beside it) and before
    systemd reloads the units and restarts raspyd with them."""
    lines = _dry_run(tmp_path, "install-service", f"UNIT_DIR={tmp_path}")
    written = next(i for i, line in enumerate(lines) if "raspyd.service >" in line)
    gpio = next(i for i, line in enumerate(lines) if "getent group gpio" in line)
    assert any(f"{tmp_path}/raspyd.service.d/gpio.conf" in line for line in lines)
    assert written < gpio < lines.index("systemctl daemon-reload")


@pytest.mark.timeout(60)
def test_install_service_writes_a_config_only_raspys_group_may_read(
    tmp_path: Path,
) -> None:
    """raspyd.toml offers `[mqtt] password =`: it was installed 0644, for every
    user of the Pi to read. Now root's, read by raspyd through its group."""
    lines = _dry_run(tmp_path, "install-service", f"UNIT_DIR={tmp_path}")
    assert (
        "test -e /etc/raspy/raspyd.toml || install -m 0640 -o root -g raspy"
        f" {tmp_path}/opt/share/raspy/source/raspy/defaults/raspyd.toml"
        " /etc/raspy/raspyd.toml"
    ) in lines


@dataclass(frozen=True)
class Installed:
    """What `make install-package` did, with a fake python and pip: what it said,
    and the files of the copy pip was given (where, and their paths)."""

    result: subprocess.CompletedProcess[str]
    given: Path
    files: list[str]


def _install_package(tmp_path: Path, repo: Path) -> Installed:
    prefix = tmp_path / "opt"
    (prefix / "bin").mkdir(parents=True)
    seen = tmp_path / "seen"
    fake_python = tmp_path / "python"
    fake_python.write_text('#!/bin/sh\n[ "$1 $2" = "-m venv" ] || exit 9\n')
    fake_pip = prefix / "bin/pip"
    fake_pip.write_text(
        f'#!/bin/sh\nfor last; do :; done\necho "$last" > {seen}.dir\n'
        f'cd "$last" && find . -type f | sort > {seen}.files\n'
    )
    for tool in (fake_python, fake_pip):
        tool.chmod(0o755)
    result = subprocess.run(
        [
            "make",
            "-C",
            str(repo),
            "install-package",
            f"PREFIX={prefix}",
            f"PYTHON={fake_python}",
        ],
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    given = Path((tmp_path / "seen.dir").read_text().strip())
    listed = (tmp_path / "seen.files").read_text().splitlines()
    return Installed(result, given, sorted(line.removeprefix("./") for line in listed))


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout


# what install-package runs: the ones under test, committed or not
_INSTALLER = ("Makefile", "tools/stage_source.sh")


def _with_installer(tree: Path) -> None:
    for name in _INSTALLER:
        shutil.copy2(REPO / name, tree / name)


def _clone(tmp_path: Path) -> Path:
    """A clone of this repository's last commit, to change without touching it;
    its Makefile and staging script this tree's, committed. It borrows the
    repository's objects (--shared: read only, its own commits are its own) and
    checks out only that commit's files, once."""
    clone = tmp_path / "clone"
    _git(
        tmp_path, "clone", "--quiet", "--shared", "--no-checkout", str(REPO), str(clone)
    )
    _git(clone, "checkout", "--quiet", _git(REPO, "rev-parse", "HEAD").strip())
    _with_installer(clone)
    _git(clone, "add", *_INSTALLER)
    _git(
        clone,
        "-c",
        "user.name=test",
        "-c",
        "user.email=test@example.invalid",
        "commit",
        "--quiet",
        "--allow-empty",
        "-m",
        "the installer under test",
    )
    return clone


@pytest.mark.timeout(120)
def test_raspy_is_installed_from_a_copy_of_head_and_nothing_is_written_in_the_clone(
    tmp_path: Path,
) -> None:
    """`pip install .` as root built in the clone: it left build/ and *.egg-info
    there, root's (`make clean` as the owner then failed), and the next install took
    the stale build/lib back in: modules deleted since came back. pip is given a copy
    of HEAD's files outside the clone instead, made anew each time. (A fake python
    and pip: the copy they are given is what is looked at.)"""
    clone = _clone(tmp_path)
    before = sorted(os.listdir(clone))
    (tmp_path / "opt/share/raspy/source/build").mkdir(parents=True)  # a stale build
    installed = _install_package(tmp_path, clone)
    assert installed.given == tmp_path / "opt/share/raspy/source"
    head = _git(clone, "ls-tree", "-r", "--name-only", "HEAD").splitlines()
    assert installed.files == sorted(head)
    assert sorted(os.listdir(clone)) == before
    assert installed.result.stderr == ""  # nothing left out


@pytest.mark.timeout(120)
def test_changes_not_committed_are_said_not_to_be_installed(tmp_path: Path) -> None:
    """git archive HEAD dropped them silently: an edited config default or a fix
    not committed yet was not installed, and nothing said so."""
    clone = _clone(tmp_path)
    service = clone / "raspy/defaults/raspyd.service"
    committed = service.read_text()
    service.write_text(committed + "# a local change\n")
    installed = _install_package(tmp_path, clone)
    assert "has changes not committed; they are NOT installed" in (
        installed.result.stderr
    )
    assert " M raspy/defaults/raspyd.service" in installed.result.stderr
    staged = installed.given / "raspy/defaults/raspyd.service"
    assert staged.read_text() == committed  # the units come from the same copy


@pytest.mark.timeout(120)
def test_a_download_without_git_is_installed_from_its_files_as_they_are(
    tmp_path: Path,
) -> None:
    """A ZIP download has no .git: git archive failed with git's own message. Its
    files are installed as they are, saying so; a venv or a build in it is not."""
    tree = tmp_path / "raspy-main"
    tree.mkdir()
    archive = tmp_path / "head.tar"
    _git(REPO, "archive", "-o", str(archive), "HEAD")
    subprocess.run(
        ["tar", "-x", "-f", str(archive), "-C", str(tree)], check=True, timeout=60
    )
    _with_installer(tree)
    (tree / "raspy/defaults/local.toml").write_text("# a file of this download\n")
    (tree / ".venv/bin").mkdir(parents=True)
    (tree / ".venv/bin/python").write_text("")
    (tmp_path / "install").mkdir()
    installed = _install_package(tmp_path / "install", tree)
    assert f"make: {tree} is not a git clone: installing its files as they are" in (
        installed.result.stderr
    )
    assert "raspy/defaults/local.toml" in installed.files
    assert not any(name.startswith(".venv/") for name in installed.files)
    assert "Makefile" in installed.files
