"""The plan of the demo world: tasks, steps, and what every video shows and says. No I/O here.

A miniature instructional-video world built so that text, vision and audio are correlated: each
step of a task has its own visual signature (shape, colour, motion, stripe texture), its own
sound (two tones with an amplitude wobble) and its own narration vocabulary (verb and object
synonyms in several sentence templates). A fusion model trained on it must beat chance clearly;
a broken pipeline cannot.

`plan_world(cfg)` is a pure function of the config (seed and sizes), cheap enough to call while
Snakemake builds the DAG: it decides every video's id, length, steps and captions; `render.py`
turns a planned video into an mp4 and `formats.py` writes the datasets' files.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from eao.demo.catalogue import (
    BACKGROUNDS,
    COLOURS,
    FILLERS,
    MOTIONS,
    SHAPES,
    TASK_CATALOGUE,
    TEMPLATES,
)

DATASETS = ["howto", "youcook2", "msrvtt", "crosstask", "mining_youtube"]
YT_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


@dataclass(frozen=True)
class DemoConfig:
    """The `demo:` section of the workflow config (see workflow/schemas/config.schema.yaml)."""

    seed: int = 0
    tasks: int = 4
    width: int = 320
    height: int = 240
    fps: int = 24
    audio_rate: int = 16000
    howto_videos: int = 20
    youcook2_videos: int = 8
    msrvtt_videos: int = 12
    msrvtt_captions_per_video: int = 5
    crosstask_videos: int = 6
    mining_youtube_videos: int = 4
    step_seconds: tuple[float, float] = (1.2, 2.0)
    misaligned_narration: float = 0.2
    filler_narration: float = 0.3
    unnarrated_step: float = 0.15
    unnarrated_video: float = 0.1
    corrupt_videos: int = 1
    no_audio_videos: int = 1

    @classmethod
    def from_config(cls, section: dict) -> DemoConfig:
        known = {k: v for k, v in section.items() if k in cls.__dataclass_fields__}
        if "step_seconds" in known:
            known["step_seconds"] = tuple(known["step_seconds"])
        return cls(**known)


@dataclass(frozen=True)
class Step:
    index: int  # global step number: picks the visual and audio signature
    verbs: tuple[str, ...]
    objects: tuple[str, ...]
    shape: str
    colour: tuple[int, int, int]
    motion: str
    stripes: int
    tones: tuple[float, float]
    wobble_hz: float

    @property
    def name(self) -> str:
        return f"{self.verbs[0]} {self.objects[0]}"

    @property
    def label(self) -> str:
        return f"{self.verbs[0].split()[0]}_{self.objects[0].split()[-1]}"


@dataclass(frozen=True)
class Task:
    task_id: str
    title: str
    steps: tuple[Step, ...]
    background: tuple[int, int, int]
    noise_level: float


@dataclass
class Segment:
    """A step occurrence visible in a video, in seconds."""

    step: int  # index into the task's steps
    start: float
    end: float


@dataclass
class Caption:
    start: float
    end: float
    text: str


@dataclass
class Video:
    video_id: str
    dataset: str
    task: int  # index into World.tasks
    duration: float
    segments: list[Segment]
    captions: list[Caption] = field(default_factory=list)
    split: str | None = None
    has_audio: bool = True
    corrupt: bool = False  # written as the first half of a good file's bytes


@dataclass
class World:
    config: DemoConfig
    tasks: list[Task]
    videos: dict[str, list[Video]]  # dataset -> videos

    def to_json(self) -> dict:
        return {
            "config": asdict(self.config),
            "tasks": [
                {
                    "task_id": t.task_id,
                    "title": t.title,
                    "steps": [{"name": s.name, "label": s.label, **asdict(s)} for s in t.steps],
                }
                for t in self.tasks
            ],
            "videos": {ds: [asdict(v) for v in vs] for ds, vs in self.videos.items()},
        }


def build_tasks(n_tasks: int) -> list[Task]:
    if not 1 <= n_tasks <= len(TASK_CATALOGUE):
        raise ValueError(f"demo.tasks must be between 1 and {len(TASK_CATALOGUE)}, got {n_tasks}")
    tasks, k = [], 0
    for t, (title, steps) in enumerate(TASK_CATALOGUE[:n_tasks]):
        built = []
        for verbs, objects in steps:
            # shape = k mod 6 and colour = k mod 10 give 30 distinct pairs: no two steps look alike.
            built.append(
                Step(
                    index=k,
                    verbs=tuple(verbs),
                    objects=tuple(objects),
                    shape=SHAPES[k % len(SHAPES)],
                    colour=COLOURS[k % len(COLOURS)],
                    motion=MOTIONS[(k // 2) % len(MOTIONS)],
                    stripes=2 + (k * 3) % 7,
                    tones=(220.0 * 2 ** (k / 8), 220.0 * 2 ** (k / 8) * 1.5),
                    wobble_hz=1.5 + (k % 5),
                )
            )
            k += 1
        tasks.append(
            Task(
                task_id=str(20001 + t),
                title=title,
                steps=tuple(built),
                background=BACKGROUNDS[t % len(BACKGROUNDS)],
                noise_level=0.03 * (1 + t),
            )
        )
    return tasks


def narration(step: Step, rng: np.random.Generator) -> str:
    """One paraphrase of what the step is: a template with a verb and an object synonym."""
    template = TEMPLATES[rng.integers(len(TEMPLATES))]
    return template.format(
        v=step.verbs[rng.integers(len(step.verbs))], o=step.objects[rng.integers(len(step.objects))]
    )


def youtube_id(rng: np.random.Generator) -> str:
    return "".join(YT_ALPHABET[i] for i in rng.integers(len(YT_ALPHABET), size=11))


def _timeline(task: Task, rng, cfg: DemoConfig, skip: float) -> tuple[float, list[Segment]]:
    """Steps in the task's order (some skipped), each a few seconds, with short gaps."""
    order = [i for i in range(len(task.steps)) if rng.random() >= skip]
    if len(order) < 2:
        order = sorted(rng.choice(len(task.steps), size=2, replace=False).tolist())
    t = round(float(rng.uniform(0.5, 1.0)), 2)
    segments = []
    for i in order:
        length = round(float(rng.uniform(*cfg.step_seconds)), 2)
        segments.append(Segment(i, t, round(t + length, 2)))
        t = round(t + length + float(rng.uniform(0.0, 0.8)), 2)
    return round(t + 0.5, 2), segments


