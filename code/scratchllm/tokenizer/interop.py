"""Hand our merges to tiktoken, OpenAI's Rust tokenizer, to check our
encoder against it and to encode fast.

tiktoken stores no merge list, only ``mergeable_ranks``: each token's bytes
and its id.  To encode a pre-token it repeatedly joins the adjacent pair of
parts whose joined bytes have the lowest rank.  Our ids are ranks already
(merge k made id 256 + k, so a token is always ranked after the two it is
made of), which is why the same merges give the same ids.  tiktoken is a
dev dependency only, so it is imported where it is used.
"""

from .base import Tokenizer


def mergeable_ranks(tokenizer: Tokenizer) -> dict[bytes, int]:
    """{token bytes: id} for the 256 bytes and every merge, without the
    special tokens (tiktoken takes those separately)."""
    ranks = {tokenizer.vocab[i]: i for i in range(256 + len(tokenizer.merges))}
    if len(ranks) != 256 + len(tokenizer.merges):
        # Two merges that spell the same bytes would share a key and one id
        # would be lost; say so rather than export a tokenizer that differs.
        raise ValueError(
            "two tokens have the same bytes: not expressible as tiktoken ranks"
        )
    return ranks


def to_tiktoken(tokenizer: Tokenizer, name: str = "scratchllm"):
    """A ``tiktoken.Encoding`` with our pattern, merges and special tokens
    (built locally: nothing is downloaded)."""
    import tiktoken

    return tiktoken.Encoding(
        name=name,
        pat_str=tokenizer.pattern,
        mergeable_ranks=mergeable_ranks(tokenizer),
        special_tokens=dict(tokenizer.special_tokens),
    )
