"""Shell completion: the candidates `igor __complete` gives, and the bash script driving it for real."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from conftest import Cluster, igor_executable, run_igor


def candidates(cluster: Cluster, *words: str) -> list[str]:
    """What `igor __complete` offers for the last of `words` (the word being typed)."""
    argv = ["igor", *words]
    out = run_igor("__complete", str(len(argv) - 1), *argv, env=cluster.env(), check=0).stdout
    return out.splitlines()


def test_verbs_flags_names_nodes_and_choices(cluster: Cluster) -> None:
    cluster.run("sub", "-r", "alpha", *cluster.boot, "-n", "2", check=0)
    cluster.run("sub", "-r", "beta", *cluster.boot, "-n", "1", check=0)
    verbs = candidates(cluster, "")
    assert {"sub", "del", "show", "power", "tui", "completion"} <= set(verbs)
    assert candidates(cluster, "del", "") == ["alpha", "beta"]
    assert candidates(cluster, "extend", "-r", "") == ["alpha", "beta"]
    assert {"-r", "-k", "-i", "-n", "-w", "-t", "-a", "-s", "--contiguous"} <= set(
        candidates(cluster, "sub", "-")
    )
    assert candidates(cluster, "sub", "-k", "") == ["__files__"]
    nodes = candidates(cluster, "sub", "-w", "")
    assert nodes[0] == "kn1" and len(nodes) == 20
    assert candidates(cluster, "power", "") == ["on", "off", "cycle"]
    assert candidates(cluster, "power", "-r", "alpha", "") == ["on", "off", "cycle"]
    assert candidates(cluster, "completion", "") == ["bash", "zsh"]
    assert candidates(cluster, "--config", "") == ["__files__"]
    assert candidates(cluster, "frobnicate", "") == []
    assert "restore" in verbs
    assert candidates(cluster, "restore", "") == []  # nothing archived yet
    cluster.run("del", "beta", check=0)
    assert candidates(cluster, "restore", "") == ["beta"]  # archived names, not live ones


def test_names_come_from_the_config_on_the_command_line(cluster: Cluster) -> None:
    cluster.run("sub", "-r", "here", *cluster.boot, "-n", "1", check=0)
    env = {**cluster.env(), "IGOR_CONFIG": "/nonexistent/igor.conf"}
    argv = ["igor", "--config", str(cluster.config_path), "del", ""]
    out = run_igor("__complete", str(len(argv) - 1), *argv, env=env, check=0).stdout
    assert out.splitlines() == ["here"]
    # No usable config: nothing offered, nothing printed on stderr, still exit 0.
    broken = run_igor("__complete", "2", "igor", "del", "", env=env, check=0)
    assert broken.stdout == "" and broken.stderr == ""


def test_bash_script_completes_reservation_names(cluster: Cluster) -> None:
    if shutil.which("bash") is None:
        pytest.skip("bash is not installed")
    cluster.run("sub", "-r", "gamma", *cluster.boot, "-n", "1", check=0)
    cluster.run("sub", "-r", "delta", *cluster.boot, "-n", "1", check=0)
    script = run_igor("completion", "bash", env=cluster.env(), check=0).stdout
    bin_dir = str(shutil.which(igor_executable()) or igor_executable()).rsplit("/", 1)[0]
    program = f'{script}\nCOMP_WORDS=(igor del g); COMP_CWORD=2; _igor; printf "%s\\n" "${{COMPREPLY[@]}}"\n'
    env = {**cluster.env(), "PATH": f"{bin_dir}:/usr/bin:/bin"}
    done = subprocess.run(
        ["bash", "-c", program], env=env, capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["gamma"]


@pytest.mark.real
def test_zsh_script_parses() -> None:
    if shutil.which("zsh") is None:
        pytest.skip("zsh is not installed (Debian package zsh)")
    from conftest import igor_env

    script = run_igor("completion", "zsh", env=igor_env("/nonexistent"), check=0).stdout
    assert script.startswith("#compdef igor")
    done = subprocess.run(
        ["zsh", "-n", "-c", script], capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 0, done.stderr


def test_completion_usage_errors() -> None:
    from conftest import igor_env

    env = igor_env("/nonexistent")
    bad = run_igor("completion", "fish", env=env, check=2)
    assert bad.stderr.strip() == "igor: completion for 'fish' is not available: choose bash or zsh"
    assert run_igor("completion", env=env, check=2).stdout.startswith("usage: igor completion")
