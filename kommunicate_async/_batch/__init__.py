"""High-volume sending: `send_many` / `iter_send` and what makes them durable.

batch.py        `Batch`: one owner of the input, the ledger, the workers and the
                results; one send loop per item; how a batch resumes
                (`Batch._resume_in_flight`)
iterator.py     the consumer's side: the async iterator `iter_send` returns
job.py          one item on its way: fatal errors, ledger lines, prep failures
options.py      the batch options (`BatchOptions`), checked once, and dedupe keys
checkpoint.py   the JSONL checkpoint, a ledger with the face of a
                `scaleout.BatchStore`: locked, append-only, torn-line safe
reconcile.py    was a possibly-sent item stored? read history by the server's clock
pacing.py       a client-side pacer: at most `rate` starts per second

Imports point one way: `resources/messages.py` imports this package, which builds on
`_message_wire.py` (the send body, the route, the history reader), never on
`Messages`.

A batch that resumes, walked through these modules: docs/internals.md.
"""
