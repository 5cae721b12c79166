# Feature stage: one job per (pass, dataset, shard) decodes each video once for every enabled
# media backbone of its pass (eao.features.extract, eao.io.fused) and writes each backbone's
# Parquet shard and failures table. The default pass `media` holds every enabled backbone that
# features.passes does not put in a pass of its own (eao.workflow.passes): rule extract_<pass>.
# Recorded params: the output-affecting settings (pass_settings) and output versions of the
# pass's own backbones, so changing one backbone's settings reruns only its pass; the command's
# flags are derived from the outputs.
# Text features: one job per (encoder, dataset, shard).


for pass_name in R.extraction_passes():

    rule:
        name:
            f"extract_{pass_name}"
        wildcard_constraints:
            dataset=one_of(VIDEO_DATASETS),
        input:
            probed="results/probe/{dataset}/shard-{shard}.parquet",
            # local weights files (not `random` or a library name): replacing one reruns
            weights=R.pass_weights_inputs(pass_name),
            # the videos the probed shard names, when rule demo_world rendered them
            videos=R.dataset_videos,
        output:
            **R.pass_outputs(pass_name),
        params:
            settings=R.pass_settings(pass_name),
            args=R.pass_args(pass_name),
            runtime=R.extract_runtime,
            versions=R.pass_versions(pass_name),
        log:
            f"logs/extract/{{dataset}}/{pass_name}-{{shard}}.log",
        benchmark:
            f"benchmarks/extract/{{dataset}}/{pass_name}-{{shard}}.tsv"
        threads: 2
        shadow:
            SHADOW
        resources:
            mem_mb=12000,
            runtime="4h",
        conda:
            "../../envs/eao.yaml"
        shell:
            "python -m eao.features.extract --probed {input.probed} {params.args:q}"
            " {params.runtime:q} --threads {threads} > {log} 2>&1"


rule extract_text:
    input:
        probed="results/probe/{dataset}/shard-{shard}.parquet",
        captions="results/manifest/{dataset}/captions.parquet",
        weights=R.text_weights_input,
    output:
        features="results/features/text_{encoder}/{dataset}/shard-{shard}.parquet",
        failures="results/features/text_{encoder}/{dataset}/failures-{shard}.parquet",
    params:
        options=R.text_options,
        version=R.text_version,
    log:
        "logs/extract/{dataset}/text_{encoder}-{shard}.log",
    benchmark:
        "benchmarks/extract/{dataset}/text_{encoder}-{shard}.tsv"
    threads: 2
    shadow:
        SHADOW
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
        source=R.word2vec_input,
    output:
        directory("results/word2vec/{w2v}.kv"),
    params:
        source=R.word2vec_source,
        version=R.version("word2vec"),
    log:
        "logs/word2vec/{w2v}.log",
    benchmark:
        "benchmarks/word2vec/{w2v}.tsv"
    shadow:
        SHADOW
    resources:
        mem_mb=12000,
        runtime="1h",
    conda:
        "../../envs/eao.yaml"
    shell:
        "python -m eao.backbones.word2vec --source {params.source:q} --out {output:q} > {log} 2>&1"
