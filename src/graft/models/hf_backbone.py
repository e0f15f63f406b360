"""``hf:NAME_OR_PATH``: any Hugging Face transformers encoder, text or vision.

A local folder is read as it is; a hub id is read from the local Hugging Face cache,
and downloaded into it first when it is not there and the Hub answers. When it is not
cached and the Hub does not answer within seconds, the build fails at once with what
to do instead, rather than after transformers' retries.

The encoder is wrapped so it returns pooled features: the mean of the token states
under the attention mask (``--pooling mean``, the sentence-transformers default) or the
first token's state (``--pooling cls``). Its spec names the tokenizer, so data is
tokenised once with dynamic padding; layer groups are the embeddings, then one group
per transformer block, so layer-wise LR decay and ``--trainable last-N`` work on text
as on images.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

from graft.data.base import InputSpec
from graft.errors import ConfigError
from graft.models.hub_access import first_line, local_model_folder
from graft.models.introspect import adapter_target_names, no_decay_names
from graft.models.options import DataInfo, ModelOptions
from graft.models.spec import BackboneSpec
from graft.warnings_filter import quiet_third_party

_LAYER = re.compile(r"(?:^|\.)(?:layers?|blocks?|h)\.(\d+)\.")
POOLINGS = ("mean", "cls")
DEFAULT_MAX_LENGTH = 128
#: Transformers fine-tune at a tenth of a CNN's learning rate (see BackboneSpec.lr_scale).
TRANSFORMER_LR_SCALE = 0.1
_DECODER = re.compile(r"(ForCausalLM|LMHeadModel|ForConditionalGeneration)$")


class HFEncoder(nn.Module):
    """A transformers encoder returning pooled features ``[B, hidden_size]``.

    Args:
        model: The transformers model (``AutoModel``).
        pooling: ``mean`` (masked mean of the token states) or ``cls`` (first token).
    """

    def __init__(self, model: nn.Module, pooling: str = "mean") -> None:
        super().__init__()
        self.model = model
        self.pooling = pooling

    def forward(self, x: Any) -> torch.Tensor:
        if isinstance(x, torch.Tensor):
            out = self.model(pixel_values=x) if x.is_floating_point() else self.model(input_ids=x)
            mask = None
        else:
            inputs = dict(x)
            out = self.model(**inputs)
            mask = inputs.get("attention_mask")
        hidden = out.last_hidden_state
        if hidden.ndim == 4:  # convolutional vision encoders: [B, C, H, W]
            return hidden.mean(dim=(2, 3))
        if self.pooling == "cls":
            return hidden[:, 0]
        if mask is None:
            return hidden.mean(dim=1)
        weights = mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1e-9)

    def reset_weights(self) -> None:
        """Fresh weights drawn by the model's own initialiser (``scratch``)."""
        from transformers import AutoModel

        fresh = AutoModel.from_config(self.model.config)
        _drop_pooler(fresh)
        self.model.load_state_dict(fresh.state_dict())


def build_hf(
    name: str, data_info: DataInfo, options: ModelOptions, *, display_name: str | None = None
) -> tuple[nn.Module, BackboneSpec]:
    """Load ``name`` (a local folder, or a hub id) with transformers.

    Args:
        name: What ``AutoModel.from_pretrained`` takes.
        data_info: The data (its kind picks text or image input for multimodal configs).
        options: ``pretrained``, ``pooling``, ``max_length``, ``image_size``.
        display_name: The spec shown in reports (``builtin:minilm``); ``hf:NAME`` by default.

    Raises:
        ConfigError: transformers cannot load it (not a model, or a hub id neither cached
            nor reachable), it is not an encoder (a decoder-only or sequence-to-sequence
            model), or an unknown pooling.
    """
    if options.pooling not in POOLINGS:
        raise ConfigError(f"--pooling must be one of {', '.join(POOLINGS)}. Got '{options.pooling}' instead.")
    source = local_model_folder(name, options.pretrained)
    from transformers import AutoConfig  # after the offline check: an offline failure costs no import

    try:
        config = AutoConfig.from_pretrained(source, local_files_only=True)
    except (OSError, ValueError, KeyError) as exc:
        raise ConfigError(
            f"transformers could not load 'hf:{name}' ({first_line(exc)}). Allowed: a local folder saved "
            "with save_pretrained (hf:/path/to/model), or a Hugging Face Hub id (hf:org/name). "
            "Fix: check the path or the id."
        ) from exc
    _check_encoder(name, config)
    model = _load_weights(name, source) if options.pretrained else _from_config(config)
    _drop_pooler(model)
    backbone = HFEncoder(model, options.pooling)
    hidden = int(getattr(config, "hidden_size", 0) or getattr(config, "hidden_sizes", [0])[-1])
    if getattr(config, "num_channels", None) and data_info.kind == "image":
        side = options.image_size or int(getattr(config, "image_size", 224))
        input_spec = InputSpec(kind="image", channels=int(config.num_channels), size=(side, side),
                               mean=(0.5,) * 3, std=(0.5,) * 3)
    else:
        input_spec = InputSpec(kind="text", max_length=_max_length(config, options), tokenizer=str(name))
    spec = BackboneSpec(
        name=display_name or f"hf:{name}",
        feature_dim=hidden,
        input=input_spec,
        groups=layer_index_groups(backbone),
        no_weight_decay=no_decay_names(backbone),
        adapter_targets=default_adapter_targets(backbone, getattr(config, "model_type", "")),
        lr_scale=TRANSFORMER_LR_SCALE,
    )
    return backbone, spec


