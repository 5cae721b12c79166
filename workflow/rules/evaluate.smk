# Evaluation stage: zero-shot text-to-video retrieval of the pretrained model on each retrieval
# benchmark of config `evaluate.retrieval` (YouCook2: caption segments; MSR-VTT: whole videos).


rule zeroshot_retrieval:
    input:
        unpack(retrieval_inputs),
    output:
        metrics="results/evaluate/zeroshot/{dataset}.json",
    params:
        options=retrieval_options,
        code_version=EAO_VERSION,
    log:
        "logs/evaluate/zeroshot-{dataset}.log",
    threads: 2
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
