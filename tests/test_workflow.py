"""The workflow end to end on a tiny demo world, run through the snakemake CLI."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import torch
import yaml
from entry_files import write_released

from eao.demo.world import DATASETS as DEMO_DATASETS

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "tests" / "configs" / "tiny.yaml"

pytestmark = pytest.mark.slow


def snakemake(workdir: Path, *args: str, configfile: Path = TINY, check: bool = True):
    if not (workdir / "released").exists():  # the released pickles tiny.yaml imports
        write_released(workdir / "released")
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(REPO / "Snakefile"),
        "--directory",
        str(workdir),
        "--configfile",
        str(configfile),
        "--cores",
        "2",
        *args,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return proc


def jobs_scheduled(output: str) -> dict[str, int]:
    """The 'Job stats' table of a dry run as {rule: count}."""
    lines = output.split("Job stats:")[1].splitlines()
    counts = {}
    for line in lines[3:]:
        parts = line.split()
        if len(parts) != 2 or parts[0] == "total":
            break
        counts[parts[0]] = int(parts[1])
    return counts


def test_tiny_workflow_probes_every_video(tiny_run):
    world = yaml.safe_load(TINY.read_text())
    for ds in [d for d, settings in world["datasets"].items() if "imported" not in settings]:
        manifest = pq.read_table(tiny_run / f"results/manifest/{ds}/videos.parquet").to_pylist()
        probed = []
        for shard in sorted((tiny_run / f"results/probe/{ds}").glob("shard-*.parquet")):
            probed += pq.read_table(shard).to_pylist()
        assert [r["video_id"] for r in probed] == [r["video_id"] for r in manifest]
        failures = pq.read_table(tiny_run / f"results/failures/{ds}.parquet").to_pylist()
        assert {f["video_id"] for f in failures} == {r["video_id"] for r in probed if r["error"]}
        for r in probed:
            if not r["error"]:
                assert r["has_video"] and r["duration_s"] > 1 and r["fps"] == 12
                assert (r["width"], r["height"]) == (64, 48)


def test_corrupt_and_silent_videos_of_the_corpus(tiny_run):
    failures = pq.read_table(tiny_run / "results/failures/howto.parquet").to_pylist()
    assert len(failures) == 1 and failures[0]["stage"] == "probe"
    assert "truncated" in failures[0]["error"]
    probed = [
        r
        for p in sorted((tiny_run / "results/probe/howto").glob("shard-*.parquet"))
        for r in pq.read_table(p).to_pylist()
    ]
    silent = [r for r in probed if not r["error"] and not r["has_audio"]]
    assert len(silent) == 1
    captions = pq.read_table(tiny_run / "results/manifest/howto/captions.parquet")
    assert captions.num_rows > 0


def test_pretraining_and_zero_shot_retrieval(tiny_run):
    ckpt = torch.load(tiny_run / "results/pretrain/main/model.pt", weights_only=True)
    assert ckpt["step"] == 2 and ckpt["epoch"] == 2  # 3 usable videos, batch 2: 1 step per epoch
    assert ckpt["model_config"]["width"] == 32 and ckpt["model_config"]["text_dim"] == 384
    lines = (tiny_run / "results/pretrain/main/metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["step"] for line in lines] == [1, 2]
    zeroshot = tiny_run / "results/evaluate/retrieval/zeroshot"
    for ds in ("youcook2", "msrvtt"):
        for strategy in ("at_once", "uniform", "max_pool", "clips"):
            result = json.loads((zeroshot / f"main/{ds}/{strategy}.json").read_text())
            assert result["clips"] >= 2 and set(result["metrics"]) >= {"t2v", "t2va", "t2v+a"}
            assert result["chance"]["R1"] == pytest.approx(100 / result["clips"])
            assert result["strategy"] == strategy
            assert result["provenance"]["video_2d"]["weights"] == "random"
        # the text-video variant: no audio, so no fused va task
        tv = json.loads((zeroshot / f"tv/{ds}/at_once.json").read_text())
        assert "t2v" in tv["metrics"] and "t2va" not in tv["metrics"]


def test_finetuning_localization_and_tables(tiny_run):
    ft = torch.load(tiny_run / "results/finetune/main/youcook2/model.pt", weights_only=True)
    assert ft["train_config"]["loss_weights"] == dict.fromkeys(
        ft["train_config"]["loss_weights"], 1.0
    )
    assert ft["train_config"]["eval_mode"] is True
    result = json.loads(
        (tiny_run / "results/evaluate/retrieval/finetuned/main/youcook2/at_once.json").read_text()
    )
    assert result["split"] == "validation"
    for ds in ("crosstask", "mining_youtube"):
        loc = json.loads((tiny_run / f"results/evaluate/localization/main/{ds}.json").read_text())
        assert loc["videos"] >= 1
        for key in ("recall_pooled", "recall_per_video", "IoU", "IoD"):
            assert 0 <= loc[key] <= 100 and 0 < loc["chance"][key] <= 100
    tables = sorted(p.name for p in (tiny_run / "results/tables").iterdir())
    for name in ("table1_zeroshot_retrieval", "table3_step_localization", "supp_table6_rope"):
        assert {f"{name}.md", f"{name}.tex", f"{name}.csv"} <= set(tables)
    table4 = (tiny_run / "results/tables/table4_components.md").read_text()
    assert "not run" in table4  # no_transformer etc. are not in the tiny run


def test_pretrain_rule_under_torchrun_matches_one_process(tiny_run, tmp_path):
    """pretrain.gpus: 2 runs the rule through torchrun: 2 CPU processes (gloo), half the global
    batch each, the loss over the gathered batch. It must end with the single-process run's
    weights. The tv variant: the audio CNN's BatchNorm statistics are per rank by design (as in
    the original multi-GPU training; SyncBatchNorm is the GPU option and does not run on CPU)."""
    work = tmp_path / "work"
    shutil.copytree(tiny_run / "results", work / "results")  # mtimes kept, no job metadata
    shutil.rmtree(work / "results/pretrain/tv")
    config = yaml.safe_load(TINY.read_text())
    config["pretrain"].update(gpus=2, device="cpu")
    cfg = tmp_path / "two.yaml"
    cfg.write_text(yaml.safe_dump(config))
    target = "results/pretrain/tv/model.pt"
    assert jobs_scheduled(snakemake(work, target, "-n", configfile=cfg).stdout) == {"pretrain": 1}
    snakemake(work, target, configfile=cfg)
    assert "on 2 rank(s)" in (work / "logs/pretrain/tv.log").read_text()
    one = torch.load(tiny_run / "results/pretrain/tv/model.pt", weights_only=True)
    two = torch.load(work / "results/pretrain/tv/model.pt", weights_only=True)
    assert (one["world_size"], two["world_size"], two["step"]) == (1, 2, one["step"])
    assert one["model"].keys() == two["model"].keys()
    for key, value in one["model"].items():
        torch.testing.assert_close(two["model"][key], value, rtol=1e-4, atol=1e-5, msg=key)


def test_two_clean_runs_are_identical(tiny_run, shadow_run, record_compass):
    """Determinism (CPU): the tiny workflow run again from scratch, in a new folder and with
    every job in a shadow directory (conftest.py's shadow_run: tests/test_shadow.py), writes
    byte-identical Parquet tables, tables and JSON, the same weights and metrics. The results
    do not depend on the run's folder (paths stay relative to it). Wall-clock figures
    (throughput in metrics.jsonl, TensorBoard event times, logs, PNG figures) are left out."""
    assert shadow_run.returncode == 0, shadow_run.output[-6000:]
    first, again_root = tiny_run, shadow_run.workdir
    compared = 0
    for path in sorted((first / "results").rglob("*")):
        rel = path.relative_to(first)
        if not path.is_file() or "tensorboard" in rel.parts or path.name.startswith("."):
            continue
        again = again_root / rel
        assert again.exists(), rel
        # (the demo world's mp4 files are inputs: their frames are compared in test_demo.py)
        if path.suffix in (".parquet", ".csv", ".md", ".tex", ".json", ".txt"):
            assert again.read_bytes() == path.read_bytes(), rel
        elif path.suffix == ".pt":
            a, b = (torch.load(p, weights_only=True) for p in (path, again))
            assert a["model"].keys() == b["model"].keys(), rel
            assert all(torch.equal(v, b["model"][k]) for k, v in a["model"].items()), rel
        elif path.name == "metrics.jsonl":

            def drop_clock(p):
                return [
                    {k: v for k, v in json.loads(line).items() if k != "clips_per_s"}
                    for line in p.read_text().splitlines()
                ]

            assert drop_clock(again) == drop_clock(path), rel
        else:
            continue
        compared += 1
    assert compared > 100
    record_compass(
        "determinism", {"files compared between two clean tiny runs": compared, "differing": 0}
    )


def test_search_over_the_tiny_index(tiny_run, tmp_path):
    index = tiny_run / "results/index/youcook2.parquet"
    eao = [sys.executable, "-m", "eao.cli", "search"]
    proc = subprocess.run(
        [*eao, str(index), "cut the onion", "-k", "3", "--json"],
        capture_output=True,
        text=True,
        cwd=tiny_run,
    )
    assert proc.returncode == 0, proc.stderr
    hits = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [h["rank"] for h in hits] == [1, 2, 3]
    assert hits[0]["score"] >= hits[1]["score"] >= hits[2]["score"]
    # the demo's video paths are relative to the run's folder (its manifest's root is)
    assert all((tiny_run / h["path"]).exists() and h["end_s"] > h["start_s"] for h in hits)
    manifest = tiny_run / "results/manifest/youcook2/videos.parquet"
    for bad, needle in [
        (tmp_path / "nope.parquet", "no such index file"),
        (tiny_run / hits[0]["path"], "not an eao index (not a Parquet file"),
        (manifest, "not an eao index (a Parquet table"),
    ]:
        proc = subprocess.run([*eao, str(bad), "query"], capture_output=True, text=True)
        assert proc.returncode == 2 and needle in proc.stderr, (bad, proc.stderr)


def test_eao_index_makes_a_folder_searchable(tiny_run, tmp_path):
    """`eao index FOLDER` on two videos and a broken file, run from the run's folder: the good
    videos are indexed, the broken one is a failures row, and a second call has nothing to do."""
    folder = tmp_path / "my videos"
    (folder / "day 2").mkdir(parents=True)
    sources = sorted((tiny_run / "results/demo_world/youcook2/videos").glob("*.mp4"))[:2]
    shutil.copy(sources[0], folder / "first.mp4")
    shutil.copy(sources[1], folder / "day 2" / "second.mp4")
    (folder / "broken.mp4").write_bytes(b"not a video")
    eao = [
        sys.executable,
        "-m",
        "eao.cli",
        "index",
        str(folder),
        "--configfile",
        str(TINY),
        "--cores",
        "2",
    ]
    proc = subprocess.run(eao, capture_output=True, text=True, cwd=tiny_run, timeout=1200)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    index = pq.read_table(tiny_run / "results/index/my_videos.parquet").to_pydict()
    assert sorted(set(index["video_id"])) == ["day 2/second", "first"]
    assert "skipped broken: probe:" in proc.stdout
    failures = pq.read_table(tiny_run / "results/failures/my_videos.parquet").to_pylist()
    assert [f["video_id"] for f in failures] == ["broken"]
    search = [
        sys.executable,
        "-m",
        "eao.cli",
        "search",
        "results/index/my_videos.parquet",
        "cut the onion",
        "-k",
        "2",
    ]
    found = subprocess.run(search, capture_output=True, text=True, cwd=tiny_run)
    assert found.returncode == 0 and str(folder) in found.stdout, found.stderr
    again = subprocess.run(eao, capture_output=True, text=True, cwd=tiny_run, timeout=600)
    assert again.returncode == 0 and "Nothing to be done" in again.stdout + again.stderr


def test_report_holds_the_tables_and_figures(tiny_run):
    import base64

    from eao.tables import TABLES

    proc = snakemake(tiny_run, "--report", "report.html")
    report = (tiny_run / "report.html").read_text(errors="replace")
    for name in (
        "training.png",
        "recall_youcook2.png",
        "recall_msrvtt.png",
        "attention.png",
        "retrieval_grid.png",
        "table1_zeroshot_retrieval.csv",
        "table3_step_localization.csv",
    ):
        assert name in report, name
    assert "Report created" in proc.stdout + proc.stderr
    # Snakemake embeds each result file as a base64 data URI ("data:<mime>;charset=..;
    # filename=<name>;base64,<data>"); every paper table is there as an HTML page holding an
    # HTML table, ours beside the paper's, and its notes.
    pages = {
        name: base64.b64decode(data).decode()
        for name, data in re.findall(
            r"data:text/html;charset=[^;]*;filename=([^;\"']+);base64,([A-Za-z0-9+/=]+)", report
        )
    }
    for table in TABLES:
        page = pages.get(f"{table.name}.html")
        assert page is not None, (table.name, sorted(pages))
        assert f'<table class="paper-table" id="{table.name}">' in page and "</table>" in page
        assert "★" in page and "<h3>Notes</h3>" in page, table.name
    assert "20.0 / " in pages["table1_zeroshot_retrieval.html"]  # paper / ours / chance


def test_rerun_has_nothing_to_do(tiny_run):
    out = snakemake(tiny_run, "-n").stdout
    assert "Nothing to be done" in out


def test_forcerun_probe_reruns_only_probing(tiny_run):
    out = snakemake(tiny_run, "-n", "--forcerun", "probe", "--until", "probe").stdout
    assert jobs_scheduled(out) == {"probe": 2 + 1 + 1 + 1 + 1}  # shards of 3: howto has 4 videos
    # without --until, -R also reruns what depends on probing, and nothing upstream of it
    jobs = jobs_scheduled(snakemake(tiny_run, "-n", "--forcerun", "probe").stdout)
    assert "demo_world" not in jobs and "manifest" not in jobs
    assert jobs["probe"] == 6 and jobs["extract_media"] == 6 and jobs["extract_text"] == 3 * 6


def test_forcerun_evaluations_reruns_only_evaluations_and_tables(tiny_run):
    jobs = jobs_scheduled(snakemake(tiny_run, "-n", "--forcerun", "evaluate_retrieval").stdout)
    # main: 4 strategies x 3 datasets (youcook2, msrvtt, the imported `released`), tv and s3d:
    # at_once x 3, fine-tuned main: 2; and the report's recall figures, drawn from them
    assert jobs == {
        "evaluate_retrieval": 12 + 3 + 3 + 2,
        "tables": 1,
        "report_figures": 1,
        "all": 1,
    }


def test_changing_an_ablation_reruns_only_what_depends_on_it(tiny_run, tmp_path):
    changed = yaml.safe_load(TINY.read_text())
    changed["ablations"]["variants"]["tv"] = {"pretrain": {"audio": None, "epochs": 1}}
    cfg = tmp_path / "changed.yaml"
    cfg.write_text(yaml.safe_dump(changed))
    jobs = jobs_scheduled(snakemake(tiny_run, "-n", configfile=cfg).stdout)
    assert jobs == {  # tv's at_once on youcook2, msrvtt and the imported `released`
        "pretrain": 1,
        "evaluate_retrieval": 3,
        "tables": 1,
        "report_figures": 1,
        "all": 1,
    }


def test_default_config_dry_run_lists_jobs_per_shard(tmp_path):
    """README.md's `make demo` (snakemake on the default config), as a dry run."""
    out = snakemake(tmp_path, "-n", configfile=REPO / "config.yaml").stdout
    jobs = jobs_scheduled(out)
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    demo, size = config["demo"], config["shard_size"]
    shards = {ds: -(-demo[f"{ds}_videos"] // size) for ds in DEMO_DATASETS}  # the demo's
    n = sum(shards.values())
    variants = 1 + len(config["ablations"]["run"])
    # every variant but pos_emb (learned positions: fixed length) at once on 2 benchmarks, Table
    # 6's 3 strategies for main and pos_emb, 2 fine-tuned variants on 2 benchmarks
    retrieval = 2 * (variants - 1) + 2 * 2 * 3 + 2 * 2
    assert jobs == {
        "demo_world": 1,
        "manifest": 5,
        "probe": n,
        "extract_media": n,
        "extract_text": 3 * n,
        "failures": 5,
        "pretrain": variants,
        "finetune": 4,
        "evaluate_retrieval": retrieval,
        "evaluate_localization": 2 * 2,  # main and s3d on 2 benchmarks
        "tables": 1,
        "index": 1,  # the demo's youcook2
        "report_figures": 1,
        "all": 1,
    }


def test_slurm_profile_dry_run_gives_every_job_its_resources(tmp_path):
    """The cluster profile parses and resolves without a cluster: GPU rules ask for a GPU on
    the GPU partition, CPU rules for cores and memory, every job has a runtime."""
    out = snakemake(
        tmp_path,
        "-n",
        "--profile",
        str(REPO / "workflow/profiles/slurm"),
        "--cores",
        "64",
        configfile=REPO / "config.yaml",
    ).stdout
    jobs = {}
    for block in out.split("\nrule ")[1:]:
        name = block.split(":", 1)[0]
        resources = re.search(r"resources: (.*)", block)
        shell = re.search(r"--threads (\d+)", block)
        if resources:
            jobs[name] = (resources[1], shell and int(shell[1]))
    extract, probe, pretrain = jobs["extract_media"], jobs["probe"], jobs["pretrain"]
    assert "slurm_partition=gpu" in extract[0] and "gpu=1" in extract[0] and extract[1] == 16
    assert "slurm_partition=cpu" in probe[0] and "gpu" not in probe[0]
    assert "runtime=4320" in pretrain[0] and "mem_mb=256000" in pretrain[0]
    assert all("runtime=" in r and "mem_mb=" in r for r, _ in jobs.values())
    # sbatch --nodes=1 for every job (torchrun --standalone: one node), pretrain included
    assert all("nodes=1" in r for r, _ in jobs.values()) and "nodes=1" in pretrain[0]
    # finetune's memory and runtime are the config's (schema defaults 32000 MB, 12h), not the
    # profile's
    finetune = jobs["finetune"][0]
    assert "mem_mb=32000" in finetune and "runtime=720" in finetune and "gpu=1" in finetune


@pytest.mark.parametrize(
    "change, named",
    [
        ({"shard_sise": 3}, "shard_sise"),
        ({"shard_size": "many"}, "shard_size"),
        ({"probe": {"decode_chek": False}}, "decode_chek"),
        ({"datasets": {"mine": {"videos": "v.csv"}}}, "root"),
        ({"demo": {"enabled": True, "fps": "fast"}}, "fps"),
        (
            {"index": {"datasets": ["youcok2"]}},
            "index.datasets: unknown dataset 'youcok2' "
            "(the config's datasets: crosstask, howto, mining_youtube, msrvtt, released, youcook2)",
        ),
    ],
)
def test_bad_config_stops_with_the_key_named(tmp_path, change, named):
    config = yaml.safe_load(TINY.read_text())
    for key, value in change.items():
        if isinstance(value, dict) and isinstance(config.get(key), dict):
            config[key] = {**config[key], **value}
        else:
            config[key] = value
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(config))
    proc = snakemake(tmp_path, "-n", configfile=path, check=False)
    assert proc.returncode != 0
    message = proc.stdout + proc.stderr
    assert "Invalid config at" in message
    assert named in message


def test_an_unknown_dataset_in_a_target_is_named_with_the_known_ones(tmp_path):
    proc = snakemake(tmp_path, "-n", "results/index/youcok2.parquet", check=False)
    assert proc.returncode != 0
    assert (
        "unknown dataset 'youcok2' (the config's datasets: crosstask, howto, "
        "mining_youtube, msrvtt, released, youcook2)"
    ) in proc.stdout + proc.stderr
    assert "KeyError" not in proc.stdout + proc.stderr


def test_nested_config_overrides_work_as_typed(tmp_path):
    """`--config` parses nested values as strings; the workflow reads them with their types."""
    out = snakemake(
        tmp_path,
        "-n",
        "-p",
        "--until",
        "extract_media",
        "--config",
        "features={batch_size: 5, device: cpu, resnet152: {seed: 3}}",
    ).stdout
    assert "--batch-size 5" in out and "--seed resnet152=3" in out
    proc = snakemake(tmp_path, "-n", "--config", "features={batch_size: many}", check=False)
    assert proc.returncode != 0
    assert "Invalid config at features.batch_size" in proc.stdout + proc.stderr


def test_own_videos_and_a_path_outside_the_root(tmp_path, tiny_run):
    """A user's CSV: good videos are probed; a path that leaves the root is a clear error."""
    root = tmp_path / "data"
    (root / "clips").mkdir(parents=True)
    sources = sorted((tiny_run / "results/demo_world/youcook2/videos").glob("*.mp4"))
    for i, src in enumerate(sources):
        shutil.copy(src, root / "clips" / f"my clip {i}.mp4")
    (root / "videos.csv").write_text(
        "path\n" + "".join(f"clips/my clip {i}.mp4\n" for i in range(len(sources)))
    )
    config = {
        "shard_size": 2,
        "demo": {"enabled": False},
        "datasets": {"mine": {"videos": str(root / "videos.csv"), "root": str(root)}},
    }
    cfg = tmp_path / "mine.yaml"
    cfg.write_text(yaml.safe_dump(config))
    work = tmp_path / "work"
    work.mkdir()
    snakemake(work, configfile=cfg)
    probed = pq.read_table(work / "results/probe/mine/shard-00000.parquet").to_pylist()
    assert [r["video_id"] for r in probed] == ["my clip 0", "my clip 1"]
    assert all(r["error"] is None for r in probed)

    (root / "videos.csv").write_text("path\nclips/my clip 0.mp4\n../outside.mp4\n")
    proc = snakemake(work, "--forcerun", "manifest", configfile=cfg, check=False)
    assert proc.returncode != 0
    log = (work / "logs/manifest/mine.log").read_text()
    assert "outside the data root" in log and "line 3" in log and "videos.csv" in log
