"""Scripted answers: rules that match a Messages request and say what to answer (`serve --rules`).

Pure logic, between the parts that plan answers and the server: it may import synth (to build the
answer as a ResponsePlan, so it streams and is paced like a synthetic one), limits (the fault
kinds), tokens and wire; never fixtures, server, recorder or replay.
"""
