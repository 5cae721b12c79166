"""The AVLnet/EAO log-mel: parity with the librosa recipe, frame counts, and audio decoding."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
import scipy.signal

from eao.backbones.logmel import (
    FRAMES_PER_SECOND,
    N_MELS,
    SAMPLE_RATE,
    frame_times,
    frames_for_samples,
    log_mel,
)
from eao.io.audio import AudioDecodeError, NoAudioStream, decode_audio

librosa = pytest.importorskip("librosa")  # test-only dependency

PARITY_DB = 0.01
GAIN = 10 ** (-4 / 20)


def reference_log_mel(y: np.ndarray) -> np.ndarray:
    """The original recipe, literally (audio_to_spectrograms.py with librosa 0.8.1 defaults)."""
    y = np.asarray(y, np.float32)
    if y.size == 0:
        y = np.zeros(200, np.float32)
    y = y - y.mean()
    y = np.append(y[0], y[1:] - 0.97 * y[:-1])
    stft = librosa.stft(
        y,
        n_fft=400,
        hop_length=160,
        win_length=400,
        window=scipy.signal.windows.hamming(400, sym=True),
        center=True,
        pad_mode="reflect",
    )
    power = np.abs(stft) ** 2
    mel = librosa.filters.mel(sr=16000, n_fft=400, n_mels=40, fmin=20, fmax=8000) @ power
    return librosa.power_to_db(mel, ref=np.max, amin=1e-10, top_db=80)


def generated_signal(seconds: float = 3.0, seed: int = 0) -> np.ndarray:
    """Chirp + tones + noise, with a near-silent second so that the -80 dB floor is hit."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    y = 0.3 * scipy.signal.chirp(t, 50, seconds, 7500) + 0.2 * np.sin(2 * np.pi * 440 * t)
    y += 0.1 * np.sin(2 * np.pi * 3000 * t) + 0.05 * rng.normal(size=t.size)
    y[SAMPLE_RATE : 2 * SAMPLE_RATE] *= 1e-5
    return y.astype(np.float32)


def ffmpeg(*args: str) -> None:
    subprocess.run(
        ["ffmpeg", "-v", "error", "-nostdin", "-y", *args],
        check=True,
        capture_output=True,
        timeout=60,
    )


def native_samples(path: Path) -> int:
    """Samples per channel that ffmpeg decodes from the file at its own rate."""
    out = subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-nostdin",
            "-i",
            str(path),
            "-map",
            "0:a:0",
            "-ac",
            "1",
            "-f",
            "f32le",
            "pipe:",
        ],
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout
    return len(out) // 4


@pytest.fixture(scope="module")
def demo_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from eao.demo.render import render_video
    from eao.demo.world import DemoConfig, plan_world

    cfg = DemoConfig(
        tasks=1,
        width=64,
        height=48,
        fps=12,
        howto_videos=1,
        youcook2_videos=1,
        msrvtt_videos=3,
        crosstask_videos=1,
        mining_youtube_videos=1,
        step_seconds=(1.0, 1.5),
        corrupt_videos=0,
        no_audio_videos=0,
    )
    world = plan_world(cfg)
    video = next(v for v in world.videos["howto"] if v.has_audio and not v.corrupt)
    path = tmp_path_factory.mktemp("demo") / f"{video.video_id}.mp4"
    render_video(world.tasks[video.task], video, cfg, str(path), seed=cfg.seed)
    return path


