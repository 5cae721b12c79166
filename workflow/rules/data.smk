# Data stage: the demo world, manifests, probing, the failures table.


# Every file the demo world writes is an output (eao.workflow.demo_files): each dataset's
# videos.csv, its release files and its rendered mp4 files as a directory(); the jobs that read
# the videos (probe, extract_media, report_figures) or the files beside a dataset's captions
# (manifest, evaluate_localization) declare them as inputs.
rule demo_world:
    output:
        **R.demo_outputs(),
    params:
        demo=R.demo_json,
        out=R.demo_out_dir,
        version=R.version("demo"),
    log:
        "logs/demo_world/demo_world.log",
    benchmark:
        "benchmarks/demo_world/demo_world.tsv"
    threads: 2
    shadow:
        SHADOW
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
        # videos CSV, captions and (demo) the release files their readers find beside them
        unpack(R.dataset_inputs),
    output:
        manifest="results/manifest/{dataset}/videos.parquet",
        captions="results/manifest/{dataset}/captions.parquet",
        failures="results/manifest/{dataset}/failures.parquet",
    params:
        root=R.dataset_root,
        captions=R.captions_arg,
        shard_size=config["shard_size"],
        version=R.version("manifest"),
    log:
        "logs/manifest/{dataset}.log",
    threads: 1
    shadow:
        SHADOW
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
        # the videos the manifest names, when rule demo_world rendered them
        videos=R.dataset_videos,
    output:
        probed="results/probe/{dataset}/shard-{shard}.parquet",
        failures="results/probe/{dataset}/failures-{shard}.parquet",
    params:
        decode_check="" if config["probe"]["decode_check"] else "--no-decode-check",
        min_duration_s=config["probe"]["min_duration_s"],
        version=R.version("probe"),
    log:
        "logs/probe/{dataset}/shard-{shard}.log",
    benchmark:
        "benchmarks/probe/{dataset}/shard-{shard}.tsv"
    threads: 1
    shadow:
        SHADOW
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
# shard comes from its pickle (import_features, its rows those of the probed shard, computed
# from the same pickle). The tool writes each table to the path --out names. Probe and
# extraction do not run for it.
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
        version=R.version("import"),
    log:
        "logs/import/{dataset}/manifest.log",
    threads: 1
    shadow:
        SHADOW
    resources:
        mem_mb=16000,
        runtime="1h",
    conda:
        "../../envs/eao.yaml"
    shell:
        "python -m eao.features.imported --format eao-pickle --dataset {wildcards.dataset}"
        " {params.pickles:q} --split {params.split:q} --out manifest={output.manifest}"
        " --out captions={output.captions} --out failures={output.failures}"
        " --out probed={output.probed} --out probe_failures={output.probe_failures}"
        " > {log} 2>&1"


rule import_features:
    wildcard_constraints:
        dataset=one_of(IMPORTED_DATASETS),
        backbone=one_of(RELEASED_BACKBONES),
    input:
        unpack(R.import_pickle),
    output:
        features="results/features/{backbone}/{dataset}/shard-00000.parquet",
        failures="results/features/{backbone}/{dataset}/failures-00000.parquet",
    params:
        pickles=R.import_args,
        # the probe table (import_manifest's) its rows match: recorded in its metadata, not read
        probed="results/probe/{dataset}/shard-00000.parquet",
        version=R.version("import"),
    log:
        "logs/import/{dataset}/{backbone}.log",
    threads: 1
    shadow:
        SHADOW
    resources:
        mem_mb=16000,
        runtime="1h",
    conda:
        "../../envs/eao.yaml"
    shell:
        "python -m eao.features.imported --format eao-pickle --dataset {wildcards.dataset}"
        " {params.pickles:q} --probed {params.probed} --out {wildcards.backbone}={output.features}"
        " --out {wildcards.backbone}_failures={output.failures} > {log} 2>&1"


rule failures:
    input:
        manifest="results/manifest/{dataset}/failures.parquet",
        probe=R.probe_failures,
        extract=R.extract_failures,
    output:
        table="results/failures/{dataset}.parquet",
        tsv="results/failures/{dataset}.tsv",
    params:
        version=R.version("failures"),
    log:
        "logs/failures/{dataset}.log",
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
        "python -m eao.ingest.failures --out {output.table} --out-tsv {output.tsv}"
        " {input.manifest} {input.probe} {input.extract} > {log} 2>&1"
