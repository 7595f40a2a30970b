"""Inputs for audio, speech, codec, time-series and decision models whose layout the generic
rules of :mod:`hf_inputs <flopwise.models.hf_inputs>` do not reach.

General rules, each from the config or the model's own first layer:

- Whisper-style stems (a ``conv1`` Conv1d over mel bins) read ``[1, mel, frames]``, mel bins
  first, with twice the encoder's positions as frames (its stride-2 conv halves them);
- a features-last encoder whose first layer is a Linear over several stacked mel frames (its
  ``in_features`` a multiple of the mel bins) reads the stacked frames: ``[1, frames / k,
  k · mel]`` (the processor stacks them);
- a Wav2Vec2-BERT feature projection (``feature_projection_input_dim``) reads that many features
  per step: two stacked 80-bin frames, 50 steps per second;
- the mel bins of an audio config under any name (``asr_config``) beat the 80-bin default;
- the main input's own mask (``input_features_mask``, ``audio_mel_mask``) covers every frame.

Models whose input no config field describes get an entry of :data:`LAYOUTS` (type → what to
make and why).

>>> stacked_steps(1000, 80, 320)
(250, 4)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from flopwise.models.specs import TensorRequest

if TYPE_CHECKING:
    from flopwise.models.hf_made import MadeInputs

__all__ = ["audio_inputs", "stacked_steps", "LAYOUTS"]

SECONDS = 10                       # the feature-input default of hf_inputs: 10 s of audio
FRAMES_PER_S = 100                 # log-mel frames per second (10 ms hop)


def stacked_steps(frames: int, mel_bins: int, in_features: int) -> tuple[int, int]:
    """Steps and frames per step when ``in_features`` holds whole stacked ``mel_bins`` frames."""
    k = in_features // mel_bins
    return frames // k, k


def _first_leaf(model: Any) -> Any:
    for module in model.modules():
        if next(module.children(), None) is None and next(module.parameters(False), None) is not None:
            return module
    return None


def _sub_with(config: Any, name: str) -> Any:
    """``config`` if it has ``name``, else its first sub-config that does."""
    if getattr(config, name, None) is not None:
        return config
    for key in dir(config):
        if key.endswith("_config") and not key.startswith("_"):
            sub = getattr(config, key, None)
            if sub is not None and getattr(sub, name, None) is not None:
                return sub
    return None


def _features_shape(made: MadeInputs) -> tuple[str, tuple[int, ...]] | None:
    """Where the made ``input_features`` lives (``""``: the main input) and its shape."""
    if made.main == "input_features" and made.shapes:
        return "", made.shapes[0]
    if "input_features" in made.kwargs:
        return "input_features", made.kwargs["input_features"].shape
    return None


def _put(made: MadeInputs, where: str, shape: tuple[int, ...], note: str) -> str:
    if where:
        made.kwargs[where] = TensorRequest(shape)
        made.notes = tuple(n for n in made.notes if not n.startswith(f"{where}:"))
        return f"{where}: {note}"
    made.shapes, made.note = (shape,), note
    return ""


def _sub_mel(model: Any, config: Any, made: MadeInputs) -> list[str]:
    """Features-last input built with the 80-bin default while a sub-config names its mel bins."""
    found = _features_shape(made)
    audio = _sub_with(config, "num_mel_bins")
    known = [getattr(c, name, None) for c in (config, getattr(config, "audio_config", None),
                                                getattr(config, "encoder_config", None))
             for name in ("feature_size", "input_feat_per_channel", "num_mel_bins")]
    if any(isinstance(value, int) for value in known):
        return []                          # hf_inputs read the size from the config itself
    if found is None or audio is None or len(found[1]) != 3 or found[1][2] == audio.num_mel_bins:
        return []
    where, shape = found
    mel = int(audio.num_mel_bins)
    note = _put(made, where, (1, shape[1], mel),
                f"{shape[1]} frames × {mel} mel bins (10 s at 100 frames/s; the audio config's "
                "num_mel_bins)")
    return [note] if note else []


def _mel_first(model: Any, config: Any, made: MadeInputs) -> list[str]:
    """A Whisper-style ``conv1`` stem over the mel bins: ``[1, mel, 2 · positions]``."""
    import torch

    found = _features_shape(made)
    if found is None or len(found[1]) != 3:
        return []
    where, shape = found
    conv = next((module for name, module in model.named_modules()
                 if name.split(".")[-1] == "conv1" and isinstance(module, torch.nn.Conv1d)), None)
    if conv is None or conv.in_channels != shape[2] or shape[1] == shape[2]:
        return []
    audio = _sub_with(config, "num_mel_bins") or config
    positions = (getattr(audio, "max_source_positions", None)
                 or getattr(audio, "max_position_embeddings", None))
    per_token = getattr(config, "audio_length_per_tok", None)
    if where and made.shapes and isinstance(per_token, int):
        # a streaming model adding one audio embedding to each token: frames follow the tokens
        frames, why = made.shapes[0][-1] * per_token, f"{per_token} frames per token"
    elif isinstance(positions, int) and positions > 0:
        # NB: the stride-2 second conv halves the frames to the encoder's positions
        frames, why = 2 * positions, "twice the encoder's positions"
    else:
        frames, why = shape[1], "10 s at 100 frames/s"
    note = _put(made, where, (1, shape[2], frames),
                f"{shape[2]} mel bins × {frames} frames (a Whisper-style conv stem over mel bins, "
                f"mel first; {why})")
    return [note] if note else []


def _stacked(model: Any, config: Any, made: MadeInputs) -> list[str]:
    """A first Linear reading ``k`` stacked mel frames per step: ``[1, frames / k, k · mel]``."""
    import torch

    found = _features_shape(made)
    first = _first_leaf(model)
    if found is None or len(found[1]) != 3 or not isinstance(first, torch.nn.Linear):
        return []
    where, (_, frames, mel) = found
    hidden = getattr(config, "hidden_size", None) or getattr(config, "d_model", None)
    if first.in_features in (mel, hidden) or first.in_features % mel:
        return []
    # NB: stacks without overlap; a processor overlapping them (FunASR's LFR: 7 frames every 6)
    # makes a few more steps of the same audio
    steps, k = stacked_steps(frames, mel, first.in_features)
    audio = _sub_with(config, "subsampling_factor")
    if audio is not None and audio.subsampling_factor == k:
        return []                # stacking subsampling (NeMo-style): the model stacks them itself
    note = _put(made, where, (1, steps, k * mel),
                f"{steps} steps × {k} stacked {mel}-bin mel frames (10 s; the first layer reads "
                f"{first.in_features} features per step)")
    return [note] if note else []


def _projection_dim(model: Any, config: Any, made: MadeInputs) -> list[str]:
    """Wav2Vec2-BERT's feature projection: ``feature_projection_input_dim`` per step, 50 steps/s."""
    found = _features_shape(made)
    size = getattr(config, "feature_projection_input_dim", None)
    if found is None or not isinstance(size, int) or found[1][-1] == size:
        return []
    steps = SECONDS * FRAMES_PER_S // 2
    # NB: its processor stacks two 10 ms frames per step (stride 2)
    note = _put(made, found[0], (1, steps, size),
                f"{steps} steps × {size} features (10 s; two stacked mel frames per step, the "
                "config's feature_projection_input_dim)")
    return [note] if note else []


