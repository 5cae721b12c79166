# Tables stage: every table of the paper and its supplement, the paper's numbers with ours beside
# them (and chance), from the evaluation results; a cell this run could not fill says why.


rule tables:
    input:
        evaluation_outputs(),
    output:
        TABLE_FILES,
    params:
        config=tables_config,
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
