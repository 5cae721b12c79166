"""The workflow's dataset/shard plan, inputs and output lists (eao.workflow.plan), on plain
config dicts: the schema's defaults filled as snakemake's validate fills them, no DAG built."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from snakemake.io import expand
from snakemake.utils import validate

from eao.backbones.registry import backbones
from eao.demo.world import DemoConfig, plan_world
from eao.tables import TABLES
from eao.workflow import demo_files, passes, plan

REPO = Path(__file__).resolve().parents[1]
SCHEMA_PATH = REPO / "workflow/schemas/config.schema.yaml"
SCHEMA = yaml.safe_load(SCHEMA_PATH.read_text())
TINY = yaml.safe_load((REPO / "tests/configs/tiny.yaml").read_text())


def validated(config: dict) -> dict:
    """The config as the rules see it: validated, the schema's defaults filled."""
    config = copy.deepcopy(config)
    validate(config, str(SCHEMA_PATH))
    return config


def own_videos(tmp_path: Path, rows: int = 3, **extra) -> dict:
    """A config of one dataset of your own videos (no captions) and whatever `extra` adds."""
    csv = tmp_path / "videos.csv"
    csv.write_text("video_id,path\n" + "".join(f"v{i},v{i}.mp4\n" for i in range(rows)))
    return validated({"datasets": {"own": {"videos": str(csv), "root": str(tmp_path)}}, **extra})


@pytest.fixture(scope="module")
def tiny() -> dict:
    return validated(TINY)


def test_registries_are_derived():
    released = [b for b, spec in backbones().items() if spec.released]
    assert sorted(plan.RELEASED_BACKBONES) == sorted(released)
    # the paper's 12 and your_benchmarks (eao.tables.yours)
    assert [t.name for t in TABLES] == plan.TABLE_NAMES and len(plan.TABLE_NAMES) == 13
    assert len(plan.TABLE_FILES) == 3 * 13 + 1 and plan.TABLE_FILES[-1] == "results/tables/index.md"


@pytest.mark.parametrize(
    "values",
    [
        {"a": ["x", "y"], "b": ["1", "2", "3"]},
        {"a": "x", "b": ["1"]},
        {"a": [], "b": ["1"]},
        {"a": ["x"], "b": "at_once"},
    ],
)
def test_paths_is_snakemakes_expand(values):
    pattern = "r/{a}/{b}.json"
    assert plan.paths(pattern, **values) == expand(pattern, **values)


def test_one_of():
    assert plan.one_of(["a", "b"]) == "a|b"
    assert plan.one_of([]) == "(?!)"


