"""The log-mel table's time axis, shared by extraction, data loading and the model's audio tokens.

The recipe (eao.backbones.logmel; docs/features.md): 16 kHz audio, 25 ms windows (n_fft 400),
10 ms hop (160 samples), 40 mel bands. One audio token of the audio CNN covers 64 frames.

Time -> log-mel frame. Our log-mel table has the reference spectrogram's layout: 100 frames/s,
frame k centred at k*0.01 s (librosa center=True), 1 + N//160 frames for N samples. So the
reference loaders' formula applies to it unchanged and gives the same indices:
    reference: f(t) = floor((int(t*16000) - 200) // 160)        (librosa 0.8.1 time_to_frames)
It subtracts n_fft//2 as if frames were not centred, so f(t) is the frame centred ~12.5 ms
*before* t (negative for t < 12.5 ms; callers clamp at 0). It is the default because parity
with the reference indices matters more than 12.5 ms on 8-s windows. The alternative
    centre: f(t) = ceil(t*100), the first frame centred at or after t,
makes a window [a, b) hold exactly the frames centred inside it (800 frames for 8 s).
Frame count -> seconds: (n*160 + 200)/16000 (reference; used for a video's duration).


Pure Python: no torch, no numpy, so any stage may import it.
"""

from __future__ import annotations

import math

SAMPLE_RATE = 16000
N_FFT = 400  # 25 ms
HOP = 160  # 10 ms
N_MELS = 40
FRAMES_PER_SECOND = SAMPLE_RATE // HOP  # 100
AUDIO_FRAMES_PER_TOKEN = 64  # the audio CNN's six stages halve the time axis 6 times

MAPPINGS = ("reference", "centre")


def time_to_frame(t: float, mapping: str = "reference") -> int:
    """Log-mel frame index of time t (s); may be negative with the reference mapping."""
    if mapping == "reference":
        return (int(t * SAMPLE_RATE) - N_FFT // 2) // HOP  # int // int floors, like np.floor
    if mapping == "centre":
        return math.ceil(round(t * FRAMES_PER_SECOND, 6))  # round: 0.07*100 is 7.000000000000001
    raise ValueError(f"unknown frame mapping {mapping!r}; expected one of {MAPPINGS}")


def frames_to_seconds(n: int) -> float:
    """Duration (s) the reference assigns to a spectrogram of n frames."""
    return (n * HOP + N_FFT // 2) / SAMPLE_RATE
