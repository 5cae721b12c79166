"""Decode a file's first audio stream to 16 kHz mono float32 with one ffmpeg call.

The reference pipeline (AVLnet/EAO; docs/features.md) wrote a WAV with
ffmpeg, then used sox for `gain -4` (dB, so that downmixing cannot clip), 1 channel and 16 kHz.
Here ffmpeg does all of it and streams raw float32 through a pipe: no temporary WAVs.
"""

from __future__ import annotations

import os
import subprocess
import tempfile

import ffmpeg
import numpy as np

from eao.io.ffmpeg import stderr_reason
from eao.io.pipe import DEFAULT_STALL_TIMEOUT_S, Stalled, StallGuardedPipe


class NoAudioStream(Exception):
    """The file has no audio stream: callers store an empty row (has_audio=false), not a failure."""


class AudioDecodeError(Exception):
    """ffmpeg could not decode the audio; the message is the reason (for a failures row)."""


def audio_command(path: str, sample_rate: int = 16000, gain_db: float = -4.0) -> list[str]:
    """The ffmpeg argument list: first audio stream -> gain -> mono, sample_rate -> f32le."""
    out = ffmpeg.input(os.path.abspath(path)).output(
        "pipe:",
        map="0:a:0",  # only the first audio stream; fails clearly when there is none
        vn=None,
        af=f"volume={gain_db}dB",
        ac=1,
        ar=sample_rate,
        # sox's `-c 1` averages the channels. swresample's own stereo->mono matrix is
        # 0.707*(L+R) and, with float samples, is not normalised; capping the matrix at 1
        # makes it normalise to the average. (Gain and mixing are linear, so their order is
        # immaterial in float.) The rate conversion is swresample's default resampler, not
        # sox's `rate`: samples differ slightly from the reference WAVs (the count does not).
        rematrix_maxval=1,
        format="f32le",
    )
    return out.global_args("-v", "error", "-nostdin").compile()


def decode_audio(
    path: str,
    sample_rate: int = 16000,
    gain_db: float = -4.0,
    stall_timeout_s: float = DEFAULT_STALL_TIMEOUT_S,
) -> np.ndarray:
    """float32 mono samples in [-1, 1] of the first audio stream of `path`.

    Raises NoAudioStream when the file has no audio stream, AudioDecodeError for anything else
    ffmpeg cannot do (missing, unreadable or damaged file, no output for `stall_timeout_s`).
    """
    path = os.path.abspath(path)
    if not os.path.isfile(path):
        raise AudioDecodeError(f"file not found: {path}")
    code, out, err = _run_ffmpeg(audio_command(path, sample_rate, gain_db), stall_timeout_s)
    if code != 0:
        # `-map 0:a:0` on a file without audio: "Stream map '0:a:0' matches no streams."
        if b"matches no streams" in err:
            raise NoAudioStream(f"no audio stream in {path}")
        raise AudioDecodeError(f"ffmpeg failed: {stderr_reason(err)}")
    wave = np.frombuffer(out, "<f4", count=len(out) // 4)
    # The reference stored 16-bit WAVs, which clip at full scale; the -4 dB gain makes that rare.
    return np.clip(wave, -1.0, 1.0).astype(np.float32)


def _run_ffmpeg(cmd: list[str], stall_timeout_s: float) -> tuple[int, bytes, bytes]:
    """(exit code, stdout, stderr) of ffmpeg; AudioDecodeError (ffmpeg killed) on a stall."""
    # stderr goes to a file, so that a chatty ffmpeg never blocks on it while we read stdout
    with tempfile.TemporaryFile() as errfile:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=errfile)
        try:
            with StallGuardedPipe(proc.stdout, stall_timeout_s) as stdout:
                out = stdout.read_all()
            code = proc.wait(timeout=stall_timeout_s)
        except Stalled as e:
            raise AudioDecodeError(str(e)) from None
        except subprocess.TimeoutExpired:
            raise AudioDecodeError(
                f"ffmpeg stalled: no exit {stall_timeout_s:g} s after its output ended"
            ) from None
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stdout.close()
        errfile.seek(0)
        return code, out, errfile.read()
