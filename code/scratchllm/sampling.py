"""Text generation: from next-token logits to a choice, and a KV cache.

    ids -> model -> logits of the last position -> sample_next -> next id
        -> appended, fed back in ... until max_new_tokens or <|endoftext|>

Decoding choices, in sample_next: temperature 0 (greedy: always the most
likely token), temperature (sharper or flatter), top-k (only the k most
likely tokens) and top-p (only the most likely tokens that together hold
probability p; Holtzman et al., 2020).

The KV cache: the keys and values of a token never change once computed
(a token attends only to earlier ones), so generation can keep them and
feed the model one new token per step instead of the whole context again.
cached_forward runs the GPT of scratchllm.model that way, module by module.
"""

import torch
from torch.nn import functional as F

# --- choosing the next token --------------------------------------------------


def top_k_filter(logits, k):
    """Set all but the k largest logits of each row to -inf."""
    kth = torch.topk(logits, min(k, logits.size(-1))).values[..., [-1]]
    return logits.masked_fill(logits < kth, float("-inf"))


def top_p_filter(logits, p):
    """Nucleus filtering (Holtzman et al., 2020): keep the smallest set of
    most likely tokens whose probabilities add up to at least p; set the
    others' logits to -inf.

    Unlike top-k, the number kept adapts: a few tokens when the model is
    sure, many when it is not.  The most likely token is always kept.
    """
    if p >= 1.0:
        return logits  # everything; spares cumsum's rounding a say
    sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
    probs = F.softmax(sorted_logits.float(), dim=-1)
    # A token goes if the more likely ones before it already reach p.
    drop_sorted = probs.cumsum(dim=-1) - probs >= p
    drop = drop_sorted.scatter(-1, order, drop_sorted)  # back to id order
    return logits.masked_fill(drop, float("-inf"))


def sample_next(logits, temperature=1.0, top_k=None, top_p=None,
                generator=None):
    """Choose one token per row of logits (B, vocab_size) -> ids (B, 1).

    temperature == 0 takes the most likely token (greedy decoding).
    Otherwise the logits are divided by temperature (below 1: sharper,
    above 1: flatter), cut by top_k and then top_p, and the softmax sampled
    with `generator` (a torch.Generator: the same seed, the same text).
    """
    if temperature == 0:
        return logits.argmax(dim=-1, keepdim=True)
    logits = logits / temperature
    if top_k is not None:
        logits = top_k_filter(logits, top_k)
    if top_p is not None:
        logits = top_p_filter(logits, top_p)
    probs = F.softmax(logits.float(), dim=-1)
    if generator is not None and generator.device != probs.device:
        # A generator draws on its own device (torch.Generator(): the CPU);
        # the same seed then gives the same text on the CPU and a GPU.
        ids = torch.multinomial(probs.to(generator.device), num_samples=1,
                                generator=generator)
        return ids.to(probs.device)
    return torch.multinomial(probs, num_samples=1, generator=generator)


# --- the KV cache -------------------------------------------------------------


class KVCache:
    """The keys and values of every token seen so far, layer by layer, each
    (B, n_head, length, head_dim), grown by concatenation."""

    def __init__(self, n_layer):
        self.keys = [None] * n_layer
        self.values = [None] * n_layer

    @property
    def length(self):
        """Tokens cached (the position the next token will have)."""
        k = self.keys[0]
        return 0 if k is None else k.size(2)

    def update(self, layer, k, v):
        """Append the new tokens' k, v to `layer`'s; return all of them."""
        if self.keys[layer] is not None:
            k = torch.cat((self.keys[layer], k), dim=2)
            v = torch.cat((self.values[layer], v), dim=2)
        self.keys[layer], self.values[layer] = k, v
        return k, v


