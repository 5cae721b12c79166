# Training stage: pretraining the fusion model (main and each ablation variant) on the corpus's
# feature shards, and fine-tuning a pretrained variant on a retrieval benchmark's training split.
# Under a GPU profile pretrain asks for `pretrain.gpus` GPUs and runs one process per GPU.
#
# Resuming, and every output declared. Both rules declare all that a finished job leaves in its
# folder: model.pt, metrics.jsonl, checkpoints/ (epoch-NNN.pt) and tensorboard/. While a job runs,
# its resume state (last.pt and the epochs so far) is in checkpoints.partial/, which no rule
# declares and which becomes checkpoints/ when the run finishes (eao.train.state). Why not declare
# the resume state: Snakemake deletes the outputs of a failed job (Job.cleanup, unless
# --keep-incomplete) and again before it reruns one (Job.remove_existing_output), and the only
# output flag that escapes the second, update(), does not keep the state across a kill either
# (snakemake 9.27.1, jobs.py prepare/postprocess, persistence backup_output/restore_output): the
# job's start copies the folder to .snakemake/backups, a failed job is put back to that copy (the
# progress of the killed attempt lost) or, on a first attempt with no copy, deleted; a backup left
# by a killed snakemake makes the next start fail (FileExistsError from copytree); and under
# `shadow: minimal` an update() output is not linked into the shadow directory and is moved back
# into the old folder (checkpoints/checkpoints). metrics.jsonl and tensorboard/ may be deleted:
# every checkpoint holds the metrics history, and a resumed run writes both anew from it
# (eao.train.metrics). resume_dir is absolute so that a job in a shadow directory (EAO_SHADOW)
# keeps its resume state in the working directory, where the rerun finds it.


rule pretrain:
    wildcard_constraints:
        # the variants it can train: not main under pretrain.checkpoint (rule import_checkpoint
        # makes it), none without its corpus (eao.workflow.plan.pretrainable_variants)
        variant=one_of(R.pretrainable_variants),
    input:
        unpack(R.pretrain_inputs),
    output:
        model="results/pretrain/{variant}/model.pt",
        metrics="results/pretrain/{variant}/metrics.jsonl",
        checkpoints=directory("results/pretrain/{variant}/checkpoints"),
        tensorboard=directory("results/pretrain/{variant}/tensorboard"),
    params:
        model=R.model_config,
        train=R.train_config,
        processes=R.pretrain_processes,
        runtime=R.train_runtime,
        launcher=R.pretrain_launcher,
        device=config["pretrain"]["device"],
        out_dir=R.model_out_dir,
        resume_dir=R.resume_dir,
        version=R.version("pretrain"),
    log:
        "logs/pretrain/{variant}.log",
    benchmark:
        "benchmarks/pretrain/{variant}.tsv"
    # capped at --cores on one machine; on a cluster the job asks for this many (no total
    # number of cores exists there, so workflow.cores cannot be used)
    threads: config["pretrain"]["threads"]
    shadow:
        SHADOW
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
        " --out-dir {params.out_dir} --resume-dir {params.resume_dir:q} > {log} 2>&1"


rule finetune:
    input:
        unpack(R.finetune_inputs),
    output:
        model="results/finetune/{variant}/{dataset}/model.pt",
        metrics="results/finetune/{variant}/{dataset}/metrics.jsonl",
        checkpoints=directory("results/finetune/{variant}/{dataset}/checkpoints"),
        tensorboard=directory("results/finetune/{variant}/{dataset}/tensorboard"),
    params:
        train=R.finetune_config,
        runtime=R.finetune_runtime,
        options=R.finetune_options,
        out_dir=R.model_out_dir,
        resume_dir=R.resume_dir,
        version=R.version("finetune"),
    log:
        "logs/finetune/{variant}/{dataset}.log",
    benchmark:
        "benchmarks/finetune/{variant}/{dataset}.tsv"
    threads: config["finetune"]["threads"]
    shadow:
        SHADOW
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
        " --threads {threads} --out-dir {params.out_dir} --resume-dir {params.resume_dir:q}"
        " > {log} 2>&1"


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
            version=R.version("import_checkpoint"),
        log:
            "logs/pretrain/import_checkpoint.log",
        threads: 1
        shadow:
            SHADOW
        resources:
            mem_mb=16000,
            runtime="30m",
        conda:
            "../../envs/eao.yaml"
        shell:
            "python -m eao.checkpoints {input.official:q} {output.model} {params.trust}"
            " > {log} 2>&1"
