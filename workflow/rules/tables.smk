# Tables stage: every table of the paper and its supplement, the paper's numbers with ours beside
# them (and chance), from the evaluation results; a cell this run could not fill says why. The
# tools read exactly their inputs, named on the command line, and write their declared outputs
# into the folder of the first one (params out_dir).

# One HTML page per table (for the report), beside the .md/.tex/.csv of TABLE_FILES.
TABLE_CSV_FILES = [f for f in TABLE_FILES if f.endswith(".csv")]
PAPER_TABLES = [f.removeprefix("results/tables/").removesuffix(".csv") for f in TABLE_CSV_FILES]
TABLE_HTML_FILES = [f"results/tables/{name}.html" for name in PAPER_TABLES]


# Inputs: the evaluation results of this run that the tables read (eao.tables.result_keys:
# eao.workflow.options.table_inputs), nothing else; the tool reads exactly these and refuses a
# result no table reads.
rule tables:
    input:
        evaluations=R.table_inputs(),
    output:
        [f for f in TABLE_FILES if f not in TABLE_CSV_FILES],
        # each paper table as an HTML table (ours beside the paper's, the notes under it),
        # shown inline in the report; its CSV is a download there
        html=[
            report(
                f, caption="../report/table.rst", category="Paper tables", labels={"table": name}
            )
            for f, name in zip(TABLE_HTML_FILES, PAPER_TABLES)
        ],
        csv=[
            report(
                f"results/tables/{name}.csv",
                caption="../report/table_csv.rst",
                category="Paper tables (CSV)",
                labels={"table": name},
            )
            for name in PAPER_TABLES
        ],
    params:
        config=R.tables_config,
        out_dir=R.out_dir,
        version=R.version("tables"),
    log:
        "logs/tables/tables.log",
    threads: 1
    shadow:
        SHADOW
    resources:
        mem_mb=2000,
        runtime="10m",
    localrule: True
    conda:
        "../../envs/eao.yaml"
    shell:
        "python -m eao.tables --evaluations {input.evaluations} --config-json {params.config:q}"
        " --out {params.out_dir} > {log} 2>&1"


# The report's figures (`snakemake --report results/report.html` after a run): training curves
# of every pretrained variant, recall@K curves per retrieval benchmark, the main model's attention
# over its feature shards of one benchmark (video_2d, video_3d, audio, text: explicit paths), the
# search grid with thumbnails cut from the index's videos (the demo's videos folder an input).
rule report_figures:
    input:
        unpack(R.report_inputs),
    output:
        training=report(
            "results/report/training.png", caption="../report/training.rst", category="Training"
        ),
        recall=[
            report(
                f"results/report/recall_{d}.png",
                caption="../report/recall.rst",
                category="Retrieval",
            )
            for d in R.retrieval_datasets()
        ],
        attention=report(
            "results/report/attention.png", caption="../report/attention.rst", category="Analysis"
        ),
        grid=(
            [
                report(
                    "results/report/retrieval_grid.png",
                    caption="../report/grid.rst",
                    category="Analysis",
                )
            ]
            if config["index"]["datasets"]
            else []
        ),
    params:
        options=R.report_options,
        index=R.report_index_args,
        out_dir=R.out_dir,
        version=R.version("report"),
    log:
        "logs/report/figures.log",
    threads: 1
    shadow:
        SHADOW
    resources:
        mem_mb=4000,
        runtime="30m",
    conda:
        "../../envs/eao.yaml"
    shell:
        "python -m eao.report --metrics {input.metrics} --retrieval {input.retrieval}"
        " --model {input.model} --video-2d {input.video_2d} --video-3d {input.video_3d}"
        " --audio {input.audio} --text {input.text} {params.options:q} {params.index:q}"
        " --out-dir {params.out_dir} > {log} 2>&1"
