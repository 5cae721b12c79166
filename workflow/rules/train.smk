# Training stage: pretraining the fusion model (main and each ablation variant) on the corpus's
# feature shards, and fine-tuning a pretrained variant on a retrieval benchmark's training split.
# Under a GPU profile pretrain asks for `pretrain.gpus` GPUs and runs one process per GPU.


rule pretrain:
    wildcard_constraints:
        # with pretrain.checkpoint set, main is imported (rule import_checkpoint), not trained
        variant=r"(?!main$)[A-Za-z0-9_]+" if R.imported_checkpoint() else r"[A-Za-z0-9_]+",
    input:
        unpack(R.pretrain_inputs),
    output:
        model="results/pretrain/{variant}/model.pt",
        metrics="results/pretrain/{variant}/metrics.jsonl",
    params:
        model=R.model_config,
        train=R.train_config,
        processes=R.pretrain_processes,
        runtime=R.train_runtime,
        launcher=R.pretrain_launcher,
        device=config["pretrain"]["device"],
        out_dir=R.model_out_dir,
        code_version=EAO_VERSION,
    log:
        "logs/pretrain/{variant}.log",
    benchmark:
        "benchmarks/pretrain/{variant}.tsv"
    # capped at --cores on one machine; on a cluster the job asks for this many (no total
    # number of cores exists there, so workflow.cores cannot be used)
    threads: config["pretrain"]["threads"]
    resources:
        mem_mb=config["pretrain"]["mem_mb"],
        runtime=config["pretrain"]["runtime"],
        gpu=config["pretrain"]["gpus"],
    conda:
        "../../envs/eao.yaml"
    shell:
        "{params.launcher} --model-config {params.model:q} --train-config {params.runtime:q}"
        " --video-2d {input.video_2d} --video-3d {input.video_3d} --audio {input.audio}"
        " --text {input.text} --device {params.device} --threads {threads}"
        " --out-dir {params.out_dir} > {log} 2>&1"


rule finetune:
    input:
        unpack(R.finetune_inputs),
    output:
        model="results/finetune/{variant}/{dataset}/model.pt",
        metrics="results/finetune/{variant}/{dataset}/metrics.jsonl",
    params:
        train=R.finetune_config,
        runtime=R.finetune_runtime,
        options=R.finetune_options,
        out_dir=R.model_out_dir,
        code_version=EAO_VERSION,
    log:
        "logs/finetune/{variant}/{dataset}.log",
    benchmark:
        "benchmarks/finetune/{variant}/{dataset}.tsv"
    threads: config["finetune"]["threads"]
    resources:
        mem_mb=config["finetune"]["mem_mb"],
        runtime=config["finetune"]["runtime"],
        gpu=1,
    conda:
        "../../envs/eao.yaml"
    shell:
        "python -m eao.train.finetune --init {input.init} --manifest {input.manifest}"
        " --video-2d {input.video_2d} --video-3d {input.video_3d} --audio {input.audio}"
        " --text {input.text} --train-config {params.runtime:q} {params.options:q}"
        " --threads {threads} --out-dir {params.out_dir} > {log} 2>&1"


# With pretrain.checkpoint set, the main model is the released checkpoint, converted.
if R.imported_checkpoint():

    rule import_checkpoint:
        input:
            official=R.imported_checkpoint(),
        output:
            model="results/pretrain/main/model.pt",
        params:
            # whether the import may unpickle objects, not what it writes: a function of
            # threads, so snakemake does not record it (eao.workflow.adapters)
            trust=R.checkpoint_trust,
        log:
            "logs/pretrain/import_checkpoint.log",
        threads: 1
        resources:
            mem_mb=16000,
            runtime="30m",
        conda:
            "../../envs/eao.yaml"
        shell:
            "python -m eao.checkpoints {input.official:q} {output.model} {params.trust}"
            " > {log} 2>&1"
