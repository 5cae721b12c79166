# Training stage: pretraining the fusion model on the corpus's feature shards (one job; under a
# GPU profile it asks for `pretrain.gpus` GPUs and runs one process per GPU with torchrun).


rule pretrain:
    input:
        unpack(pretrain_inputs),
    output:
        model="results/pretrain/model.pt",
        metrics="results/pretrain/metrics.jsonl",
    params:
        model=lambda wildcards: json.dumps(config["model"]),
        train=lambda wildcards: json.dumps(train_config()),
        launcher=pretrain_launcher,
        device=config["pretrain"].get("device", "auto"),
        out_dir=lambda wildcards, output: os.path.dirname(output.model),
        code_version=EAO_VERSION,
    log:
        "logs/pretrain/pretrain.log",
    benchmark:
        "benchmarks/pretrain/pretrain.tsv"
    threads: workflow.cores
    resources:
        mem_mb=config["pretrain"].get("mem_mb", 16000),
        runtime=config["pretrain"].get("runtime", "72h"),
        gpu=config["pretrain"].get("gpus", 1),
    conda:
        "../../envs/eao.yaml"
    shell:
        "{params.launcher} --model-config {params.model:q} --train-config {params.train:q}"
        " --video-2d {input.video_2d} --video-3d {input.video_3d} --audio {input.audio}"
        " --text {input.text} --device {params.device} --threads {threads}"
        " --out-dir {params.out_dir} > {log} 2>&1"
