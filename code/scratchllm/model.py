"""The GPT, assembled from its parts; read from top to bottom.

    ids (B, T) -> wte (+ wpe) -> drop -> Block x n_layer -> ln_f -> lm_head
        -> logits (B, T, V)
    Block:  x = x + attn(ln_1(x));  x = x + mlp(ln_2(x))   (pre-norm residual)

Out of the box it is GPT-2 (Radford et al., 2019), parameter for parameter
and name for name, so that OpenAI's weights load into it (scratchllm.hf).
A few fields of GPTConfig turn it into a Llama-style model instead:

    norm="rmsnorm"   LayerNorm        -> RMSNorm
    mlp="swiglu"     GELU MLP         -> SwiGLU MLP
    position="rope"  learned wpe      -> rotary embedding of queries and keys
    bias=False, tie_embeddings=False

Attention comes in two forms with the same parameters: the teaching form of
scratchllm.attention, which builds the T x T attention matrix for all to see,
and the fast form below, which hands the same computation to PyTorch's fused
kernel.  GPTConfig.attention picks one.
"""

import math

import torch
import torch.nn as nn
from torch.nn import functional as F

from scratchllm import sampling
from scratchllm.attention import CausalSelfAttention, check_heads, merge_heads
from scratchllm.embeddings import LearnedPositionalEmbedding, RotaryEmbedding


def cached_causal_mask(T, S, device):
    """Which of S keys each of T new queries may see (True: may), when the
    first S - T keys are cached: None when T = 1, since one new token sees
    every key.

    New token i sits at position S - T + i and sees keys 0 .. S - T + i: the
    causal triangle, shifted right by the cached tokens.  (is_causal=True
    would align the triangle to the top left instead.)
    """
    if T == 1:
        return None
    mask = torch.ones(T, S, dtype=torch.bool, device=device)
    return mask.tril(diagonal=S - T)


class FastCausalSelfAttention(nn.Module):
    """The same attention as attention.CausalSelfAttention, by a fused kernel.

    F.scaled_dot_product_attention computes softmax(q k^T / sqrt(d)) v with
    the causal mask, in one call that (on a GPU) never stores the T x T
    matrix: FlashAttention (Dao et al., 2022).  The parameters have the same
    names and shapes as the teaching form's, so weights move between them.
    """

    def __init__(self, config, rotary=None):
        super().__init__()
        check_heads(config)
        self.n_head = config.n_head
        self.n_embd = config.n_embd
        self.dropout = config.dropout
        C, bias = config.n_embd, config.bias
        self.c_attn = nn.Linear(C, 3 * C, bias=bias)
        self.c_proj = nn.Linear(C, C, bias=bias)
        self.resid_dropout = nn.Dropout(config.dropout)
        self.rotary = rotary  # RoPE for queries and keys, or None

    # The same parameters, so the same queries, keys and values.
    heads = CausalSelfAttention.heads

    def forward(self, x, positions=None, cache=None):
        """x (B, T, C) -> (B, T, C); positions and cache as in the teaching
        form's forward."""
        q, k, v = self.heads(x, positions)  # (B, n_head, T, head_dim)
        mask = None  # is_causal=True masks the future
        if cache is not None:
            k, v = cache.update(k, v)  # (B, n_head, S, head_dim), S >= T
            mask = cached_causal_mask(q.size(2), k.size(2), x.device)
        dropout = self.dropout if self.training else 0.0
        y = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, is_causal=cache is None, dropout_p=dropout
        )
        return self.resid_dropout(self.c_proj(merge_heads(y)))


class LayerNorm(nn.Module):
    """LayerNorm with an optional bias (nn.LayerNorm always has one).

    Each token's vector is shifted to mean 0 and scaled to variance 1, then
    multiplied by a learned gain (weight) and shifted by a learned bias.
    """

    def __init__(self, ndim, bias=True, eps=1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(ndim))
        self.bias = nn.Parameter(torch.zeros(ndim)) if bias else None

    def forward(self, x):
        return F.layer_norm(
            x, self.weight.shape, self.weight, self.bias, self.eps
        )


class RMSNorm(nn.Module):
    """Root-mean-square norm (Zhang and Sennrich, 2019), as in Llama.

        y = x / sqrt(mean(x^2) + eps) * weight

    LayerNorm without the mean: no centring and no bias, only a rescaling to
    root-mean-square 1.  Computed in float32 whatever the input's dtype, as
    Llama does, because squares of bfloat16 numbers lose too many digits.
    """

    def __init__(self, ndim, eps=1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(ndim))

    def forward(self, x):
        x32 = x.float()
        ms = x32.pow(2).mean(dim=-1, keepdim=True)  # mean square
        x32 = x32 * torch.rsqrt(ms + self.eps)
        return self.weight * x32.to(x.dtype)


