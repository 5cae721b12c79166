# Feature stage: one job per (backbone, dataset, shard); each writes one Parquet shard and the
# failures of that shard. The four media rules share one definition (extract_2d) through
# Snakemake's rule inheritance; they differ only in the backbone and its outputs.


rule extract_2d:
    input:
        probed="results/probe/{dataset}/shard-{shard}.parquet",
    output:
        features="results/features/resnet152/{dataset}/shard-{shard}.parquet",
        failures="results/features/resnet152/{dataset}/failures-{shard}.parquet",
    params:
        backbone="resnet152",
        options=media_options("resnet152"),
        runtime=extract_runtime,
        code_version=EAO_VERSION,
    log:
        "logs/extract/{dataset}/resnet152-{shard}.log",
    benchmark:
        "benchmarks/extract/{dataset}/resnet152-{shard}.tsv"
    threads: 2
    resources:
        mem_mb=8000,
        runtime="4h",
    conda:
        "../../envs/eao.yaml"
    shell:
        "python -m eao.features.extract --backbone {params.backbone} --probed {input.probed}"
        " {params.options:q} {params.runtime:q} --threads {threads} --out {output.features}"
        " --out-failures {output.failures} > {log} 2>&1"


use rule extract_2d as extract_3d with:
    output:
        features="results/features/resnext101/{dataset}/shard-{shard}.parquet",
        failures="results/features/resnext101/{dataset}/failures-{shard}.parquet",
    params:
        backbone="resnext101",
        options=media_options("resnext101"),
        runtime=extract_runtime,
        code_version=EAO_VERSION,
    log:
        "logs/extract/{dataset}/resnext101-{shard}.log",
    benchmark:
        "benchmarks/extract/{dataset}/resnext101-{shard}.tsv"


use rule extract_2d as extract_clip with:
    output:
        features="results/features/clip/{dataset}/shard-{shard}.parquet",
        failures="results/features/clip/{dataset}/failures-{shard}.parquet",
    params:
        backbone="clip",
        options=media_options("clip"),
        runtime=extract_runtime,
        code_version=EAO_VERSION,
    log:
        "logs/extract/{dataset}/clip-{shard}.log",
    benchmark:
        "benchmarks/extract/{dataset}/clip-{shard}.tsv"


use rule extract_2d as extract_audio with:
    output:
        features="results/features/logmel/{dataset}/shard-{shard}.parquet",
        failures="results/features/logmel/{dataset}/failures-{shard}.parquet",
    params:
        backbone="logmel",
        options=media_options("logmel"),
        runtime=extract_runtime,
        code_version=EAO_VERSION,
    log:
        "logs/extract/{dataset}/logmel-{shard}.log",
    benchmark:
        "benchmarks/extract/{dataset}/logmel-{shard}.tsv"
    threads: 1
    resources:
        mem_mb=4000,
        runtime="4h",


rule extract_text:
    input:
        probed="results/probe/{dataset}/shard-{shard}.parquet",
        captions="results/manifest/{dataset}/captions.parquet",
        weights=text_weights_input,
    output:
        features="results/features/text_{encoder}/{dataset}/shard-{shard}.parquet",
        failures="results/features/text_{encoder}/{dataset}/failures-{shard}.parquet",
    params:
        options=text_options,
        code_version=EAO_VERSION,
    log:
        "logs/extract/{dataset}/text_{encoder}-{shard}.log",
    benchmark:
        "benchmarks/extract/{dataset}/text_{encoder}-{shard}.tsv"
    threads: 2
    resources:
        mem_mb=8000,
        runtime="2h",
    conda:
        "../../envs/eao.yaml"
    shell:
        "python -m eao.features.text --encoder {wildcards.encoder} --probed {input.probed}"
        " --captions {input.captions} {params.options:q} --threads {threads}"
        " --out {output.features} --out-failures {output.failures} > {log} 2>&1"


# A word2vec file (not `random`) is converted once into a memory-mapped folder that records the
# file's name and sha256 (eao.backbones.word2vec); extract_text reads that folder, and its
# shards record the original file as their provenance.
rule convert_word2vec:
    input:
        source=lambda wildcards: word2vec_source() or [],
    output:
        directory("results/word2vec/{w2v}.kv"),
    params:
        source=lambda wildcards: word2vec_source(),
        code_version=EAO_VERSION,
    log:
        "logs/word2vec/{w2v}.log",
    benchmark:
        "benchmarks/word2vec/{w2v}.tsv"
    resources:
        mem_mb=12000,
        runtime="1h",
    conda:
        "../../envs/eao.yaml"
    shell:
        "python -m eao.backbones.word2vec --source {params.source:q} --out {output:q} > {log} 2>&1"
