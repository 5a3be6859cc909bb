"""Text generation: from next-token logits to a choice, and a KV cache.

    ids -> model -> logits of the last position -> sample_next -> next id
        -> appended, fed back in ... until max_new_tokens or <|endoftext|>

stream yields each new id as it is chosen (a chat prints it at once);
generate collects them.

Decoding choices, in sample_next: temperature 0 (greedy: always the most
likely token), temperature (sharper or flatter), top-k (only the k most
likely tokens) and top-p (only the most likely tokens that together hold
probability p; Holtzman et al., 2020).

The KV cache: the keys and values of a token never change once computed
(a token attends only to earlier ones), so generation can keep them and
feed the model one new token per step instead of the whole context again.
KVCache holds them; GPT.forward(idx, cache=cache) runs the model that way.
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


def next_token_probs(logits, temperature=1.0, top_k=None, top_p=None):
    """The distribution sample_next draws from: logits (B, vocab_size) ->
    probabilities (B, vocab_size), float32.

    temperature == 0 puts all the probability on the most likely token
    (greedy decoding).  Otherwise the logits are divided by temperature
    (below 1: sharper, above 1: flatter), cut by top_k and then top_p, and
    turned into probabilities by the softmax.
    """
    if temperature == 0:
        best = logits.argmax(dim=-1, keepdim=True)
        return torch.zeros_like(logits, dtype=torch.float32).scatter(
            -1, best, 1.0
        )
    logits = logits / temperature
    if top_k is not None:
        logits = top_k_filter(logits, top_k)
    if top_p is not None:
        logits = top_p_filter(logits, top_p)
    return F.softmax(logits.float(), dim=-1)


def sample_next(
    logits, temperature=1.0, top_k=None, top_p=None, generator=None
):
    """Choose one token per row of logits (B, vocab_size) -> ids (B, 1),
    drawn from next_token_probs with `generator` (a torch.Generator: the
    same seed, the same text); temperature == 0 takes the most likely.
    """
    if temperature == 0:
        return logits.argmax(dim=-1, keepdim=True)
    probs = next_token_probs(logits, temperature, top_k, top_p)
    if generator is not None and generator.device != probs.device:
        # A generator draws on its own device (torch.Generator(): the CPU);
        # the same seed then gives the same text on the CPU and a GPU.
        ids = torch.multinomial(
            probs.to(generator.device), num_samples=1, generator=generator
        )
        return ids.to(probs.device)
    return torch.multinomial(probs, num_samples=1, generator=generator)


# --- the KV cache -------------------------------------------------------------


class LayerCache:
    """One layer's keys and values of every token seen so far, each
    (B, n_head, length, head_dim), grown by concatenation."""

    def __init__(self):
        self.k = self.v = None

    @property
    def length(self):
        return 0 if self.k is None else self.k.size(2)

    def update(self, k, v):
        """Append the new tokens' k, v to the cached ones; return them all."""
        if self.k is not None:
            k = torch.cat((self.k, k), dim=2)
            v = torch.cat((self.v, v), dim=2)
        self.k, self.v = k, v
        return k, v


class KVCache:
    """A LayerCache for each of n_layer layers; GPT.forward(idx, cache=...)
    hands layer i its own and extends them all by idx."""

    def __init__(self, n_layer):
        self.layers = [LayerCache() for _ in range(n_layer)]

    @property
    def length(self):
        """Tokens cached (the position the next token will have)."""
        return self.layers[0].length


# --- generation ---------------------------------------------------------------


@torch.no_grad()
def stream(
    model,
    idx,
    max_new_tokens,
    temperature=1.0,
    top_k=None,
    top_p=None,
    stop_ids=None,
    generator=None,
    use_cache=True,
):
    """Extend each row of idx (B, T) by up to max_new_tokens tokens chosen
    by sample_next, yielding each step's new ids (B, 1) as soon as they
    are chosen: a chat shows the answer while it is being written.

    stop_ids (an id, or a list of ids: <|endoftext|>, <|end|>): a row that
    produces one is finished, and repeats that id while the others go on;
    the stream ends when every row is finished.  use_cache=False recomputes
    the whole context at every step, as GPT.generate does: slower, and the
    same tokens.

    Past block_size tokens the context slides: the model sees the last
    block_size.  Then every token's position shifts at each step and the
    oldest one drops out, so every cached key and value is out of date and
    the cache is rebuilt from the window: only shorter texts gain speed.
    The model runs in eval mode (no dropout) and returns to its old mode,
    also when the caller stops reading early.
    """
    block_size = model.config.block_size
    stops = None
    if stop_ids is not None:
        stops = torch.as_tensor(stop_ids, device=idx.device).flatten()
    finished = torch.zeros(idx.size(0), dtype=torch.bool, device=idx.device)
    cache = None
    was_training = model.training
    model.eval()
    try:
        for _ in range(max_new_tokens):
            if not use_cache:
                logits, _ = model(idx[:, -block_size:])
            elif cache is None or cache.length >= block_size:
                # (Re)fill the cache with the window.
                cache = KVCache(model.config.n_layer)
                logits, _ = model(idx[:, -block_size:], cache=cache)
            else:
                logits, _ = model(idx[:, -1:], cache=cache)  # one new token
            next_id = sample_next(
                logits[:, -1, :], temperature, top_k, top_p, generator
            )
            if stops is not None:
                # A finished row's last token is its stop id: repeat it.
                next_id = torch.where(finished[:, None], idx[:, -1:], next_id)
                finished |= (next_id == stops).any(dim=-1)
            idx = torch.cat((idx, next_id), dim=1)
            yield next_id
            if stops is not None and finished.all():
                return
    finally:
        model.train(was_training)


def generate(
    model,
    idx,
    max_new_tokens,
    temperature=1.0,
    top_k=None,
    top_p=None,
    eos_id=None,
    generator=None,
    use_cache=True,
):
    """idx (B, T) with the tokens stream chooses appended: (B, T + n).

    eos_id (the id of <|endoftext|>, or a list of ids): a row that produces
    it is finished, and is padded with it while the others go on;
    generation stops when every row is finished.  use_cache and the sliding context window: as in stream.
    """
    new = []
    for next_id in stream(
        model,
        idx,
        max_new_tokens,
        temperature,
        top_k,
        top_p,
        eos_id,
        generator,
        use_cache,
    ):
        new.append(next_id)
    return torch.cat((idx, *new), dim=1)
