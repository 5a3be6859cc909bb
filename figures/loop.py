"""The training loop as a cycle of its four moves, drawn from a real
Trainer: its batch, its model's size, its clipping limit and schedule."""

from figures.tikz import TikZPicture, _count

_STYLES = r"""
  every node/.style={font=\small, align=center},
  move/.style={draw=houseblue, fill=houseblue!12, rounded corners=2pt,
               minimum width=44mm, minimum height=11mm, inner sep=2pt},
  state/.style={draw=housegray, fill=houselight!50, rounded corners=2pt,
                minimum width=30mm, minimum height=9mm, inner sep=2pt},
  note/.style={font=\footnotesize, text=housegray},
  flow/.style={->, >={Stealth[length=2mm]}, draw=housegray!80!black, thick},
  feed/.style={->, >={Stealth[length=1.6mm]}, draw=housegray, dashed}
"""


def training_loop_diagram(trainer, train_tokens):
    """One optimizer step of ``trainer`` (a scratchllm.train.Trainer) as a
    cycle: batch, forward and loss, backward and clip, AdamW update; the
    data (train_tokens, the array the trainer draws from) feeds it from
    above, the learning-rate schedule from below."""
    c = trainer.config
    n = sum(p.numel() for p in trainer.raw_model.parameters())
    clip = f"clip the norm to {c.grad_clip:g}" if c.grad_clip else "no clipping"
    body = rf"""
\node[move] (batch) {{take a batch\\
  {{\footnotesize $x, y$: ${c.batch_size} \times {c.block_size}$ token ids}}}};
\node[move, right=16mm of batch] (loss) {{forward, loss\\
  {{\footnotesize cross-entropy of the ${c.batch_size * c.block_size}$ targets}}}};
\node[move, below=13mm of loss] (backward) {{backward, clip\\
  {{\footnotesize gradients of {_count(n)} weights; {clip}}}}};
\node[move, below=13mm of batch] (update) {{update\\
  {{\footnotesize AdamW, decay {c.weight_decay:g}, at the step's rate}}}};
\node[state, above=9mm of batch] (data) {{training tokens\\
  {{\footnotesize {_count(len(train_tokens))}}}}};
\node[state, below=9mm of update] (lr) {{\texttt{{cosine\_lr}}\\
  {{\footnotesize peak {c.max_lr:g}, warmup {c.warmup_steps}}}}};
\draw[flow] (batch) -- (loss);
\draw[flow] (loss) -- (backward);
\draw[flow] (backward) -- (update);
\draw[flow] (update) -- node[note, left] {{step + 1, up to {_count(c.max_steps)}}} (batch);
\draw[feed] (data) -- node[note, right] {{random windows}} (batch);
\draw[feed] (lr) -- node[note, right] {{the step's rate}} (update);
"""
    return TikZPicture(body, _STYLES)
