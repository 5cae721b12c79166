"""`eao info` and `eao doctor`: what a table holds, what a machine lacks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

import eao.features.shards as shards
from eao import cli


def test_help_lists_every_command(capsys):
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in cli.COMMANDS)
    assert cli.main(["nope"]) == 2
    assert capsys.readouterr().err == "eao: error: unknown command 'nope'\n"


def test_info_on_a_feature_shard(tmp_path, capsys):
    path = str(tmp_path / "shard.parquet")
    feats = [np.ones((n, 4), np.float16) for n in (3, 5)]
    cols = {
        "video_id": ["a", "b"],
        "times_s": [[0.5, 1.5, 2.5], [0.5] * 5],
        "features": shards.features_array(feats, 4, pa.float16()),
    }
    meta = {"backbone": "resnet152", "weights": "random", "weights_seed": "7"}
    shards.write_features(path, cols, shards.visual_schema(4), meta)
    assert cli.main(["info", path]) == 0
    out = capsys.readouterr().out
    assert "2 rows in 2 row group(s)" in out
    assert "backbone: resnet152" in out and "weights: random" in out and "weights_seed: 7" in out
    assert "features: 2 videos, 8 feature rows (3-5 per video)" in out


@pytest.mark.parametrize("content", [None, b"", b"not parquet at all"])
def test_info_on_a_missing_or_non_parquet_file_is_a_clear_error(tmp_path, capsys, content):
    path = tmp_path / "x.parquet"
    if content is not None:
        path.write_bytes(content)
    assert cli.main(["info", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"eao info: error: {path}: ") and err.count("\n") == 1


def test_doctor_without_ffmpeg_says_how_to_get_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing on PATH
    config = tmp_path / "config.yaml"
    config.write_text("features:\n  resnet152: {enabled: true, weights: /no/such/file.pth}\n")
    assert cli.main(["doctor", "--config", str(config)]) == 1
    out = capsys.readouterr().out
    assert "MISSING  ffmpeg is not on PATH" in out and "MISSING  ffprobe is not on PATH" in out
    assert "apt-get install ffmpeg" in out and "conda install -c conda-forge ffmpeg" in out
    assert "features.resnet152: /no/such/file.pth does not exist" in out
    assert "3 required thing(s) missing" in out


def test_doctor_on_this_machine_passes(capsys):
    config = Path(__file__).resolve().parents[1] / "config.yaml"
    assert cli.main(["doctor", "--config", str(config)]) == 0
    assert capsys.readouterr().out.rstrip().endswith("ready")


def fake_distribution(folder: Path, requires: list[str]) -> None:
    """An installed distribution `fake-eao` (its metadata only) requiring `requires`."""
    info = folder / "fake_eao-1.0.dist-info"
    info.mkdir(parents=True)
    lines = ["Metadata-Version: 2.1", "Name: fake-eao", "Version: 1.0"]
    lines += [f"Requires-Dist: {r}" for r in requires]
    (info / "METADATA").write_text("\n".join(lines) + "\n")


def test_doctor_checks_every_pin_of_the_installed_distribution(tmp_path, monkeypatch, capsys):
    import importlib.metadata

    from eao import doctor

    yaml_version = importlib.metadata.version("pyyaml")
    pytest_version = importlib.metadata.version("pytest")
    fake_distribution(
        tmp_path,
        [
            "pyyaml==0.0.1",  # installed, another version
            f"pytest=={pytest_version}",
            "no-such-package-eao-test==1.0",  # a dependency that is not installed
            'also-absent-eao-test==2.0; extra == "dev"',  # an optional one
            "numpy>=1",  # a range is not a pin
        ],
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    report = doctor.Report()
    doctor.check_packages(report, "fake-eao")
    out = capsys.readouterr().out
    assert f"warning  pyyaml {yaml_version}, the project pins 0.0.1" in out
    assert f"ok       pytest {pytest_version}" in out
    assert "MISSING  no-such-package-eao-test is not installed" in out
    assert "also-absent-eao-test not installed (only the [dev] extra pins it: 2.0)" in out
    assert "numpy" not in out
    assert report.missing == 1
    # pyproject.toml edited since the install: doctor says to reinstall
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\nname = "fake-eao"\ndependencies = ["pyyaml==0.0.2"]\n')
    doctor.check_packages(doctor.Report(), "fake-eao", pyproject)
    assert "lists other requirements than the installed fake-eao" in capsys.readouterr().out


def test_doctor_checks_all_of_eaos_pins(capsys):
    import importlib.metadata

    from eao import doctor

    doctor.check_packages(doctor.Report(), "eao")
    out = capsys.readouterr().out
    pinned = [r.split("==")[0] for r in importlib.metadata.requires("eao") if "==" in r]
    assert len(pinned) >= 16
    assert all(f" {name} " in out for name in pinned), out