def _own_mask(parameters: Any, made: MadeInputs) -> list[str]:
    """The main input's own mask (``input_features_mask``): every frame valid."""
    name = f"{made.main}_mask"
    if name not in parameters or name in made.kwargs or not made.shapes:
        return []
    shape = made.shapes[0]
    mel_first = "mel bins ×" in made.note
    frames = shape[-1] if mel_first or len(shape) == 2 else shape[1]
    if "mel" in made.main:
        # NB: Gemma 3n's audio_mel_mask marks padding; all ones on a real device pads every
        # frame, which changes no count (its conformer computes every frame either way)
        made.kwargs[name] = TensorRequest((1, frames), "bool")
        return [f"{name}: {frames} frames"]
    made.kwargs[name] = TensorRequest((1, frames), "int64")
    return [f"{name}: every one of the {frames} frames"]


Layout = Callable[[Any, Any, "MadeInputs"], list[str]]


def _mel_first_10s(model: Any, config: Any, made: MadeInputs) -> list[str]:
    mel = int(getattr(config, "num_mel_bins", 128))
    frames = SECONDS * FRAMES_PER_S
    made.shapes = ((1, mel, frames),)
    made.note = f"{mel} mel bins × {frames} frames (10 s at 100 frames/s, mel first)"
    return []