def cached_attention(attn, x, cache, layer, positions):
    """The attention of model.FastCausalSelfAttention or of
    attention.CausalSelfAttention (the two share their parameters), for new
    tokens x (B, T, C) at `positions` (T,), after those in the cache."""
    B, T, C = x.size()
    q, k, v = attn.c_attn(x).split(attn.n_embd, dim=2)
    q, k, v = (t.view(B, T, attn.n_head, C // attn.n_head).transpose(1, 2)
               for t in (q, k, v))  # (B, n_head, T, head_dim)
    if attn.rotary is not None:
        # Each token is rotated by its own position, so a cached key keeps
        # the rotation it got when it was new.
        q, k = attn.rotary(q, positions), attn.rotary(k, positions)
    k, v = cache.update(layer, k, v)  # (B, n_head, S, head_dim), S >= T
    # New token i sits at position S - T + i and may see keys 0 .. S - T + i:
    # the causal triangle, shifted right by the S - T cached tokens.
    # (is_causal=True would align the triangle to the top left instead.)
    # A single new token sees every key: no mask at all.
    S = k.size(2)
    mask = None
    if T > 1:
        mask = torch.ones(T, S, dtype=torch.bool, device=x.device)
        mask = mask.tril(diagonal=S - T)
    y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    y = y.transpose(1, 2).contiguous().view(B, T, C)
    return attn.resid_dropout(attn.c_proj(y))


def cached_forward(model, idx, cache):
    """GPT.forward for new tokens idx (B, T) that follow the cache.length
    tokens already in `cache` (which it extends); returns their logits
    (B, T, vocab_size).  With an empty cache it is the ordinary forward.

    It walks the model's own modules, block by block, and differs from
    GPT.forward only in where positions start and in attention.
    """
    tr = model.transformer
    start, T = cache.length, idx.size(1)
    if start + T > model.config.block_size:
        raise ValueError(f"{start} cached + {T} new tokens exceed "
                         f"block_size {model.config.block_size}")
    positions = torch.arange(start, start + T, device=idx.device)
    x = tr.wte(idx)
    if "wpe" in tr:
        x = x + tr.wpe(positions)
    x = tr.drop(x)
    for layer, block in enumerate(tr.h):
        x = x + cached_attention(block.attn, block.ln_1(x), cache, layer,
                                 positions)
        x = x + block.mlp(block.ln_2(x))
    x = tr.ln_f(x)
    return model.lm_head(x)


# --- generation ---------------------------------------------------------------


@torch.no_grad()
def generate(model, idx, max_new_tokens, temperature=1.0, top_k=None,
             top_p=None, eos_id=None, generator=None, use_cache=True):
    """Extend each row of idx (B, T) by up to max_new_tokens tokens chosen
    by sample_next; returns (B, T + n).

    eos_id (the id of <|endoftext|>): a row that produces it is finished,
    and is padded with eos_id while the others go on; generation stops when
    every row is finished.  use_cache=False recomputes the whole context at
    every step, as GPT.generate does: slower, and the same tokens.

    Past block_size tokens the context slides: the model sees the last
    block_size.  Then every token's position shifts at each step and the
    oldest one drops out, so every cached key and value is out of date and
    the cache is rebuilt from the window: only shorter texts gain speed.
    The model runs in eval mode (no dropout) and returns to its old mode.
    """
    block_size = model.config.block_size
    was_training = model.training
    model.eval()
    finished = torch.zeros(idx.size(0), dtype=torch.bool, device=idx.device)
    cache = None
    for _ in range(max_new_tokens):
        if not use_cache:
            logits, _ = model(idx[:, -block_size:])
        elif cache is None or cache.length >= block_size:
            cache = KVCache(len(model.transformer.h))  # fill with the window
            logits = cached_forward(model, idx[:, -block_size:], cache)
        else:
            logits = cached_forward(model, idx[:, -1:], cache)  # one token
        next_id = sample_next(logits[:, -1, :], temperature, top_k, top_p,
                              generator)
        if eos_id is not None:
            next_id = next_id.masked_fill(finished[:, None], eos_id)
            finished |= next_id[:, 0] == eos_id
        idx = torch.cat((idx, next_id), dim=1)
        if eos_id is not None and finished.all():
            break
    model.train(was_training)
    return idx
