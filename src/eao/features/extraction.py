"""The state of one shard's extraction while its videos' chunks arrive (eao.features.extract):
each video's current decode attempt, and each backbone's batcher, audio rows and errors.

A video whose one-pass decode fails is decoded again one stream at a time (eao.features.
decoding's RESTART): what its first attempt gave is dropped, so the inputs of a video are kept
per attempt (`Attempt.key` names them in the batchers).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from eao.backbones.spec import Audio, Visual
from eao.features.visual import Batcher
from eao.io.fused import AUDIO

Result = tuple[dict[int, np.ndarray], dict[int, str]]  # features and errors by row index


@dataclass
class Attempt:
    """One decode attempt of one video: the inputs each backbone got, the open windowers of
    backbones whose inputs span chunks, and the audio blocks."""

    video: int
    number: int = 0
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    windowers: dict[str, object] = field(default_factory=dict)
    waves: list[np.ndarray] = field(default_factory=list)

    @property
    def key(self) -> tuple[int, int]:
        return (self.video, self.number)


class Extraction:
    """Chunks in (frames, audio, errors, a video's end or restart), rows and errors out."""

    def __init__(
        self,
        visuals: dict[str, Visual],
        audios: dict[str, Audio],
        batch_size: int,
        device: str,
        autocast: bool,
    ) -> None:
        self.visuals, self.audios = visuals, audios
        self.batchers = {n: Batcher(v, batch_size, device, autocast) for n, v in visuals.items()}
        self.errors: dict[str, dict[int, str]] = {n: {} for n in [*visuals, *audios]}
        self.audio_rows: dict[str, dict[int, np.ndarray]] = {n: {} for n in audios}
        self.attempts: dict[int, Attempt] = {}
        self.fallbacks: list[int] = []  # videos decoded again one stream at a time

    def attempt(self, video: int) -> Attempt:
        if video not in self.attempts:
            self.attempts[video] = Attempt(video)
        return self.attempts[video]

    def restart(self, video: int) -> None:
        """The fused decode failed: drop what it gave; the streams come again one by one."""
        self.fallbacks.append(video)
        old = self.attempt(video)
        for batcher in self.batchers.values():
            batcher.drop(old.key)
        self.attempts[video] = Attempt(video, old.number + 1)
        for errors in self.errors.values():
            errors.pop(video, None)

    def frames(self, video: int, name: str, chunk: np.ndarray) -> None:
        attempt, vis = self.attempt(video), self.visuals[name]
        if vis.windows is None:
            self._add(attempt, name, vis.to_inputs(chunk))
            return
        if name not in attempt.windowers:
            attempt.windowers[name] = vis.windows()
        self._add(attempt, name, attempt.windowers[name].push(chunk))

    def audio(self, video: int, block: np.ndarray) -> None:
        self.attempt(video).waves.append(block)

    def failed(self, video: int, stream: str, error: Exception) -> None:
        """A stream of the video failed: a failures row for each backbone it feeds."""
        attempt = self.attempt(video)
        if stream == AUDIO:
            for name in self.audios:
                self.errors[name][video] = f"audio decode failed: {error}"
            attempt.waves.clear()
        else:
            self.errors[stream][video] = str(error)
            self.batchers[stream].drop(attempt.key)
            attempt.windowers.pop(stream, None)

    def done(self, video: int) -> None:
        """The video's streams ended: its audio rows, and the windows still open at its end."""
        attempt = self.attempt(video)
        wave = np.concatenate(attempt.waves) if attempt.waves else np.zeros(0, np.float32)
        for name, aud in self.audios.items():
            if video not in self.errors[name]:
                self.audio_rows[name][video] = aud.features(wave)
        attempt.waves.clear()
        for name, windower in attempt.windowers.items():
            if video not in self.errors[name]:
                self._add(attempt, name, windower.finish())
        attempt.windowers.clear()

    def results(self, videos: int) -> dict[str, Result]:
        """Each backbone's rows by video and errors, once every video is done."""
        results = {}
        for name, batcher in self.batchers.items():
            batcher.flush()
            features, errors = {}, self.errors[name]
            for video in range(videos):
                if video in errors:
                    continue
                attempt = self.attempt(video)
                matrix = batcher.rows(attempt.key, attempt.counts[name])
                if matrix is None:
                    errors[video] = "no frames decoded"
                else:
                    features[video] = matrix
            results[name] = (features, errors)
        for name in self.audios:
            results[name] = (self.audio_rows[name], self.errors[name])
        return results

    def _add(self, attempt: Attempt, name: str, inputs) -> None:
        self.batchers[name].add(attempt.key, attempt.counts[name], inputs)
        attempt.counts[name] += len(inputs)
