"""Token helpers (spec model.md 10 item 7): exact indices, borders, masks and conversions."""

from __future__ import annotations

import numpy as np
import pytest

from eao.data.tokens import audio_window, nearest_indices, row_range, text_tokens, video_tokens
from eao.timeline import frames_to_seconds, time_to_frame


def one_hot(n: int, dim: int = 32, dtype=np.float16) -> np.ndarray:
    """Row i = 3 * e_i: after L2 normalisation the argmax names the source row."""
    return (3 * np.eye(n, dim)).astype(dtype)


def test_nearest_indices_are_pytorch_float32_rounding():
    assert nearest_indices(9, 13)[:12].tolist() == [0, 0, 1, 2, 2, 3, 4, 4, 5, 6, 6, 7]
    assert nearest_indices(60, 12).tolist() == list(range(0, 60, 5))
    assert nearest_indices(90, 12).tolist() == [int(np.floor(i * 7.5)) for i in range(12)]
    assert nearest_indices(5, 5).tolist() == [0, 1, 2, 3, 4]


def test_video_tokens_spec_example_t2_9_t3_13():
    f2d, f3d = one_hot(9), one_hot(13)
    tokens, mask = video_tokens(f2d, f3d, 0.0, 8.0, 12)  # legacy borders: 2D [0,9), 3D [0,13)
    assert tokens.shape == (12, 64) and tokens.dtype == np.float32
    assert tokens[:, :32].argmax(1).tolist() == [0, 0, 1, 2, 2, 3, 4, 4, 5, 6, 6, 7]
    assert tokens[:, 32:].argmax(1).tolist() == list(range(12))
    np.testing.assert_allclose(np.linalg.norm(tokens[:, :32], axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(tokens[:, 32:], axis=1), 1.0, rtol=1e-6)
    assert mask.tolist() == [1.0] * 12


def test_video_tokens_halves_normalised_separately():
    rng = np.random.default_rng(0)
    f2d, f3d = rng.normal(size=(4, 6)) * 7, rng.normal(size=(6, 5)) * 0.1
    tokens, mask = video_tokens(f2d, f3d, 0.0, 3.5, 8)  # 2D [0,4), 3D [0,6)
    assert mask.tolist() == [1] * 6 + [0] * 2
    np.testing.assert_allclose(np.linalg.norm(tokens[:6, :6], axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(tokens[:6, 6:], axis=1), 1.0, rtol=1e-5)
    src = nearest_indices(4, 6)
    expect = f2d[src] / np.linalg.norm(f2d[src], axis=1, keepdims=True)
    np.testing.assert_allclose(tokens[:6, :6], expect, rtol=1e-5)
    assert not tokens[6:].any()


def test_video_window_borders_legacy_and_exact():
    # legacy (training): [int(s*r), int(e*r) + 1); exact (benchmarks): [floor(s*r), ceil(e*r))
    assert row_range(2.3, 10.3, 1.0, 100) == (2, 11)
    assert row_range(2.3, 10.3, 1.5, 100) == (3, 16)
    assert row_range(2.3, 10.3, 1.0, 100, "exact") == (2, 11)
    assert row_range(3.0, 5.0, 1.0, 100, "exact") == (3, 5)
    assert row_range(3.0, 5.0, 1.5, 100, "exact") == (4, 8)
    assert row_range(3.0, 3.0, 1.0, 100, "exact") == (3, 4)  # a zero-length segment: one row
    assert row_range(3.0, 5.0, 1.0, 100) == (3, 6)
    assert row_range(18.0, 26.0, 1.0, 20) == (18, 20)  # clipped to the rows that exist
    assert row_range(25.0, 33.0, 1.0, 20) == (20, 20)
    assert row_range(4.0, None, 1.5, 30) == (6, 30)
    with pytest.raises(ValueError):
        row_range(0, 1, 1, 1, "round")


def test_video_tokens_single_stream_and_empty_slices():
    f2d, f3d = one_hot(20), one_hot(30)
    only2d, m2 = video_tokens(f2d, None, 4.0, 12.0, 12)  # CLIP-style 2D only: rows 4..12
    assert only2d.shape == (12, 32) and m2.sum() == 9
    assert only2d[:9].argmax(1).tolist() == list(range(4, 13))
    only3d, m3 = video_tokens(None, f3d, 4.0, 12.0, 12)  # rows 6..18 -> first 12
    assert only3d.shape == (12, 32) and m3.sum() == 12
    assert only3d.argmax(1).tolist() == list(range(6, 18))
    # Past the end of the 3D features, or a half missing: zeros, zero mask (masking token).
    for a, b in ((f2d, f3d[:5]), (f2d, np.zeros((0, 32), np.float16)), (f2d[:0], f3d)):
        tokens, mask = video_tokens(a, b, 6.0, 14.0, 12)
        assert tokens.shape == (12, 64) and not tokens.any() and not mask.any()
    with pytest.raises(ValueError):
        video_tokens(None, None, 0.0, 8.0, 12)


def test_whole_video_first_tokens():
    tokens, mask = video_tokens(one_hot(20), one_hot(30), 0.0, None, 48)
    assert mask.sum() == 30
    assert tokens[:30, 32:].argmax(1).tolist() == list(range(30))
    assert tokens[:30, :32].argmax(1).tolist() == nearest_indices(20, 30).tolist()


def test_time_frame_conversions_are_the_reference_integers():
    # floor((int(t*16000) - 200) // 160): librosa 0.8.1 time_to_frames(sr=16000, hop=160, n_fft=400)
    assert time_to_frame(0.0) == -2
    assert time_to_frame(0.0124) == -1
    assert time_to_frame(0.0125) == 0
    assert time_to_frame(4.0) == 398
    assert time_to_frame(8.0) == 798
    assert time_to_frame(12.0) == 1198
    assert time_to_frame(8.5) == 848
    assert time_to_frame(3.3) == 328  # int(52800.000000000004) = 52800
    ts = np.round(np.random.default_rng(1).uniform(0, 600, 500), 2)
    expect = np.floor(((ts * 16000).astype(int) - 200) // 160).astype(int)
    assert [time_to_frame(t) for t in ts] == expect.tolist()
    assert frames_to_seconds(801) == 128360 / 16000 and int(frames_to_seconds(801)) == 8
    assert int(frames_to_seconds(768)) == 7
    # centre mapping: the first frame centred at or after t
    assert [time_to_frame(t, "centre") for t in (0.0, 0.07, 4.0, 4.001)] == [0, 7, 400, 401]
    with pytest.raises(ValueError):
        time_to_frame(1.0, "middle")


def coded_logmel(n: int) -> np.ndarray:
    """(n, 40) float16 whose band 0 / band 1 hold frame // 100 and frame % 100 (exact)."""
    k = np.arange(n)
    out = np.zeros((n, 40), np.float16)
    out[:, 0], out[:, 1] = k // 100, k % 100
    return out


def frames_of(audio: np.ndarray, mask: np.ndarray) -> list[int]:
    n = int(mask.sum())
    return (audio[0, :n] * 100 + audio[1, :n]).astype(int).tolist()


def test_audio_window_crop_pad_and_mask():
    logmel = coded_logmel(2001)
    audio, mask = audio_window(logmel, 4.0, 12.0, 768)  # frames 398..1198 -> first 768
    assert audio.shape == (40, 768) and audio.dtype == np.float32
    assert frames_of(audio, mask) == list(range(398, 398 + 768))
    audio, mask = audio_window(logmel, 0.0, 4.0, 768)  # f(0) = -2 clamped to 0
    assert frames_of(audio, mask) == list(range(0, 398)) and not audio[:, 398:].any()
    audio, mask = audio_window(logmel, 12.5, None, 768)  # no end: 768 frames from f(12.5)
    assert frames_of(audio, mask) == list(range(1248, 2001))  # only 753 exist
    assert mask[:753].all() and not mask[753:].any()
    audio, mask = audio_window(logmel, 30.0, 38.0, 768)  # past the end
    assert not mask.any() and not audio.any()
    for empty in (None, np.zeros((0, 40), np.float16)):  # no audio stream / failed
        audio, mask = audio_window(empty, 0.0, 8.0, 768)
        assert audio.shape == (40, 768) and not audio.any() and not mask.any()
    audio, mask = audio_window(logmel, 4.0, 12.0, 768, mapping="centre")
    assert frames_of(audio, mask) == list(range(400, 400 + 768))


def test_text_tokens_order_cut_and_empty():
    segs = [np.full((3, 4), i + 1, np.float32) for i in range(3)]
    text, mask = text_tokens([segs[1], segs[0], segs[2]], 20, 4)
    assert text[:9, 0].tolist() == [2, 2, 2, 1, 1, 1, 3, 3, 3]
    assert mask.tolist() == [1] * 9 + [0] * 11 and not text[9:].any()
    text, mask = text_tokens(segs * 3, 5, 4)  # first max_words
    assert text[:, 0].tolist() == [1, 1, 1, 2, 2] and mask.all()
    for empty in ([], [np.zeros((0, 4), np.float32)] * 2):  # no caption / all words OOV
        text, mask = text_tokens(empty, 20, 4)
        assert text.shape == (20, 4) and not text.any() and not mask.any()
