# Tables stage: every table of the paper and its supplement, the paper's numbers with ours beside
# them (and chance), from the evaluation results; a cell this run could not fill says why.

# One HTML page per paper table (for the report), beside the .md/.tex/.csv of TABLE_FILES.
TABLE_CSV_FILES = [f for f in TABLE_FILES if f.endswith(".csv")]
PAPER_TABLES = [f.removeprefix("results/tables/").removesuffix(".csv") for f in TABLE_CSV_FILES]
TABLE_HTML_FILES = [f"results/tables/{name}.html" for name in PAPER_TABLES]


rule tables:
    input:
        R.evaluation_outputs(),
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
        code_version=EAO_VERSION,
    log:
        "logs/tables/tables.log",
    threads: 1
    resources:
        mem_mb=2000,
        runtime="10m",
    localrule: True
    conda:
        "../../envs/eao.yaml"
    shell:
        "python -m eao.tables --results results --config-json {params.config:q}"
        " --out results/tables > {log} 2>&1"


# The report's figures (`snakemake --report results/report.html` after a run): training curves
# of every pretrained variant, recall@K curves per retrieval benchmark.
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
        code_version=EAO_VERSION,
    log:
        "logs/report/figures.log",
    threads: 1
    resources:
        mem_mb=4000,
        runtime="30m",
    conda:
        "../../envs/eao.yaml"
    shell:
        "python -m eao.report --metrics {input.metrics} --retrieval {input.retrieval}"
        " --model {input.model} {params.options:q} {params.index:q} --out-dir results/report"
        " > {log} 2>&1"
