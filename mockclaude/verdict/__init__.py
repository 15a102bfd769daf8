"""The client verdict: how a caller coped with the mock's 429s, overloads and broken streams.

`judge` watches each client's requests and answers and finds what a resilience review of an LLM
client would flag (retry-after ignored, no backoff, retry storms, ...); `table` prints a verdict;
`command` is `mockclaude verdict URL`.

May import: mockclaude.wire, mockclaude.models, mockclaude.tokens. Never synth, limits, privacy,
fixtures or server (the server feeds the judge what it saw).
"""
