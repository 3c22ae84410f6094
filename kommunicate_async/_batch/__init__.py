"""High-volume sending: `send_many` / `iter_send` and what makes them durable.

batch.py        `Batch`: one owner of the input, the workers and the results
iterator.py     the consumer's side: the async iterator `iter_send` returns
job.py          one item on its way: fatal errors, checkpoint lines, prep failures
options.py      the batch options (`BatchOptions`), checked once, and dedupe keys
checkpoint.py   the JSONL checkpoint: locked, append-only, torn-line safe
reconcile.py    was a possibly-sent item stored? read history by the server's clock
pacing.py       a client-side pacer: at most `rate` starts per second

A batch that resumes, walked through these modules: docs/internals.md.
"""