@pytest.fixture(scope="module")
def stereo_44k(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """2 s of a 440 Hz sine, amplitude 0.5 in both channels, at 44.1 kHz: PCM WAV and AAC."""
    root = tmp_path_factory.mktemp("stereo")
    wav, m4a = root / "stereo.wav", root / "stereo.m4a"
    sine = "0.5*sin(2*PI*440*t)"
    ffmpeg("-f", "lavfi", "-i", f"aevalsrc={sine}|{sine}:s=44100:d=2", str(wav))
    ffmpeg("-i", str(wav), "-c:a", "aac", str(m4a))
    return {"wav": wav, "m4a": m4a}


# --- parity with the librosa recipe ------------------------------------------------------------


def assert_parity(y: np.ndarray) -> float:
    ours, ref = log_mel(y).numpy(), reference_log_mel(y)
    assert ours.shape == ref.shape
    diff = float(np.abs(ours - ref).max())
    assert diff < PARITY_DB, f"max |ours - librosa| = {diff:.5f} dB"
    return diff


def test_parity_generated_signal():
    y = generated_signal()
    assert_parity(y)
    assert (log_mel(y) == -80).any(), "the signal should reach the 80 dB floor"


def test_parity_decoded_demo_video(demo_video):
    wave = decode_audio(str(demo_video))
    assert wave.dtype == np.float32 and wave.ndim == 1
    assert len(wave) == native_samples(demo_video)  # 16 kHz mono source: nothing resampled
    assert_parity(wave)


@pytest.mark.parametrize(
    ("sym", "pad_mode"), [(False, "reflect"), (True, "constant")], ids=["periodic", "zero-pad"]
)
def test_parity_catches_the_pitfalls(sym, pad_mode):
    """The tolerance tells the spec's pitfalls (periodic window, librosa>=0.9 zero padding)
    from the recipe, so the parity tests above do pin both choices."""
    y = generated_signal(1.0)
    pre = y - y.mean()
    pre = np.append(pre[0], pre[1:] - 0.97 * pre[:-1])
    stft = librosa.stft(
        pre,
        n_fft=400,
        hop_length=160,
        window=scipy.signal.windows.hamming(400, sym=sym),
        pad_mode=pad_mode,
    )
    mel = librosa.filters.mel(sr=16000, n_fft=400, n_mels=40, fmin=20, fmax=8000)
    wrong = librosa.power_to_db(mel @ np.abs(stft) ** 2, ref=np.max, amin=1e-10, top_db=80)
    assert np.abs(wrong - log_mel(y).numpy()).max() > 10 * PARITY_DB


# --- shapes, ranges, edge cases ----------------------------------------------------------------


@pytest.mark.parametrize("seconds", [1.0, 2.5, 7.3])
def test_frame_count_and_range(seconds):
    n = round(seconds * SAMPLE_RATE)
    y = np.random.default_rng(1).normal(0, 0.1, n).astype(np.float32)
    spec = log_mel(y)
    assert spec.dtype.is_floating_point and spec.dtype.itemsize == 4
    assert spec.shape == (N_MELS, 1 + n // 160) == (N_MELS, frames_for_samples(n))
    if seconds.is_integer():
        assert spec.shape[1] == FRAMES_PER_SECOND * seconds + 1
    assert spec.max().item() == 0.0 and spec.min().item() >= -80.0


@pytest.mark.filterwarnings("ignore:n_fft=400 is too large:UserWarning")  # librosa, short input
def test_empty_and_silent_input_like_the_reference():
    for y in (np.zeros(0, np.float32), np.zeros(1000, np.float32), np.zeros(150, np.float32)):
        ours = log_mel(y).numpy()
        np.testing.assert_array_equal(ours, reference_log_mel(y))  # librosa: 0 dB everywhere
    assert log_mel(np.zeros(0)).shape == (N_MELS, 2) and frames_for_samples(0) == 2
    short = generated_signal(0.01)  # 160 samples: shorter than the 200-sample reflect pad
    assert_parity(short)


def test_frame_times_are_frame_centres():
    times = frame_times(frames_for_samples(SAMPLE_RATE))
    assert len(times) == 101 and times[0] == 0.0
    np.testing.assert_allclose(times[:3], [0.0, 0.01, 0.02])
    np.testing.assert_allclose(times[-1], 1.0)


def test_deterministic():
    y = generated_signal(2.0, seed=3)
    assert log_mel(y).numpy().tobytes() == log_mel(y.copy()).numpy().tobytes()


# --- decode_audio --------------------------------------------------------------------------------


def test_decode_resamples_and_downmixes_exactly(stereo_44k):
    wave = decode_audio(str(stereo_44k["wav"]))
    assert wave.dtype == np.float32 and wave.ndim == 1
    assert len(wave) == 2 * SAMPLE_RATE  # no sample lost or added by the resampler
    # sox-like: -4 dB gain, channels averaged (not ffmpeg's default 0.707 * (L + R))
    peak = np.abs(wave[1000:-1000]).max()
    assert peak == pytest.approx(GAIN * 0.5, rel=0.01)
    assert np.abs(wave).max() <= 1.0


def test_decode_aac_keeps_every_decoded_sample(stereo_44k):
    # AAC pads its last frame; ffmpeg decodes the padding too (so did the reference's WAV).
    wave = decode_audio(str(stereo_44k["m4a"]))
    assert len(wave) == round(native_samples(stereo_44k["m4a"]) * SAMPLE_RATE / 44100)


def test_decode_no_audio_stream(media):
    with pytest.raises(NoAudioStream, match=media.no_audio.name):
        decode_audio(str(media.no_audio))


def test_decode_weird_file_name(media):
    assert len(decode_audio(str(media.weird))) > 0


@pytest.mark.parametrize("which", ["missing", "empty", "text"])
def test_decode_failures_are_clear(media, which):
    with pytest.raises(AudioDecodeError) as info:
        decode_audio(str(getattr(media, which)))
    message = str(info.value)
    assert message and "\n" not in message
    if which == "missing":
        assert "not found" in message