def _asr(task: Task, segments: list[Segment], duration: float, rng, cfg: DemoConfig):
    """HowTo100M-like ASR: narration near its step, sometimes off, unspoken, or filler."""
    captions = []
    for k, seg in enumerate(segments):
        if rng.random() < cfg.unnarrated_step:
            continue
        centre = (seg.start + seg.end) / 2
        if rng.random() < cfg.misaligned_narration:
            # spoken before or after it is shown, like a narrator describing the next step
            neighbour = segments[min(max(k + rng.choice([-1, 1]), 0), len(segments) - 1)]
            centre = (neighbour.start + neighbour.end) / 2 + float(rng.uniform(-0.5, 0.5))
        length = float(rng.uniform(1.5, 3.0))
        start = min(max(0.0, centre - length / 2), max(0.0, duration - length))
        captions.append(
            Caption(
                round(start, 2),
                round(min(duration, start + length), 2),
                narration(task.steps[seg.step], rng),
            )
        )
        if rng.random() < cfg.filler_narration:
            s = float(rng.uniform(0, max(0.1, duration - 1.5)))
            captions.append(
                Caption(round(s, 2), round(s + 1.5, 2), FILLERS[rng.integers(len(FILLERS))])
            )
    return sorted(captions, key=lambda c: (c.start, c.end))


def _instructional(ds: str, n: int, tasks, cfg: DemoConfig, rng, skip: float) -> list[Video]:
    videos = []
    for i in range(n):
        task = i % len(tasks)  # balanced across tasks
        duration, segments = _timeline(tasks[task], rng, cfg, skip)
        videos.append(Video(youtube_id(rng), ds, task, duration, segments))
    return videos


def _plan_howto(tasks, cfg: DemoConfig, rng) -> list[Video]:
    videos = _instructional("howto", cfg.howto_videos, tasks, cfg, rng, skip=0.15)
    for v in videos:
        if rng.random() >= cfg.unnarrated_video:
            v.captions = _asr(tasks[v.task], v.segments, v.duration, rng, cfg)
    bad = rng.permutation(len(videos))
    for j in bad[: cfg.corrupt_videos]:
        videos[j].corrupt = True
    for j in bad[cfg.corrupt_videos : cfg.corrupt_videos + cfg.no_audio_videos]:
        videos[j].has_audio = False
    return videos


def _plan_youcook2(tasks, cfg: DemoConfig, rng) -> list[Video]:
    videos = _instructional("youcook2", cfg.youcook2_videos, tasks, cfg, rng, skip=0.1)
    for i, v in enumerate(videos):
        v.split = "validation" if i % 3 == 2 or i >= len(videos) - len(tasks) else "training"
        v.captions = [
            Caption(s.start, s.end, narration(tasks[v.task].steps[s.step], rng)) for s in v.segments
        ]
    return videos


def _plan_msrvtt(tasks, cfg: DemoConfig, rng) -> list[Video]:
    """Short clips showing one step each, with several captions; a third of them are test."""
    videos = []
    all_steps = [(t, s) for t in range(len(tasks)) for s in range(len(tasks[t].steps))]
    for i in range(cfg.msrvtt_videos):
        t, s = all_steps[rng.integers(len(all_steps))]
        length = round(float(rng.uniform(2.0, 3.5)), 2)
        seg = Segment(s, 0.3, round(0.3 + length, 2))
        v = Video(f"video{i}", "msrvtt", t, round(seg.end + 0.3, 2), [seg])
        v.split = "test" if i % 3 == 2 else "train"
        v.captions = [
            Caption(0.0, v.duration, narration(tasks[t].steps[s], rng))
            for _ in range(cfg.msrvtt_captions_per_video)
        ]
        videos.append(v)
    # MSR-VTT has clips without sound; fine-tuning keeps those with audio.
    train = [v for v in videos if v.split == "train"]
    if train:
        train[-1].has_audio = False
    return videos


def plan_world(cfg: DemoConfig) -> World:
    """Everything about the demo world but the pixels and samples, from the config alone."""
    tasks = build_tasks(cfg.tasks)
    planners = {
        "howto": _plan_howto,
        "youcook2": _plan_youcook2,
        "msrvtt": _plan_msrvtt,
        "crosstask": lambda t, c, r: _instructional("crosstask", c.crosstask_videos, t, c, r, 0.2),
        "mining_youtube": lambda t, c, r: _instructional(
            "mining_youtube", c.mining_youtube_videos, t, c, r, 0.1
        ),
    }
    videos = {}
    for k, ds in enumerate(DATASETS):
        # one generator per dataset: changing one dataset's size leaves the others as they were
        videos[ds] = planners[ds](tasks, cfg, np.random.default_rng([cfg.seed, k]))
    for ds in ("crosstask", "mining_youtube"):
        for i, v in enumerate(videos[ds]):
            v.split = "val" if i % 4 == 3 else "test"
    return World(cfg, tasks, videos)