def _load_weights(name: str, source: str) -> nn.Module:
    """The pretrained encoder from folder ``source``; says in graft's words when encoder weights are missing."""
    from transformers import AutoModel

    try:
        with _quiet_transformers(), quiet_third_party():
            model, info = AutoModel.from_pretrained(source, local_files_only=True, output_loading_info=True)
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise ConfigError(
            f"transformers could not load the weights of 'hf:{name}' ({first_line(exc)}). "
            "Fix: check the folder holds model.safetensors (or pytorch_model.bin) saved from this "
            "config, or pass --no-pretrained."
        ) from exc
    # A task head left unused (unexpected keys) is normal when loading an encoder, and the
    # pooler is dropped below; other missing weights would silently start at random.
    missing = sorted(k for k in info.get("missing_keys", ()) if "pooler" not in k.split("."))
    if missing:
        from graft.notes import note

        note(
            f"{len(missing)} weight(s) of hf:{name} are not in its checkpoint and start from random values "
            f"(e.g. {', '.join(missing[:3])}). Fix: check it is the encoder you meant; linear-probe "
            "results on it are not those of the pretrained model."
        )
    return model


def _from_config(config: Any) -> nn.Module:
    from transformers import AutoModel

    with _quiet_transformers(), quiet_third_party():
        return AutoModel.from_config(config)


@contextmanager
def _quiet_transformers() -> Iterator[None]:
    """No per-tensor 'Loading weights' bar from transformers (graft prints its own progress)."""
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


def default_adapter_targets(backbone: nn.Module, model_type: str) -> list[str]:
    """The modules LoRA wraps by default: peft's choice for the model type (the attention
    query and value projections for BERT-like encoders, as in the LoRA paper), else every
    linear layer.

    Wrapping every linear layer of MiniLM trains 4.5x more parameters and, on CPU, took
    more memory per training step than full fine-tuning (b3_memory.md): the adapter
    branches' activations outweigh the optimizer state they save on a small model.
    """
    from peft.utils import TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING as defaults

    every = adapter_target_names(backbone)
    endings = defaults.get(model_type) or []
    chosen = [n for n in every if any(n == e or n.endswith(f".{e}") for e in endings)]
    return chosen or every


def _check_encoder(name: str, config: Any) -> None:
    architectures = list(getattr(config, "architectures", None) or [])
    decoder = [a for a in architectures if _DECODER.search(a)]
    if getattr(config, "is_encoder_decoder", False) or decoder:
        what = "a sequence-to-sequence model" if getattr(config, "is_encoder_decoder", False) \
            else f"a decoder-only language model ({decoder[0]})"
        raise ConfigError(
            f"'hf:{name}' is {what}, not an encoder. Allowed: transformers encoders such as BERT, "
            "RoBERTa, MiniLM, DeBERTa or ViT. Fix: pass an encoder checkpoint (e.g. hf:/path/to/bert)."
        )


def _max_length(config: Any, options: ModelOptions) -> int:
    limit = getattr(config, "max_position_embeddings", None)
    wanted = options.max_length or DEFAULT_MAX_LENGTH
    if limit and wanted > int(limit):
        if options.max_length:
            raise ConfigError(
                f"--max-length {wanted} is longer than the model's {limit} positions. "
                f"Fix: pass --max-length {limit} or less."
            )
        wanted = int(limit)
    return int(wanted)


def _drop_pooler(model: nn.Module) -> None:
    # BERT-style poolers are unused by mean/cls pooling; untrained parameters would only
    # inflate counts and break DDP's unused-parameter check.
    if isinstance(getattr(model, "pooler", None), nn.Module):
        model.register_module("pooler", None)


def layer_index_groups(module: nn.Module) -> list[list[str]]:
    """Embeddings, then one group per numbered layer, then the rest (final norms)."""
    before: list[str] = []
    layers: dict[int, list[str]] = {}
    after: list[str] = []
    for name, _ in module.named_parameters():
        match = _LAYER.search(name)
        if match:
            layers.setdefault(int(match.group(1)), []).append(name)
        elif layers:
            after.append(name)
        else:
            before.append(name)
    groups = [before] + [layers[i] for i in sorted(layers)] + [after]
    return [g for g in groups if g]
