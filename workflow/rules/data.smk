# Data stage: the demo world, manifests, probing, the failures table.


rule demo_world:
    output:
        world=f"{DEMO_DIR}/world.json",
        howto=f"{DEMO_DIR}/howto/videos.csv",
        howto_captions=f"{DEMO_DIR}/howto/caption.json",
        youcook2=f"{DEMO_DIR}/youcook2/videos.csv",
        youcook2_annotations=f"{DEMO_DIR}/youcook2/youcookii_annotations_trainval.json",
        msrvtt=f"{DEMO_DIR}/msrvtt/videos.csv",
        msrvtt_data=f"{DEMO_DIR}/msrvtt/MSRVTT_data.json",
        crosstask=f"{DEMO_DIR}/crosstask/videos.csv",
        crosstask_tasks=f"{DEMO_DIR}/crosstask/crosstask_release/tasks_primary.txt",
        mining_youtube=f"{DEMO_DIR}/mining_youtube/videos.csv",
        mining_youtube_dict=f"{DEMO_DIR}/mining_youtube/weakYouTube_dict.txt",
    params:
        demo=R.demo_json,
        out=R.demo_out_dir,
    log:
        "logs/demo_world/demo_world.log",
    benchmark:
        "benchmarks/demo_world/demo_world.tsv"
    threads: 2
    resources:
        mem_mb=2000,
        runtime="30m",
    conda:
        "../../envs/eao.yaml"
    shell:
        "python -m eao.demo --demo-json {params.demo:q} --out {params.out}"
        " --workers {threads} > {log} 2>&1"


rule manifest:
    wildcard_constraints:
        dataset=one_of(VIDEO_DATASETS),
    input:
        unpack(R.dataset_inputs),
    output:
        manifest="results/manifest/{dataset}/videos.parquet",
        captions="results/manifest/{dataset}/captions.parquet",
        failures="results/manifest/{dataset}/failures.parquet",
    params:
        root=R.dataset_root,
        captions=R.captions_arg,
        shard_size=config["shard_size"],
    log:
        "logs/manifest/{dataset}.log",
    threads: 1
    resources:
        mem_mb=4000,
        runtime="30m",
    conda:
        "../../envs/eao.yaml"
    shell:
        "python -m eao.ingest.manifest --dataset {wildcards.dataset} --videos {input.videos:q}"
        " --root {params.root:q} {params.captions:q} --shard-size {params.shard_size}"
        " --out-manifest {output.manifest} --out-captions {output.captions}"
        " --out-failures {output.failures} > {log} 2>&1"


rule probe:
    wildcard_constraints:
        dataset=one_of(VIDEO_DATASETS),
    input:
        manifest="results/manifest/{dataset}/videos.parquet",
    output:
        probed="results/probe/{dataset}/shard-{shard}.parquet",
        failures="results/probe/{dataset}/failures-{shard}.parquet",
    params:
        decode_check="" if config["probe"]["decode_check"] else "--no-decode-check",
        min_duration_s=config["probe"]["min_duration_s"],
    log:
        "logs/probe/{dataset}/shard-{shard}.log",
    benchmark:
        "benchmarks/probe/{dataset}/shard-{shard}.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime="2h",
    conda:
        "../../envs/eao.yaml"
    shell:
        "python -m eao.ingest.probe --manifest {input.manifest} --shard {wildcards.shard}"
        " {params.decode_check} --min-duration-s {params.min_duration_s}"
        " --out {output.probed} --out-failures {output.failures} > {log} 2>&1"


# A benchmark given as its released evaluation features (datasets.<name>.imported): the pickles'
# clips become the manifest, its captions and one probed shard (import_manifest); each backbone's
# shard comes from its pickle (import_features; the paths are those of --results results). Probe
# and extraction do not run for it.
rule import_manifest:
    wildcard_constraints:
        dataset=one_of(IMPORTED_DATASETS),
    input:
        unpack(R.import_pickle),
    output:
        manifest="results/manifest/{dataset}/videos.parquet",
        captions="results/manifest/{dataset}/captions.parquet",
        failures="results/manifest/{dataset}/failures.parquet",
        probed="results/probe/{dataset}/shard-00000.parquet",
        probe_failures="results/probe/{dataset}/failures-00000.parquet",
    params:
        pickles=R.import_args,
        split=R.import_split,
        code_version=EAO_VERSION,
    log:
        "logs/import/{dataset}/manifest.log",
    threads: 1
    resources:
        mem_mb=16000,
        runtime="1h",
    conda:
        "../../envs/eao.yaml"
    shell:
        "python -m eao.features.imported --format eao-pickle --dataset {wildcards.dataset}"
        " {params.pickles:q} --split {params.split:q} --only manifest --results results"
        " > {log} 2>&1"


rule import_features:
    wildcard_constraints:
        dataset=one_of(IMPORTED_DATASETS),
        backbone=one_of(MEDIA_BACKBONES),
    input:
        unpack(R.import_pickle),
    output:
        features="results/features/{backbone}/{dataset}/shard-00000.parquet",
        failures="results/features/{backbone}/{dataset}/failures-00000.parquet",
    params:
        pickles=R.import_args,
        code_version=EAO_VERSION,
    log:
        "logs/import/{dataset}/{backbone}.log",
    threads: 1
    resources:
        mem_mb=16000,
        runtime="1h",
    conda:
        "../../envs/eao.yaml"
    shell:
        "python -m eao.features.imported --format eao-pickle --dataset {wildcards.dataset}"
        " {params.pickles:q} --only {wildcards.backbone}"
        " --results results > {log} 2>&1"


rule failures:
    input:
        manifest="results/manifest/{dataset}/failures.parquet",
        probe=R.probe_failures,
        extract=R.extract_failures,
    output:
        table="results/failures/{dataset}.parquet",
        tsv="results/failures/{dataset}.tsv",
    log:
        "logs/failures/{dataset}.log",
    threads: 1
    resources:
        mem_mb=2000,
        runtime="10m",
    localrule: True
    conda:
        "../../envs/eao.yaml"
    shell:
        "python -m eao.ingest.failures --out {output.table} --out-tsv {output.tsv}"
        " {input.manifest} {input.probe} {input.extract} > {log} 2>&1"