def test_shards_of_the_demo_world_come_from_its_plan(tiny):
    videos = plan_world(DemoConfig.from_config(tiny["demo"])).videos
    shards = plan.shards(tiny)
    assert list(shards) == sorted(tiny["datasets"])
    for name, ids in shards.items():
        if name == "released":  # imported: one shard whatever its size
            assert ids == ["00000"]
        else:
            n = len(videos[name])
            assert len(ids) == -(-n // tiny["shard_size"])
            assert ids[0] == "00000"


def test_shards_of_a_csv_count_its_rows(tmp_path):
    config = own_videos(tmp_path, rows=70)
    assert config["shard_size"] == 32
    assert plan.shards(config) == {"own": ["00000", "00001", "00002"]}


def test_a_missing_videos_csv_is_named(tmp_path):
    config = validated({"datasets": {"own": {"videos": str(tmp_path / "no.csv"), "root": "."}}})
    with pytest.raises(ValueError, match="dataset own: videos CSV .*no.csv does not exist"):
        plan.shards(config)


def test_demo_files_are_planned_only_when_the_demo_is_enabled(tiny):
    off = copy.deepcopy(tiny)
    off["demo"]["enabled"] = False
    csv = tiny["datasets"]["howto"]["videos"]
    assert plan.demo_planned_count(tiny, csv) == tiny["demo"]["howto_videos"]
    assert plan.demo_planned_count(off, csv) is None
    assert plan.demo_planned_count(tiny, "elsewhere/videos.csv") is None


def test_datasets_by_source(tiny):
    assert plan.imported_datasets(tiny) == ["released"]
    assert "released" not in plan.video_datasets(tiny) and "howto" in plan.video_datasets(tiny)
    assert plan.captioned(tiny, "released") and plan.captioned(tiny, "howto")
    assert not plan.captioned(tiny, "not_a_dataset")


def test_backbones_default_from_their_specs(tmp_path):
    config = own_videos(tmp_path, features={"clip": {"enabled": False}})
    assert passes.backbone_config(config, "resnet152") == {
        "enabled": True,
        "weights": "random",
        "seed": 0,
    }
    assert passes.backbone_config(config, "s3d")["size"] == 224
    assert passes.backbone_config(config, "logmel") == {"enabled": True}
    assert passes.enabled_backbones(config) == ["resnet152", "resnext101", "s3d", "logmel"]
    assert plan.encoder_config(config, "word2vec")["enabled"] is False
    assert plan.enabled_text_encoders(config) == []


def test_an_imported_dataset_has_the_backbones_of_its_pickles(tiny):
    assert plan.dataset_backbones(tiny, SCHEMA, "released") == [
        "resnet152",
        "resnext101",
        "logmel",
        "s3d",
    ]
    assert plan.dataset_backbones(tiny, SCHEMA, "howto") == passes.enabled_backbones(tiny)


def test_pass_outputs_name_each_enabled_backbone(tiny):
    outputs = passes.pass_outputs(tiny, "media")
    enabled = passes.enabled_backbones(tiny)
    assert list(outputs) == [k for b in enabled for k in (b, f"{b}_failures")]
    assert outputs["logmel"] == "results/features/logmel/{dataset}/shard-{shard}.parquet"


def test_feature_inputs_follow_the_variant(tiny):
    shards = plan.shards(tiny)
    main = plan.feature_inputs(tiny, shards, "main", "youcook2")
    assert main["video_2d"] == ["results/features/resnet152/youcook2/shard-00000.parquet"]
    assert main["text"] == [
        f"results/features/text_{tiny['pretrain']['text']}/youcook2/shard-00000.parquet"
    ]
    s3d = plan.feature_inputs(tiny, shards, "s3d", "youcook2")  # video_2d: null in the variant
    assert s3d["video_2d"] == [] and s3d["video_3d"][0].startswith("results/features/s3d/")
    finetune = plan.finetune_inputs(tiny, shards, "main", "msrvtt")
    assert finetune["init"] == "results/pretrain/main/model.pt"
    assert plan.retrieval_inputs(tiny, shards, "finetuned", "main", "msrvtt")["model"] == (
        "results/finetune/main/msrvtt/model.pt"
    )
    loc = plan.localization_inputs(tiny, shards, "main", "crosstask")
    assert loc["annotations"] == tiny["datasets"]["crosstask"]["captions"]
    assert loc["test_list"] == []  # none given: every annotated video
    listed = copy.deepcopy(tiny)
    listed["evaluate"]["localization"]["crosstask"]["test_list"] = "lists/test.csv"
    assert plan.localization_inputs(listed, shards, "main", "crosstask")["test_list"] == [
        "lists/test.csv"
    ]
    # the reader finds the annotations folder and video lists beside tasks_primary.txt
    release = "results/demo_world/crosstask/crosstask_release"
    files = ("videos.csv", "videos_val.csv", "annotations")
    assert loc["release"] == [f"{release}/{f}" for f in files]


def test_failures_gather_every_extraction_of_a_dataset(tiny):
    shards = plan.shards(tiny)
    paths = plan.extract_failures(tiny, SCHEMA, shards, "howto")
    n = len(shards["howto"])
    per_kind = len(passes.enabled_backbones(tiny)) + len(plan.enabled_text_encoders(tiny))
    assert len(paths) == per_kind * n
    assert plan.probe_failures(shards, "howto")[0] == "results/probe/howto/failures-00000.parquet"


def test_evaluation_outputs(tiny):
    out = plan.evaluation_outputs(tiny)
    assert len(out) == len(set(out))
    zeroshot = [p for p in out if "/zeroshot/" in p]
    # Table 6's strategies for main only (pos_emb is not run); at_once for every variant
    assert {p.split("/")[4] for p in zeroshot if not p.endswith("at_once.json")} == {"main"}
    assert {p.split("/")[4] for p in zeroshot} == set(plan.variant_names(tiny))
    assert {p.split("/")[3] for p in out if "/localization/" in p} == {"main", "s3d"}


def test_a_learned_positional_variant_skips_at_once(tiny):
    config = copy.deepcopy(tiny)
    config["ablations"]["variants"]["pos_emb"] = {
        "model": {"positional": "learned"},
        "pretrain": {},
    }
    config["ablations"]["run"] = ["pos_emb"]
    out = plan.evaluation_outputs(config)
    pos = [p for p in out if "/pos_emb/" in p]
    assert pos and not any(p.endswith("at_once.json") for p in pos)


def test_all_outputs_stop_after_extraction_without_captions(tmp_path):
    config = own_videos(tmp_path)
    assert not plan.can_pretrain(config)
    out = plan.all_outputs(config, SCHEMA, plan.shards(config))
    assert out[0] == "results/probe/own/shard-00000.parquet"
    assert out[-1] == "results/failures/own.parquet"
    assert not any(p.startswith(("results/pretrain", "results/tables")) for p in out)


def test_all_outputs_of_the_tiny_config(tiny):
    out = plan.all_outputs(tiny, SCHEMA, plan.shards(tiny))
    assert set(plan.TABLE_FILES) <= set(out)
    assert set(plan.evaluation_outputs(tiny)) <= set(out)
    assert "results/index/youcook2.parquet" in out
    assert "results/report/retrieval_grid.png" in out
    assert "results/features/text_hf/released/shard-00000.parquet" in out


def test_report_inputs(tiny):
    shards = plan.shards(tiny)
    inputs = plan.report_inputs(tiny, shards)
    assert inputs["metrics"] == [
        f"results/pretrain/{v}/metrics.jsonl" for v in plan.variant_names(tiny)
    ]
    assert all(p.endswith("at_once.json") for p in inputs["retrieval"])
    assert plan.attention_dataset(tiny) == "youcook2"
    # the attention's shards by kind, as the tool takes them; the grid's thumbnails' videos
    attention = plan.feature_inputs(tiny, shards, "main", "youcook2")
    assert {k: inputs[k] for k in attention} == attention
    assert inputs["videos"] == ["results/demo_world/youcook2/videos"]
    imported = copy.deepcopy(tiny)
    imported["pretrain"]["checkpoint"] = "released/model.pth"
    assert (
        "results/pretrain/main/metrics.jsonl" not in plan.report_inputs(imported, shards)["metrics"]
    )
    no_index = copy.deepcopy(tiny)
    no_index["index"]["datasets"] = []
    assert "index" not in plan.report_inputs(no_index, shards)
    assert "results/report/retrieval_grid.png" not in plan.report_outputs(no_index)


def test_the_demos_files_are_inputs_only_of_demo_datasets(tiny, tmp_path):
    """A dataset made of the demo world's files declares its videos folder and release files,
    the demo switched on or off (its rule makes them either way: switching it off reruns
    nothing); one of your own reads external data through its CSV: none."""
    assert demo_files.videos(tiny, "howto") == ["results/demo_world/howto/videos"]
    assert demo_files.release_files(tiny, "msrvtt") == [
        "results/demo_world/msrvtt/MSRVTT_train.7k.csv",
        "results/demo_world/msrvtt/MSRVTT_JSFUSION_test.csv",
    ]
    off = copy.deepcopy(tiny)
    off["demo"]["enabled"] = False
    assert demo_files.videos(off, "howto") == demo_files.videos(tiny, "howto")
    own = own_videos(tmp_path)
    for config, name in [(own, "own"), (tiny, "released")]:
        assert demo_files.videos(config, name) == demo_files.release_files(config, name) == []
    outputs = demo_files.outputs()
    assert outputs["youcook2_videos"] == "results/demo_world/youcook2/videos/"
    assert len(set(outputs.values())) == len(outputs)


def test_a_real_benchmarks_files_beside_its_captions_are_inputs(tmp_path):
    """A benchmark of downloaded files declares the release files its reader opens beside the
    captions file (eao.ingest.captions.READ_BESIDE), those that exist: an optional split list
    that is not there is no input."""
    folder = tmp_path / "msrvtt"
    folder.mkdir()
    for name in ("MSRVTT_data.json", "MSRVTT_JSFUSION_test.csv"):
        (folder / name).write_text("{}")
    config = own_videos(tmp_path)
    config["datasets"]["own"].update(
        captions=str(folder / "MSRVTT_data.json"), captions_format="msrvtt"
    )
    assert demo_files.release_files(config, "own") == [str(folder / "MSRVTT_JSFUSION_test.csv")]
