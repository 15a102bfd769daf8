"""The aiohttp shell of `mockclaude serve`: the app, the handlers, the scheduler that paces streams,
admin, stats, workers and the `serve` command.

May import every mockclaude layer below it (fixtures, synth, limits, privacy, models, tokens, wire).
Never recorder or replay, and nothing below imports it.
"""
