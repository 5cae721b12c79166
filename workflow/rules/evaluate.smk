# Evaluation stage: text-to-video retrieval (zero-shot from results/pretrain, fine-tuned from
# results/finetune) on YouCook2 and MSR-VTT with a long-video strategy, and zero-shot step
# localization on CrossTask and Mining YouTube. One job per (model, benchmark[, strategy]).


rule evaluate_retrieval:
    input:
        unpack(R.retrieval_inputs),
    output:
        metrics="results/evaluate/retrieval/{stage}/{variant}/{dataset}/{strategy}.json",
    params:
        options=R.retrieval_options,
        version=R.version("retrieval"),
    log:
        "logs/evaluate/retrieval/{stage}/{variant}/{dataset}/{strategy}.log",
    threads: 1
    shadow:
        SHADOW
    resources:
        mem_mb=8000,
        runtime="2h",
    conda:
        "../../envs/eao.yaml"
    shell:
        "python -m eao.evaluate.retrieval --model {input.model} --manifest {input.manifest}"
        " --video-2d {input.video_2d} --video-3d {input.video_3d} --audio {input.audio}"
        " --text {input.text} {params.options:q} --threads {threads}"
        " --out {output.metrics} > {log} 2>&1"


rule evaluate_localization:
    input:
        # the model, its shards, the annotations and (demo) the release files beside them
        unpack(R.localization_inputs),
    output:
        metrics="results/evaluate/localization/{variant}/{dataset}.json",
    params:
        options=R.localization_options,
        test_list=R.test_list_arg,
        version=R.version("localization"),
    log:
        "logs/evaluate/localization/{variant}/{dataset}.log",
    threads: 1
    shadow:
        SHADOW
    resources:
        mem_mb=8000,
        runtime="2h",
    conda:
        "../../envs/eao.yaml"
    shell:
        "python -m eao.evaluate.localize --model {input.model} --manifest {input.manifest}"
        " --annotations {input.annotations:q} --video-2d {input.video_2d} --video-3d {input.video_3d}"
        " --audio {input.audio} --text {input.text} {params.options:q} {params.test_list:q}"
        " --threads {threads} --out {output.metrics} > {log} 2>&1"


# Search index of a dataset's videos (config index.datasets): every window embedded by the main
# model, and its search folder (exact, or approximate above index.ann.min_windows);
# `eao search results/index/<dataset>.parquet "a query"` and `eao serve` rank them.
rule index:
    input:
        unpack(R.index_inputs),
    output:
        index="results/index/{dataset}.parquet",
        ann=directory("results/index/{dataset}.ann"),
    params:
        options=R.index_options,
        version=R.version("index"),
    log:
        "logs/index/{dataset}.log",
    threads: 1
    shadow:
        SHADOW
    resources:
        mem_mb=8000,
        runtime="2h",
    conda:
        "../../envs/eao.yaml"
    shell:
        "python -m eao.evaluate.search index --model {input.model} --manifest {input.manifest}"
        " --video-2d {input.video_2d} --video-3d {input.video_3d} --audio {input.audio}"
        " --text {input.text} {params.options:q} --out {output.index} --out-ann {output.ann}"
        " > {log} 2>&1"