class GELU(nn.Module):
    """GELU, in the tanh approximation GPT-2 was trained with (Hendrycks and
    Gimpel, 2016):

        gelu(x) = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))

    A smooth ReLU: close to 0 for very negative x, close to x for large x.
    """

    def forward(self, x):
        return F.gelu(x, approximate="tanh")


class MLP(nn.Module):
    """GPT-2's feed-forward network: widen 4x, GELU, project back."""

    def __init__(self, config):
        super().__init__()
        hidden = config.n_hidden or 4 * config.n_embd
        self.c_fc = nn.Linear(config.n_embd, hidden, bias=config.bias)
        self.gelu = GELU()
        self.c_proj = nn.Linear(hidden, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x):
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))


def swiglu_hidden(n_embd, multiple_of=256):
    """Llama's default MLP width: 2/3 of 4 * n_embd, rounded up to a multiple
    of 256.  Three matrices of this width hold as many parameters as GPT-2's
    two of width 4 * n_embd."""
    hidden = int(2 * 4 * n_embd / 3)
    return multiple_of * math.ceil(hidden / multiple_of)


class SwiGLU(nn.Module):
    """The gated feed-forward network of Llama (Shazeer, 2020):

        down_proj(silu(gate_proj(x)) * up_proj(x))

    One projection, through SiLU (x * sigmoid(x)), decides how much of each
    hidden unit of the other passes: a gate computed from the input itself.
    """

    def __init__(self, config):
        super().__init__()
        hidden = config.n_hidden or swiglu_hidden(config.n_embd)
        self.gate_proj = nn.Linear(config.n_embd, hidden, bias=config.bias)
        self.up_proj = nn.Linear(config.n_embd, hidden, bias=config.bias)
        self.down_proj = nn.Linear(hidden, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x):
        gated = F.silu(self.gate_proj(x)) * self.up_proj(x)
        return self.dropout(self.down_proj(gated))


def make_norm(config):
    if config.norm == "rmsnorm":
        return RMSNorm(config.n_embd, eps=config.norm_eps)
    return LayerNorm(config.n_embd, bias=config.bias, eps=config.norm_eps)


class Block(nn.Module):
    """One transformer layer: attention, then MLP, each on a normalised copy
    of the residual stream x, each adding its result back into x.

    Normalising before each sublayer (pre-norm, GPT-2's change to the
    original Transformer) leaves the path x -> x + ... -> x + ... untouched,
    so the gradient reaches the first layer undiminished.
    """

    def __init__(self, config, rotary=None):
        super().__init__()
        teaching = config.attention == "teaching"
        Attention = CausalSelfAttention if teaching else FastCausalSelfAttention
        self.ln_1 = make_norm(config)
        self.attn = Attention(config, rotary=rotary)
        self.ln_2 = make_norm(config)
        self.mlp = SwiGLU(config) if config.mlp == "swiglu" else MLP(config)

    def forward(self, x, positions=None, cache=None):
        # Tokens exchange information, then each thinks on its own.
        x = x + self.attn(self.ln_1(x), positions, cache)
        x = x + self.mlp(self.ln_2(x))
        return x


# The projections that write into the residual stream; see GPT._init_weights.
RESIDUAL_PROJECTIONS = ("c_proj.weight", "down_proj.weight")