def _hop(config: Any, *fields: str) -> int:
    """Samples per frame: the product of the config's first list of ratios among ``fields``."""
    for name in fields:
        ratios = getattr(config, name, None)
        if isinstance(ratios, (list, tuple)) and ratios:
            return math.prod(int(ratio) for ratio in ratios)
        if isinstance(ratios, int):
            return ratios
    return 1


def _waveform(rate: int, channel: bool, *hop_fields: str) -> Layout:
    """One second of audio at ``rate`` Hz, rounded up to whole frames of the hop the config's
    ``hop_fields`` give, as ``[1, 1, samples]`` (``channel``) or ``[1, samples]``."""
    def make(model: Any, config: Any, made: MadeInputs) -> list[str]:
        sub = _sub_with(config, hop_fields[0]) if hop_fields else None
        hop = _hop(sub, *hop_fields) if sub is not None else 1
        samples = -(-rate // hop) * hop
        made.shapes = ((1, 1, samples) if channel else (1, samples),)
        made.note = (f"{samples / rate:.3g} s of {rate} Hz audio"
                     + (f" ({samples // hop} frames of {hop} samples)" if hop > 1 else "")
                     + (", 1 channel" if channel else ""))
        return []
    return make


def _latents(rate: int, *hop_fields: str) -> Layout:
    """A codec decoder's latents for one second of audio: ``[1, channels, frames]``, the
    channels its first layer reads, the frames ``rate / hop`` rounded up (the hop is the
    product of the config's ratios times the stride of a leading transposed conv)."""
    def make(model: Any, config: Any, made: MadeInputs) -> list[str]:
        import torch

        first = next(module for module in model.modules()
                     if isinstance(module, (torch.nn.Conv1d, torch.nn.ConvTranspose1d)))
        stride = int(first.stride[0]) if isinstance(first, torch.nn.ConvTranspose1d) else 1
        hop = _hop(config, *hop_fields) * stride
        frames = -(-rate // hop)
        made.shapes = ((1, first.in_channels, frames),)
        made.note = (f"latents of {frames * hop / rate:.3g} s of {rate} Hz audio: {frames} frames "
                     f"of {first.in_channels} channels ({hop} samples each)")
        return []
    return make


def _encoder_states(model: Any, config: Any, made: MadeInputs) -> list[str]:
    """Nemotron's word-timestamp head: the ASR encoder's states for 10 s (8× subsampled)."""
    frames = SECONDS * FRAMES_PER_S // 8
    made.shapes = ((1, frames, int(config.hidden_size)),)
    made.note = f"{frames} ASR encoder states (10 s at 100 frames/s, 8× subsampled)"
    return []


def _spectrogram(model: Any, config: Any, made: MadeInputs) -> list[str]:
    """A spectrogram transformer (AST): ``[1, max_length, num_mel_bins]`` filterbank frames."""
    frames, mel = int(config.max_length), int(config.num_mel_bins)
    made.shapes = ((1, frames, mel),)
    made.note = f"{frames} frames × {mel} mel bins (the config's max_length, num_mel_bins)"
    return []


def _mel_frames(size: str | int) -> Layout:
    """Features-last mel frames, 10 s at 100 frames/s, as many bins as the config's field
    ``size`` says (or ``size`` bins)."""
    def make(model: Any, config: Any, made: MadeInputs) -> list[str]:
        mel = int(getattr(config, size) if isinstance(size, str) else size)
        made.shapes = ((1, SECONDS * FRAMES_PER_S, mel),)
        made.note = f"{SECONDS * FRAMES_PER_S} frames × {mel} mel bins (10 s at 100 frames/s)"
        return []
    return make


def _timesfm(model: Any, config: Any, made: MadeInputs) -> list[str]:
    """TimesFM: no padding in the context, and the high-frequency class (0)."""
    steps = made.shapes[0][-1]
    made.kwargs["past_values_padding"] = TensorRequest((1, steps), "int64", high=1)
    made.kwargs["freq"] = TensorRequest((1, 1), "int64", high=1)
    return ["past_values_padding: no step padded", "freq: 0 (TimesFM's high-frequency class)"]


DECISION_STEPS = 20        # the Decision Transformer paper's Gym context length K


def _decision(model: Any, config: Any, made: MadeInputs) -> list[str]:
    """A Decision Transformer's trajectory: ``K`` steps of states, actions, rewards,
    returns-to-go and timesteps."""
    steps = DECISION_STEPS
    made.main = "states"
    made.shapes = ((1, steps, int(config.state_dim)),)
    made.note = f"{steps} steps of {config.state_dim}-d states (the paper's context K = 20)"
    made.kwargs.update({
        "actions": TensorRequest((1, steps, int(config.act_dim))),
        "rewards": TensorRequest((1, steps, 1)),
        "returns_to_go": TensorRequest((1, steps, 1)),
        "timesteps": TensorRequest((1, steps), "int64", high=int(config.max_ep_len)),
        "attention_mask": TensorRequest((1, steps), "int64"),
    })
    return [f"actions, rewards, returns_to_go, timesteps, attention_mask: {steps} steps "
            f"({config.act_dim}-d actions)"]


def _prenetless(model: Any, config: Any, made: MadeInputs) -> list[str]:
    """SpeechT5's shared encoder-decoder (no pre-nets): hidden states in and out, as many as its
    speech pre-net makes of 1 s of 16 kHz audio (one per ``prod(conv_stride)`` samples)."""
    # NB: the pre-net's convolutions trim a frame or two at the edges
    steps, hidden = 16000 // _hop(config, "conv_stride"), int(config.hidden_size)
    made.shapes = ((1, steps, hidden),)
    made.note = f"{steps} encoder states of {hidden} (1 s of 16 kHz audio after a speech pre-net)"
    made.kwargs["decoder_input_values"] = TensorRequest((1, steps, hidden))
    return [f"decoder_input_values: {steps} decoder states of {hidden} (as many as the encoder's)"]


def _clap(model: Any, config: Any, made: MadeInputs) -> list[str]:
    """CLAP's audio tower: ``[1, channels, 1001, mel]`` log-mel frames, as ClapFeatureExtractor
    makes of 10 s at 48 kHz (hop 480: 1001 frames); 4 channels when the tower fuses views."""
    audio = config.audio_config
    channels = 4 if getattr(audio, "enable_fusion", False) else 1
    mel = int(audio.num_mel_bins)
    made.kwargs["input_features"] = TensorRequest((1, channels, 1001, mel))
    made.notes = tuple(n for n in made.notes if not n.startswith("input_features:"))
    return [f"input_features: {channels} × 1001 frames × {mel} mel bins (10 s at 48 kHz, hop 480)"]


def _clvp(model: Any, config: Any, made: MadeInputs) -> list[str]:
    """CLVP's conditioning voice: ``[1, mel, 517]`` log-mel frames, as ClvpFeatureExtractor makes
    of its default 6 s at 22,050 Hz (hop 256, centred: 1 + 132,300 // 256 frames)."""
    mel = int(getattr(config.decoder_config, "feature_size", None) or 80)
    made.kwargs["input_features"] = TensorRequest((1, mel, 517))
    return [f"input_features: {mel} mel bins × 517 frames (6 s of voice at 22,050 Hz, hop 256)"]


def _beside_text(layout: Layout, name: str) -> Layout:
    """``layout``'s input made as keyword ``name`` beside a text model's token ids."""
    def make(model: Any, config: Any, made: MadeInputs) -> list[str]:
        audio = type(made)(name)            # a fresh MadeInputs (no import back: no cycle)
        layout(model, config.audio_config, audio)
        made.kwargs[name] = TensorRequest(audio.shapes[0])
        return [f"{name}: {audio.note}"]
    return make


def _kyutai(model: Any, config: Any, made: MadeInputs) -> list[str]:
    """Kyutai STT: one text token and ``num_codebooks`` audio codes per step, ``[1, T, 1 + n]``
    (codes below ``codebook_vocab_size``; the model offsets each codebook itself)."""
    steps, codes = made.shapes[0][-1], 1 + int(config.num_codebooks)
    made.shapes = ((1, steps, codes),)
    made.note = (f"{steps} steps of 1 text token + {codes - 1} audio codes "
                 f"({steps / 12.5:g} s of audio at Mimi's 12.5 frames/s)")
    made.vocab_size = int(config.codebook_vocab_size)
    return []


def _dia(model: Any, config: Any, made: MadeInputs) -> list[str]:
    """Dia's decoder reads ``decoder_config.num_channels`` codebooks per step: ``[1, T, C]``
    codes below the decoder's vocabulary, as many steps as encoder tokens."""
    decoder = config.decoder_config
    steps, channels = made.shapes[0][-1], int(decoder.num_channels)
    made.vocab_size = int(config.encoder_config.vocab_size)       # byte-level text
    made.follow.pop("decoder_input_ids", None)
    made.notes = tuple(n for n in made.notes if not n.startswith("decoder_input_ids:"))
    made.kwargs["decoder_input_ids"] = TensorRequest((1, steps, channels),
                                                     high=int(decoder.vocab_size))
    return [f"decoder_input_ids: {steps} steps × {channels} codebooks (the decoder's num_channels)"]


def _semantic_codec(model: Any, config: Any, made: MadeInputs) -> list[str]:
    """X-Codec 2-style codecs: 1 s of audio ``[1, 1, samples]`` for the acoustic encoder and its
    Wav2Vec2-BERT features ``[1, steps, feature_projection_input_dim]`` (two stacked 10 ms mel
    frames per step: 50 steps/s) for the semantic encoder; both branches give 50 frames/s."""
    rate = int(getattr(config, "input_sampling_rate", None)
               or getattr(config, "sampling_rate", None) or 16000)
    size = int(config.semantic_model_config.feature_projection_input_dim)
    steps = FRAMES_PER_S // 2
    made.shapes = ((1, 1, rate),)
    made.note = f"1 s of {rate} Hz audio, 1 channel"
    made.kwargs["input_features"] = TensorRequest((1, steps, size))
    return [f"input_features: {steps} steps × {size} features (the same 1 s; two stacked mel "
            "frames per step, the semantic config's feature_projection_input_dim)"]


LAYOUTS: dict[str, Layout] = {
    "neucodec": _semantic_codec,
    "xcodec2": _semantic_codec,
    "kyutai_speech_to_text": _kyutai,
    "dia": _dia,
    "clvp": _clvp,
    "clap": _clap,
    "speecht5": _prenetless,
    "timesfm": _timesfm,
    "decision_transformer": _decision,
    "audio-spectrogram-transformer": _spectrogram,
    "gemma3n_audio": _mel_frames("input_feat_size"),
    # Gemma4AudioFeatureExtractor's 128 bins (its projection reads 128 / 4 · 32 = 1024 features)
    "gemma4_audio": _mel_frames(128),
    # reads mel bins first in chunks of 2 · n_window (100) frames; its docs say features last
    "qwen3_asr_encoder": _mel_first_10s,
    # convolutional front ends reading [batch, 1, samples] (their docs say [batch, samples])
    "omniasr_audio": _waveform(16000, True),
    "omniasr_ctc": _waveform(16000, True),
    "pe_audio_encoder": _waveform(48000, True, "hop_length"),           # PeAudioFeatureExtractor
    "pe_audio": _beside_text(_waveform(48000, True, "hop_length"), "input_values"),
    "vibevoice_acoustic_tokenizer": _waveform(24000, True, "downsampling_ratios"),
    "vibevoice_acoustic_tokenizer_encoder": _waveform(24000, True, "downsampling_ratios"),
    # one token per 1920 samples: the input must hold whole tokens (MuseSparkFeatureExtractor)
    "muse_spark_audio": _waveform(24000, False, "patch_sizes"),
    # codec decoders: latents [batch, channels, frames]
    "mimi_decoder": _latents(24000, "upsampling_ratios"),
    "pocket_tts_audio_tokenizer_decoder": _latents(24000, "upsampling_ratios"),
    "vibevoice_acoustic_tokenizer_decoder": _latents(24000, "downsampling_ratios"),
    "nemotron3_5_transcribe_word_timestamp": _encoder_states,
}


def audio_inputs(model: Any, config: Any, parameters: Any, made: MadeInputs) -> tuple[str, ...]:
    """Adjust ``made`` for the layouts above; all its notes, with those of what changed."""
    notes: list[str] = []
    note = made.note
    layout = LAYOUTS.get(getattr(config, "model_type", ""))
    if layout is not None:
        notes.extend(layout(model, config, made))
    else:
        for rule in (_projection_dim, _sub_mel, _mel_first, _stacked):
            changed = rule(model, config, made)
            notes.extend(changed)
            if changed or made.note != note:
                break                              # one layout rule per model
    notes.extend(_own_mask(parameters, made))
    return made.notes + tuple(note for note in notes if note)