class GPT(nn.Module):
    """A decoder-only transformer language model: token ids in, logits out."""

    def __init__(self, config):
        super().__init__()
        self.config = config
        head_dim = config.n_embd // config.n_head
        # One rotary table shared by every layer (it has nothing to learn).
        rotary = None
        if config.position == "rope":
            rotary = RotaryEmbedding(
                head_dim, config.block_size, base=config.rope_base
            )
        layers = range(config.n_layer)
        parts = dict(
            wte=nn.Embedding(config.vocab_size, config.n_embd),
            drop=nn.Dropout(config.dropout),
            h=nn.ModuleList([Block(config, rotary) for _ in layers]),
            ln_f=make_norm(config),
        )
        self.transformer = nn.ModuleDict(parts)
        if config.position == "learned":
            self.transformer.wpe = LearnedPositionalEmbedding(
                config.block_size, config.n_embd
            )
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        if config.tie_embeddings:
            # Weight tying (Press and Wolf, 2017): one matrix maps ids to
            # vectors and, transposed, vectors to logits.  GPT-2 does this;
            # it saves vocab_size * n_embd parameters (38.6M in GPT-2 small).
            self.transformer.wte.weight = self.lm_head.weight

        self.apply(self._init_weights)
        # GPT-2's scaled initialisation: each layer adds two projections into
        # the residual stream, whose variance would grow with 2 * n_layer
        # terms; shrinking their std by 1/sqrt(2 * n_layer) undoes that.
        for name, p in self.named_parameters():
            if name.endswith(RESIDUAL_PROJECTIONS):
                std = 0.02 / math.sqrt(2 * config.n_layer)
                nn.init.normal_(p, mean=0.0, std=std)

    def _init_weights(self, module):
        # GPT-2: every weight matrix and embedding N(0, 0.02), biases 0
        # (norm gains keep their initial 1).
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def hidden_states(self, idx, cache=None):
        """idx (B, T) token ids -> (B, T, C): each position's vector after the
        last block and ln_f, the input of lm_head (and of a classifier's
        head, scratchllm.classify).  cache as in forward."""
        T = idx.size(1)
        start = 0 if cache is None else cache.length
        if start + T > self.config.block_size:
            raise ValueError(
                f"sequence of length {start + T} is longer than "
                f"block_size {self.config.block_size}"
            )
        positions = torch.arange(start, start + T, device=idx.device)
        x = self.transformer.wte(idx)  # (B, T, C)
        if "wpe" in self.transformer:
            x = x + self.transformer.wpe(positions)  # (T, C), for every row
        x = self.transformer.drop(x)
        for i, block in enumerate(self.transformer.h):
            x = block(x, positions, None if cache is None else cache.layers[i])
        return self.transformer.ln_f(x)

    def forward(self, idx, targets=None, cache=None):
        """idx: (B, T) token ids; targets: (B, T) next-token ids or None
        (-1 marks a position to ignore).  Returns (logits (B, T, vocab_size),
        mean cross-entropy loss or None).

        cache (a sampling.KVCache, for generation): the keys and values of
        the tokens before idx, which this call extends; positions then start
        at cache.length instead of 0.
        """
        logits = self.lm_head(self.hidden_states(idx, cache))  # (B, T, V)
        loss = None
        if targets is not None:
            flat = logits.view(-1, logits.size(-1))
            loss = F.cross_entropy(flat, targets.reshape(-1), ignore_index=-1)
        return logits, loss

    def num_params(self, non_embedding=True):
        """Number of parameters, each shared tensor counted once.

        non_embedding=True leaves out the token and position embedding tables,
        as Kaplan et al. (2020) count N for their scaling laws; lm_head stays
        in when it has a matrix of its own.  With tied embeddings the shared
        matrix is then left out, though it also serves as lm_head.
        """
        # parameters() yields a shared tensor once
        n = sum(p.numel() for p in self.parameters())
        if non_embedding:
            n -= self.transformer.wte.weight.numel()
            if "wpe" in self.transformer:
                n -= self.transformer.wpe.weight.numel()
        return n

    def flops_per_token(self, T=None):
        """Floating-point operations to train on one token (forward and
        backward) with a context of T tokens (default block_size):

            6 N + 12 L H Q T

        (PaLM, Chowdhery et al., 2022, appendix B; nanoGPT's estimate_mfu).
        A matrix multiply does 2 FLOPs (multiply, add) per weight per token
        forward, and the backward pass twice that, for the gradients with
        respect to the input and to the weight: 6 per weight.  N counts the
        weights that are multiplied: num_params() plus the output layer,
        vocab_size * n_embd, which multiplies whether or not it is tied (the
        embedding lookup multiplies nothing).  The second term is attention
        itself, which has no weights: q k^T and att v take 2 * T * Q FLOPs
        each per head per token forward, so 3 * 2 * 2 * T * Q * H per layer
        for L layers of H heads of size Q.  It counts the full T x T matrix,
        the causal half that is masked included, and ignores the softmax,
        norms and other element-wise work.
        """
        cfg = self.config
        T = cfg.block_size if T is None else T
        N = self.num_params(non_embedding=True)
        # The shared matrix, counted out above, multiplies as lm_head.
        if cfg.tie_embeddings:
            N += self.lm_head.weight.numel()
        L, H, Q = cfg.n_layer, cfg.n_head, cfg.n_embd // cfg.n_head
        return 6 * N + 12 * L * H * Q * T

    def generate(
        self, idx, max_new_tokens, temperature=1.0, top_k=None, generator=None
    ):
        """Extend each row of idx (B, T) by max_new_tokens sampled tokens,
        one at a time, each fed back in; returns (B, T + max_new_tokens).

        The logits of the last position, divided by temperature (below 1:
        sharper, above 1: flatter), optionally cut to the top_k most likely
        tokens, become a distribution to sample from; generator (a
        torch.Generator) makes the draws repeatable.  Only the last
        block_size tokens are fed in: the model has no positions beyond.

        This is sampling.generate without its KV cache (each step runs the
        whole context again), which also knows top-p and an end token.
        """
        return sampling.generate(
            self,
            idx,
            max_new_tokens,
            temperature=temperature,
            top_k=top_k,
            generator=generator,
            use_cache=False,
        )
